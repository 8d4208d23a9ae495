#!/usr/bin/env bash
# Network benchmarks, hoist beside docker on its bridge, in one run. Each
# engine has a network namespace of its own, so nothing touches the
# host's interfaces or rules: docker is a private dockerd (its bridge and
# iptables, own --data-root and --exec-root) started under unshare --net
# --mount; hoist runs under unshare --net. The docker client reaches the
# private dockerd through its socket.
#   run --rm busybox true   hoist's default network (bridge transport),
#                           --network none and slirp4netns, docker's bridge
#                           and --network none: paired runs (A B A B ...),
#                           medians and the median of the pair ratios
#   TCP container -> container  512 MiB: busybox nc (1 KiB reads and
#                           writes: the tool's bound, not the network's) and
#                           python3 with 1 MiB writes run in the two
#                           containers' network namespaces (the datapath,
#                           median of 3): hoist's bridge, slirp4netns,
#                           docker's bridge
#   TCP 127.0.0.1 -> published port  512 MiB, python3, median of 3
#                           (hoist's proxy, slirp4netns, docker-proxy)
# BENCH_PAIRS (default 20) is the number of pairs of runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
PAIRS=${BENCH_PAIRS:-20}
MB=512

if [ "${1:-}" = --dockerd ]; then
	# The private dockerd, in its own network and mount namespaces.
	d=$2
	mount --make-rprivate /
	ip link set lo up
	for p in /var/run/docker /run/containerd; do [ -d $p ] && mount -t tmpfs tmpfs $p; done
	exec dockerd --data-root "$d/data" --exec-root "$d/exec" -H "unix://$d/docker.sock" \
		--pidfile "$d/docker.pid" >"$d/dockerd.log" 2>&1
fi

if [ "${HOIST_BENCH_NETNS:-}" != 1 ]; then
	dwork=$(mktemp -d /var/tmp/hoist-bench-dockerd.XXXXXX)
	stop_dockerd() {
		if [ -n "${dpid:-}" ]; then
			docker -H "unix://$dwork/docker.sock" ps -aq 2>/dev/null | xargs -r docker -H "unix://$dwork/docker.sock" rm -f >/dev/null 2>&1 || true
			[ -f "$dwork/docker.pid" ] && kill "$(cat "$dwork/docker.pid")" 2>/dev/null
			wait "$dpid" 2>/dev/null || true
		fi
		rm -rf "$dwork"
	}
	trap stop_dockerd EXIT
	if have dockerd && have docker; then
		unshare --net --mount --fork -- "$0" --dockerd "$dwork" &
		dpid=$!
		for i in $(seq 120); do
			docker -H "unix://$dwork/docker.sock" version >/dev/null 2>&1 && break
			sleep 0.5
		done
		if docker -H "unix://$dwork/docker.sock" import "$BENCH_CACHE/busybox.tar" bench/busybox:latest >/dev/null; then
			export BENCH_DOCKER="docker -H unix://$dwork/docker.sock"
			export BENCH_DOCKERD_NETNS=/proc/$(cat "$dwork/docker.pid")/ns/net
		else
			echo "private dockerd did not start (see $dwork/dockerd.log): no docker figures" >&2
		fi
	fi
	HOIST_BENCH_NETNS=1 unshare --net -- "$0" "$@"
	exit
fi

ip link set lo up
# An "outside" address of the namespace (slirp4netns reaches published
# ports of the other container through it).
ip link add outside0 type bridge && ip addr add 192.0.2.1/24 dev outside0 && ip link set outside0 up
work=$(mktemp -d /var/tmp/hoist-bench-net.XXXXXX)
root=$work/root
H() { "$HOIST" --root "$root" "$@"; }
D() { $BENCH_DOCKER "$@"; }
cleanup() {
	H ps -aq 2>/dev/null | xargs -r "$HOIST" --root "$root" rm -f >/dev/null 2>&1 || true
	H network prune -f >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
H import "$BENCH_CACHE/busybox.tar" bench/busybox:latest >/dev/null
export HOIST_NETWORK_TRANSPORT=bridge
H run --rm bench/busybox true # warm: the bridge's first set-up
[ -n "${BENCH_DOCKER:-}" ] && D run --rm bench/busybox true

# paired NAME 'A' 'B': runs A and B in turn PAIRS times (after one warm-up
# each) and prints "medianA medianB median(A/B)" in seconds.
paired() {
	local a=$1 b=$2 i s m e ta=() tb=()
	eval "$a" >/dev/null 2>&1 && eval "$b" >/dev/null 2>&1 || { echo "fail fail fail"; return; }
	for ((i = 0; i < PAIRS; i++)); do
		s=$(date +%s%N)
		eval "$a" >/dev/null 2>>"${BENCH_LOG:-/dev/null}" || { echo "fail fail fail"; return; }
		m=$(date +%s%N)
		eval "$b" >/dev/null 2>>"${BENCH_LOG:-/dev/null}" || { echo "fail fail fail"; return; }
		e=$(date +%s%N)
		ta+=($((m - s))) tb+=($((e - m)))
	done
	python3 -c 'import statistics as s, sys
n = len(sys.argv) // 2
a = [int(x) / 1e9 for x in sys.argv[1:n + 1]]
b = [int(x) / 1e9 for x in sys.argv[n + 1:]]
print("%.4f %.4f %.3f" % (s.median(a), s.median(b), s.median(x / y for x, y in zip(a, b))))' "${ta[@]}" "${tb[@]}"
}
ratios=()
# compare WHAT PEER 'A' 'B': a RESULT line (medians) and the paired ratio.
compare() {
	local what=$1 peer=$2 r
	r=($(paired "$3" "$4"))
	result network "$what" "${r[0]}" "$peer" "${r[1]}"
	ratios+=("$(printf '%-52s %8s %8s %7s' "$what vs $peer" "${r[0]}" "${r[1]}" "${r[2]}")")
}
hb="H run --rm bench/busybox true"
hn="H run --rm --network none bench/busybox true"
hs="HOIST_NETWORK_TRANSPORT=slirp4netns H run --rm bench/busybox true"
compare "run --rm true, bridge" hoist-none "$hb" "$hn"
if [ -n "${BENCH_DOCKER:-}" ]; then
	db="D run --rm bench/busybox true"
	dn="D run --rm --network none bench/busybox true"
	compare "run --rm true, bridge" docker-bridge "$hb" "$db"
	compare "run --rm true, --network none" docker-none "$hn" "$dn"
	compare "run --rm true, docker bridge" docker-none "$db" "$dn"
fi
compare "run --rm true, bridge" hoist-slirp "$hb" "$hs"

# listening ENGINE: waits until the server container listens on 5001.
listening() {
	for i in $(seq 200); do
		$1 exec bench-srv sh -c 'netstat -ltn | grep -q ":5001 "' && return 0
		sleep 0.05
	done
	return 1
}
# secs CMD...: wall seconds of the command.
secs() {
	local s e
	s=$(date +%s%N)
	"$@" >/dev/null
	e=$(date +%s%N)
	python3 -c "print('%.3f' % (($e - $s) / 1e9))"
}
# py_recv / py_send HOST PORT: receive / send $MB MiB with 1 MiB buffers.
py_recv='import socket,sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1); print("ready", flush=True)
c, _ = s.accept()
while c.recv(1 << 20): pass'
py_send='import socket,sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2]))); b = bytes(1 << 20)
for i in range(int(sys.argv[3])): s.sendall(b)
s.close()'
# pysend NETNS-OF-SERVER PORT NETNS-OF-CLIENT HOST PORT: seconds for $MB
# MiB from python in the client's namespace to python in the server's.
pysend() {
	local srvns=$1 sport=$2 clins=$3 host=$4 port=$5 fifo=$work/ready t
	rm -f "$fifo" && mkfifo "$fifo"
	timeout 300 nsenter --net="$srvns" python3 -c "$py_recv" "$sport" >"$fifo" &
	read -r _ <"$fifo"
	t=$(secs timeout 300 nsenter --net="$clins" python3 -c "$py_send" "$host" "$port" "$MB")
	wait
	echo "$t"
}
# pysend3 ARGS...: the median of three pysend.
pysend3() {
	python3 -c 'import statistics, sys; print("%.3f" % statistics.median(map(float, sys.argv[1:])))' \
		"$(pysend "$@")" "$(pysend "$@")" "$(pysend "$@")"
}
# tcp ENGINE SERVER-ARGS -- CLIENT-ARGS -- TARGET: "nc-seconds python-seconds"
# to send $MB MiB from a client container to a server container on 5001
# (python: 5003) at TARGET (SRV: the server's address).
tcp() {
	local e=$1 sargs=() cargs=() target tn tp
	shift
	while [ "$1" != -- ]; do sargs+=("$1"); shift; done
	shift
	while [ "$1" != -- ]; do cargs+=("$1"); shift; done
	target=$2
	$e rm -f bench-srv bench-cli >/dev/null 2>&1 || true
	$e run -d --name bench-srv "${sargs[@]}" bench/busybox sh -c 'sleep 1000 | nc -l -p 5001 >/dev/null' >/dev/null
	[ "$target" = SRV ] && target=$($e inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' bench-srv)
	$e run -d --name bench-cli "${cargs[@]}" bench/busybox sleep 600 >/dev/null
	listening $e
	tn=$(secs $e exec bench-cli sh -c "dd if=/dev/zero bs=1048576 count=$MB 2>/dev/null | nc $target 5001")
	tp=$(pysend3 "/proc/$($e inspect -f '{{.State.Pid}}' bench-srv)/ns/net" 5003 "/proc/$($e inspect -f '{{.State.Pid}}' bench-cli)/ns/net" "$target" 5003)
	$e rm -f bench-srv bench-cli >/dev/null 2>&1 || true
	echo "$tn $tp"
}
# hostpub ENGINE NETNS ARGS...: seconds to send $MB MiB from 127.0.0.1 of
# NETNS to a container's published port (python both ends).
hostpub() {
	local e=$1 ns=$2 t
	shift 2
	$e rm -f bench-srv >/dev/null 2>&1 || true
	$e run -d --name bench-srv "$@" -p 5002:5003 bench/busybox sleep 600 >/dev/null
	t=$(pysend3 "/proc/$($e inspect -f '{{.State.Pid}}' bench-srv)/ns/net" 5003 "$ns" 127.0.0.1 5002)
	$e rm -f bench-srv >/dev/null 2>&1 || true
	echo "$t"
}
mibs() { python3 -c "print(round($MB / $1))"; }
H network create bench-net >/dev/null
tb=($(tcp H --network bench-net -- --network bench-net -- SRV))
ts=($(HOIST_NETWORK_TRANSPORT=slirp4netns tcp H -p 5001:5001 -p 5003:5003 -- -- 192.0.2.1))
pb=$(hostpub H /proc/self/ns/net)
ps=$(HOIST_NETWORK_TRANSPORT=slirp4netns hostpub H /proc/self/ns/net)
result network "TCP ctr->ctr ${MB}MiB busybox nc (s): bridge" "${tb[0]}" hoist-slirp "${ts[0]}"
result network "TCP ctr->ctr ${MB}MiB python (s): bridge" "${tb[1]}" hoist-slirp "${ts[1]}"
result network "TCP 127.0.0.1->published ${MB}MiB (s): proxy" "$pb" hoist-slirp "$ps"
db=(n/a n/a) dp=n/a
if [ -n "${BENCH_DOCKER:-}" ]; then
	D network create bench-net >/dev/null
	db=($(tcp D --network bench-net -- --network bench-net -- SRV))
	D network rm bench-net >/dev/null
	dp=$(hostpub D "$BENCH_DOCKERD_NETNS")
	result network "TCP ctr->ctr ${MB}MiB busybox nc (s): bridge" "${tb[0]}" docker-bridge "${db[0]}"
	result network "TCP ctr->ctr ${MB}MiB python (s): bridge" "${tb[1]}" docker-bridge "${db[1]}"
	result network "TCP 127.0.0.1->published ${MB}MiB (s): proxy" "$pb" docker-proxy "$dp"
fi
{
	echo "run --rm busybox true, $PAIRS pairs: median A, median B (s), median of A/B"
	printf '%s\n' "${ratios[@]}"
	echo "throughput MiB/s             hoist-bridge  hoist-slirp  docker-bridge"
	printf 'ctr->ctr busybox nc         %12s %12s %14s\n' "$(mibs "${tb[0]}")" "$(mibs "${ts[0]}")" "$([ "${db[0]}" = n/a ] && echo n/a || mibs "${db[0]}")"
	printf 'ctr->ctr python 1 MiB       %12s %12s %14s\n' "$(mibs "${tb[1]}")" "$(mibs "${ts[1]}")" "$([ "${db[1]}" = n/a ] && echo n/a || mibs "${db[1]}")"
	printf '127.0.0.1->published        %12s %12s %14s\n' "$(mibs "$pb")" "$(mibs "$ps")" "$([ "$dp" = n/a ] && echo n/a || mibs "$dp")"
} >&2
