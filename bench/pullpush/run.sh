#!/usr/bin/env bash
# Push and pull of the debian minbase image (one ~200 MB layer) to and from a
# local registry:2 on 127.0.0.1: hoist vs docker (the engine treats loopback
# registries as insecure). Push includes compressing the layer (both keep the
# rootfs uncompressed locally); every run starts from a fresh registry and,
# for pull, an empty local store (docker: the image removed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
have docker-registry || { echo "docker-registry not installed" >&2; exit 1; }
work=$(mktemp -d /var/tmp/hoist-bench-pp.XXXXXX)
stop_registry() {
	[ -f "$work/reg.pid" ] || return 0
	kill "$(cat "$work/reg.pid")" 2>/dev/null || true
	for _ in $(seq 1 200); do curl -s "http://127.0.0.1:$port/v2/" >/dev/null || break; sleep 0.05; done
	rm -f "$work/reg.pid"
}
cleanup() { stop_registry; rm -rf "$work"; }
trap cleanup EXIT
port=5160
cat >"$work/reg.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/regdata
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YML
# restart_registry: an empty registry for each run (works from subshells:
# the pid is kept in a file)
restart_registry() {
	stop_registry
	rm -rf "$work/regdata"
	docker-registry serve "$work/reg.yml" >"$work/reg.log" 2>&1 &
	echo $! >"$work/reg.pid"
	for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && return 0; sleep 0.05; done
	return 1
}
img=127.0.0.1:$port/bench/minbase
root=$work/root
"$HOIST" --root "$root" import "$BENCH_CACHE/minbase.tar" "$img:h" >/dev/null
export DOCKER_CONFIG=$work/dc

h=$(BENCH_SETUP="restart_registry" median_of "$HOIST" --root "$root" push "$img:h")
# the first push stored the compressed blob: measure the cold path too
hc=$( { restart_registry; "$HOIST" --root "$work/cold" import "$BENCH_CACHE/minbase.tar" "$img:c" >/dev/null; s=$(date +%s.%N); "$HOIST" --root "$work/cold" push "$img:c" >/dev/null; e=$(date +%s.%N); python3 -c "print('%.4f' % ($e-$s))"; } )
d=fail
if docker_up; then
	docker import "$BENCH_CACHE/minbase.tar" "$img:d" >/dev/null
	d=$(BENCH_SETUP="restart_registry" median_of docker push "$img:d")
fi
result pullpush "push minbase (compressed layer kept)" "$h" docker "$d"
result pullpush "push minbase (cold: compress+upload)" "$hc" docker "$d"

# pull: the registry holds the image pushed by docker (or hoist)
restart_registry
if docker_up; then docker push "$img:d" >/dev/null; src=$img:d; else "$HOIST" --root "$root" push "$img:h" >/dev/null; src=$img:h; fi
h=$(BENCH_SETUP="rm -rf $work/pullroot" median_of "$HOIST" --root "$work/pullroot" pull -q "$src")
if docker_up; then
	# every image holding the layer must go (bench/minbase, the build
	# benchmark's images...), or docker finds it "Already exists"
	layer=$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$src")
	d=$(BENCH_SETUP="drop_layer_users docker $layer" median_of docker pull -q "$src")
	docker rmi -f "$src" >/dev/null 2>&1 || true
fi
result pullpush "pull minbase" "$h" docker "$d"

# pull of a 10-layer image (10 x ~22 MB gzip layers of hex text, pushed by
# docker when it runs): wall time against docker, and hoist's CPU
# utilisation, (user+sys)/wall of the hoist process: above 1.0 means more
# than one core busy (layers download, decompress and unpack in parallel).
ten=$BENCH_CACHE/tenlayer-image.tar
[ -f "$ten" ] || python3 "$here/mklayers.py" "$ten" 10 40 bench/tenlayer:latest
timg=127.0.0.1:$port/bench/tenlayer
restart_registry
if docker_up; then
	docker load -i "$ten" >/dev/null
	docker tag bench/tenlayer:latest "$timg:d"
	docker push "$timg:d" >/dev/null
	tsrc=$timg:d
else
	"$HOIST" --root "$root" load -i "$ten" >/dev/null
	"$HOIST" --root "$root" tag bench/tenlayer:latest "$timg:h"
	"$HOIST" --root "$root" push "$timg:h" >/dev/null
	tsrc=$timg:h
fi
utils=() walls=()
for ((i = 0; i < BENCH_RUNS; i++)); do
	rm -rf "$work/pullroot"
	/usr/bin/time -f "%e %U %S" -o "$work/time" "$HOIST" --root "$work/pullroot" pull -q "$tsrc" >/dev/null 2>>"${BENCH_LOG:-/dev/null}" || { walls+=(fail); break; }
	read -r w u s <"$work/time"
	walls+=("$w")
	utils+=("$(python3 -c "print('%.2f' % (($u+$s)/max($w,0.001)))")")
done
median() { python3 -c 'import statistics,sys
try: print("%.4f" % statistics.median(map(float, sys.argv[1:])))
except Exception: print("fail")' "$@"; }
h=$(median "${walls[@]}")
d=fail
if docker_up; then
	tlayer=$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$tsrc")
	d=$(BENCH_SETUP="drop_layer_users docker $tlayer" median_of docker pull -q "$tsrc")
	drop_layer_users docker "$tlayer"
fi
result pullpush "pull 10-layer image (10 x 22 MB gzip)" "$h" docker "$d"
result pullpush "pull 10-layer image: hoist CPU use (cores)" "$(median "${utils[@]}")" - -
