#!/usr/bin/env bash
# Engine API benchmarks (issue 15): the docker CLI against `hoist serve` on a
# unix socket beside the same CLI against dockerd (the default socket):
#   docker run --rm busybox true          (and --network none)
#   docker images with BENCH_IMAGES tags   (1,000 by default)
#   docker build of the bench build fixture with the buildx plugin (BuildKit's
#     /grpc through hoist serve, dockerd's own BuildKit): cold, one file changed
# and the resident memory of an idle `hoist serve`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
BENCH_RUNS=${BENCH_RUNS:-15}
n=${BENCH_IMAGES:-1000}
work=$(mktemp -d /var/tmp/hoist-bench-api.XXXXXX)
root=$work/root
sock=$work/hoist.sock
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	"$HOIST" --root "$root" ps -aq 2>/dev/null | xargs -r "$HOIST" --root "$root" rm -f >/dev/null 2>&1 || true
	if docker_up; then
		docker images --format '{{.Repository}}:{{.Tag}}' 'bench/api-tag*' 2>/dev/null | xargs -r docker rmi >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
"$HOIST" --root "$root" serve --host "unix://$sock" 2>>"${BENCH_LOG:-/dev/null}" &
server=$!
for _ in $(seq 1 500); do [ -S "$sock" ] && break; sleep 0.01; done
viahoist() { DOCKER_HOST="unix://$sock" "$@"; }
rss() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

viahoist docker import "$BENCH_CACHE/busybox.tar" bench/busybox:latest >/dev/null
viahoist docker run --rm bench/busybox true >/dev/null # warm
h=$(median_of viahoist docker run --rm bench/busybox true)
hn=$(median_of viahoist docker run --rm --network none bench/busybox true)
hc=$(median_of "$HOIST" --root "$root" run --rm bench/busybox true)
d=fail dn=fail
if docker_up; then
	docker image inspect bench/busybox:latest >/dev/null 2>&1 || docker import "$BENCH_CACHE/busybox.tar" bench/busybox:latest >/dev/null
	docker run --rm bench/busybox true >/dev/null 2>&1 || true # warm
	d=$(median_of docker run --rm bench/busybox true)
	dn=$(median_of docker run --rm --network none bench/busybox true)
fi
result api "docker run --rm busybox true" "$h" dockerd "$d"
result api "docker run --rm --network none busybox true" "$hn" dockerd "$dn"
result api "run --rm busybox true: API vs hoist's CLI" "$h" hoist-cli "$hc"

# $n tags of one image on each side (hoist's CLI tags its side: the same
# store the server reads).
for i in $(seq 1 "$n"); do echo "bench/api-tag$i:1"; done | xargs -n 100 sh -c 'h=$0 r=$1; shift; for t; do "$h" --root "$r" tag bench/busybox "$t"; done' "$HOIST" "$root"
d=fail
if docker_up; then
	for i in $(seq 1 "$n"); do echo "bench/api-tag$i:1"; done | xargs -P 4 -n 50 sh -c 'for t; do docker tag bench/busybox "$t"; done' _
	d=$(median_of docker images)
fi
h=$(median_of viahoist docker images)
result api "docker images ($n tags)" "$h" dockerd "$d"
echo "hoist serve idle RSS: $(rss "$server") MB" >&2

# docker build with buildx (bench/peers.sh installs it): through hoist serve,
# hoist's builder behind BuildKit's API; through dockerd, its BuildKit.
if docker buildx version >/dev/null 2>&1; then
	ctx=$work/ctx
	build_fixture "$ctx"
	viahoist docker import "$BENCH_CACHE/minbase.tar" bench/minbase:latest >/dev/null
	hb=$(median_of viahoist docker build -q --no-cache -t bench/apibuild "$ctx")
	viahoist docker build -q -t bench/apibuild "$ctx" >/dev/null
	hb1=$(BENCH_SETUP="touch_one $ctx" median_of viahoist docker build -q -t bench/apibuild "$ctx")
	db=fail db1=fail
	if docker_up; then
		docker image inspect bench/minbase:latest >/dev/null 2>&1 || docker import "$BENCH_CACHE/minbase.tar" bench/minbase:latest >/dev/null
		db=$(median_of docker build -q --network host --no-cache -t bench/apibuild "$ctx")
		docker build -q --network host -t bench/apibuild "$ctx" >/dev/null
		db1=$(BENCH_SETUP="touch_one $ctx" median_of docker build -q --network host -t bench/apibuild "$ctx")
		docker rmi bench/apibuild >/dev/null 2>&1 || true
	fi
	result api "docker build (buildx) cold" "$hb" dockerd-buildkit "$db"
	result api "docker build (buildx) one file changed" "$hb1" dockerd-buildkit "$db1"
fi
