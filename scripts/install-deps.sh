#!/usr/bin/env bash
# Installs what hoist's tests, demo and benchmarks use, and starts the docker
# engine the interop tests compare against. Idempotent.
#   Debian packages: runc crun (OCI runtimes), busybox-static (base images),
#   skopeo umoci docker.io podman buildah docker-registry (peers for interop),
#   apache2-utils (htpasswd), slirp4netns (container networking), uidmap
#   (newuidmap/newgidmap for rootless hoist), fuse-overlayfs fuse3 (rootless
#   overlay where the kernel's cannot be mounted in a user namespace), xz-utils
#   zstd bzip2 (archive formats), debootstrap (debian fixture), python3-seccomp
#   (libseccomp itself, which the seccomp compiler is checked against),
#   python3-docker (docker-py, the Python SDK the API server is driven with),
#   nodejs npm when no npm is installed (dockerode, the Node SDK, from npm),
#   wrk hyperfine (benchmarks); versitygw from the Go module proxy (S3 server
#   for tests).
#
# With --runtime only what hoist itself needs at run time and the demo
# uses (make demo): runc crun slirp4netns uidmap fuse-overlayfs fuse3
# busybox-static curl; no peers, no engine started.
set -euo pipefail
runtime_pkgs=(runc crun slirp4netns uidmap fuse-overlayfs fuse3 busybox-static curl)
pkgs=("${runtime_pkgs[@]}" skopeo umoci apache2-utils docker-registry xz-utils zstd bzip2
	debootstrap docker.io podman buildah wrk hyperfine python3-seccomp python3-docker)
# The Node SDK test's npm: Debian's, unless a node with npm is installed
# (a nodesource nodejs ships its own and conflicts with Debian's npm).
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
runtime_only=
if [ "${1:-}" = --runtime ]; then
	runtime_only=1
	pkgs=("${runtime_pkgs[@]}")
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: need root to install: ${missing[*]}" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ -n "$runtime_only" ]; then
	go mod download
	[ "$(id -u)" = 0 ] || exit 0
	[ -c /dev/net/tun ] && chmod 0666 /dev/net/tun
	[ -c /dev/fuse ] && chmod 0666 /dev/fuse
	exit 0
fi
go mod download
# versitygw (Versity's S3 gateway): the S3 server the registry's S3 tests and
# benchmarks start on 127.0.0.1 with its posix backend.
if ! command -v versitygw >/dev/null 2>&1; then
	echo "install-deps: installing versitygw v1.8.0"
	GOBIN=/usr/local/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi

[ "$(id -u)" = 0 ] || exit 0
# Rootless containers' networks (slirp4netns) open /dev/net/tun as the
# user: 0666, as Debian's udev rules make it (hosts without udev leave 0600).
[ -c /dev/net/tun ] && chmod 0666 /dev/net/tun
# fuse-overlayfs (rootless hoist's fallback overlay) opens /dev/fuse as the
# user: 0666, as Debian's udev rules make it.
[ -c /dev/fuse ] && chmod 0666 /dev/fuse
# podman/buildah: runc and cgroupfs (no systemd on these machines).
mkdir -p /etc/containers
if ! grep -q '^cgroup_manager' /etc/containers/containers.conf 2>/dev/null; then
	cat >>/etc/containers/containers.conf <<'CONF'
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi
# The docker engine (20.10 from Debian), without touching the host network.
if ! timeout 5 docker info >/dev/null 2>&1; then
	echo "install-deps: starting dockerd"
	nohup dockerd --iptables=false --bridge=none >/var/log/hoist-dockerd.log 2>&1 &
	for _ in $(seq 1 60); do timeout 5 docker info >/dev/null 2>&1 && break; sleep 1; done
	timeout 5 docker info >/dev/null 2>&1 || echo "install-deps: dockerd did not start; docker interop tests will skip (see /var/log/hoist-dockerd.log)" >&2
fi
