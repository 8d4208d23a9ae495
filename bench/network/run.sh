#!/usr/bin/env bash
# Network benchmarks (hoist inside a network namespace of its own, made by
# unshare --net, so nothing touches the host's interfaces or rules):
#   run --rm busybox true   default network (bridge transport) vs --network
#                           none, and the slirp4netns transport, beside
#                           docker's default and --network none
#   TCP container -> container  512 MiB through busybox nc: hoist's bridge
#                           (by address on one network) vs slirp4netns (each
#                           side through its slirp4netns and a published port)
#   TCP host -> published port  512 MiB from 127.0.0.1 (the ports proxy vs
#                           slirp4netns's port forwarding)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
if [ "${HOIST_BENCH_NETNS:-}" != 1 ]; then
	# docker's numbers, on the host's engine, then hoist's in a netns.
	if docker_up; then
		docker image inspect bench/busybox:latest >/dev/null 2>&1 || docker import "$BENCH_CACHE/busybox.tar" bench/busybox:latest >/dev/null
		docker run --rm bench/busybox true >/dev/null 2>&1 || true # warm
		export DOCKER_RUN=$(median_of docker run --rm bench/busybox true)
		export DOCKER_RUN_NONE=$(median_of docker run --rm --network none bench/busybox true)
	fi
	exec env HOIST_BENCH_NETNS=1 unshare --net -- "$0" "$@"
fi
ip link set lo up
# An "outside" address of the namespace (slirp4netns reaches published
# ports of the other container through it).
ip link add outside0 type bridge && ip addr add 192.0.2.1/24 dev outside0 && ip link set outside0 up
work=$(mktemp -d /var/tmp/hoist-bench-net.XXXXXX)
root=$work/root
H() { "$HOIST" --root "$root" "$@"; }
cleanup() {
	H ps -aq 2>/dev/null | xargs -r "$HOIST" --root "$root" rm -f >/dev/null 2>&1 || true
	H network prune -f >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
H import "$BENCH_CACHE/busybox.tar" bench/busybox:latest >/dev/null
export HOIST_NETWORK_TRANSPORT=bridge
H run --rm bench/busybox true # warm: the bridge's first set-up
hb=$(median_of "$HOIST" --root "$root" run --rm bench/busybox true)
hn=$(median_of "$HOIST" --root "$root" run --rm --network none bench/busybox true)
hs=$(HOIST_NETWORK_TRANSPORT=slirp4netns median_of "$HOIST" --root "$root" run --rm bench/busybox true)
result network "run --rm true, default network (bridge)" "$hb" docker "${DOCKER_RUN:-fail}"
result network "run --rm true, --network none" "$hn" docker-none "${DOCKER_RUN_NONE:-fail}"
result network "run --rm true, bridge vs slirp4netns" "$hb" hoist-slirp "$hs"

MB=512
# listening: waits until the server container listens on 5001.
listening() {
	for i in $(seq 200); do
		H exec bench-srv sh -c 'netstat -ltn | grep -q ":5001 "' && return 0
		sleep 0.05
	done
	return 1
}
# tcp SERVER-ARGS -- CLIENT-ARGS -- TARGET: seconds to send $MB MiB from a
# client container to a server container listening on 5001 at TARGET.
tcp() {
	local sargs=() cargs=() target start end
	while [ "$1" != -- ]; do sargs+=("$1"); shift; done
	shift
	while [ "$1" != -- ]; do cargs+=("$1"); shift; done
	target=$2
	H rm -f bench-srv >/dev/null 2>&1 || true
	H run -d --name bench-srv "${sargs[@]}" bench/busybox sh -c 'sleep 1000 | nc -l -p 5001 >/dev/null' >/dev/null
	[ "$target" = SRV ] && target=$(H inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' bench-srv)
	H rm -f bench-cli >/dev/null 2>&1 || true
	H run -d --name bench-cli "${cargs[@]}" bench/busybox sleep 600 >/dev/null
	listening
	start=$(date +%s.%N)
	H exec bench-cli sh -c "dd if=/dev/zero bs=1048576 count=$MB 2>/dev/null | nc $target 5001" >/dev/null
	end=$(date +%s.%N)
	H rm -f bench-srv bench-cli >/dev/null 2>&1 || true
	python3 -c "print('%.3f' % ($end-$start))"
}
# host -> published port: seconds to send $MB MiB from the namespace's
# 127.0.0.1 to a container's published port.
hostpub() {
	local start end
	H rm -f bench-srv >/dev/null 2>&1 || true
	H run -d --name bench-srv "$@" -p 5002:5001 bench/busybox sh -c 'sleep 1000 | nc -l -p 5001 >/dev/null' >/dev/null
	listening
	start=$(date +%s.%N)
	dd if=/dev/zero bs=1048576 count=$MB 2>/dev/null | busybox nc 127.0.0.1 5002
	end=$(date +%s.%N)
	H rm -f bench-srv >/dev/null 2>&1 || true
	python3 -c "print('%.3f' % ($end-$start))"
}
H network create bench-net >/dev/null
tb=$(tcp --network bench-net -- --network bench-net -- SRV)
ts=$(HOIST_NETWORK_TRANSPORT=slirp4netns tcp -p 5001:5001 -- -- 192.0.2.1)
result network "TCP ctr->ctr ${MB}MiB (s): bridge vs slirp4netns" "$tb" hoist-slirp "$ts"
pb=$(hostpub)
ps=$(HOIST_NETWORK_TRANSPORT=slirp4netns hostpub)
result network "TCP 127.0.0.1->published ${MB}MiB (s): proxy vs slirp" "$pb" hoist-slirp "$ps"
echo "throughput MiB/s: ctr->ctr bridge $(python3 -c "print(round($MB/$tb))") slirp4netns $(python3 -c "print(round($MB/$ts))"); host->published proxy $(python3 -c "print(round($MB/$pb))") slirp4netns $(python3 -c "print(round($MB/$ps))")" >&2
