#!/usr/bin/env bash
# Installs and starts the peers the benchmarks compare against.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for p in docker.io podman buildah skopeo docker-registry wrk hyperfine debootstrap busybox-static runc crun; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
# podman/buildah: runc and cgroupfs (no systemd here).
mkdir -p /etc/containers
if ! grep -q 'cgroup_manager' /etc/containers/containers.conf 2>/dev/null; then
	cat >>/etc/containers/containers.conf <<'CONF'
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi
if ! timeout 5 docker info >/dev/null 2>&1; then
	nohup dockerd --iptables=false --bridge=none >/var/log/hoist-bench-dockerd.log 2>&1 &
	for _ in $(seq 1 30); do timeout 5 docker info >/dev/null 2>&1 && break; sleep 1; done
fi
timeout 5 docker info >/dev/null 2>&1 || { echo "peers: dockerd did not start (see /var/log/hoist-bench-dockerd.log)" >&2; exit 1; }
