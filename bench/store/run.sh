#!/usr/bin/env bash
# Store benchmarks: load and save of the debian minbase image (hoist vs
# docker vs podman), and images/inspect/tag with 1,000 images in the store.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
arch=$BENCH_CACHE/minbase-image.tar
if [ ! -f "$arch" ]; then
	docker import "$BENCH_CACHE/minbase.tar" bench/minbase:latest >/dev/null
	docker save -o "$arch.tmp" bench/minbase:latest && mv "$arch.tmp" "$arch"
fi
work=$(mktemp -d /var/tmp/hoist-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root

# load: a fresh store each run (nothing cached), fsync included.
h=$(BENCH_SETUP="rm -rf $root" median_of "$HOIST" --root "$root" load -q -i "$arch")
# the minbase layer's diffID: peers must not already hold it (other images)
layer=sha256:$(sha256sum "$BENCH_CACHE/minbase.tar" | cut -d' ' -f1)
# peer_load CLI: median time of CLI's load, the layer dropped before each run
# ("fail" when the setup cannot drop it: the load would only find it).
peer_load() {
	if ! drop_layer_users "$1" "$layer"; then
		echo fail
		return 0
	fi
	BENCH_SETUP="drop_layer_users $1 $layer" median_of "$1" load -q -i "$arch"
}
d=$(peer_load docker)
result store "load minbase (204MB)" "$h" docker "$d"
if have podman; then
	p=$(peer_load podman)
	result store "load minbase (204MB)" "$h" podman "$p"
fi

# save: to a file on the same disk.
"$HOIST" --root "$root" load -q -i "$arch" >/dev/null
docker load -q -i "$arch" >/dev/null
h=$(BENCH_SETUP="rm -f $work/h.tar" median_of "$HOIST" --root "$root" save -o "$work/h.tar" bench/minbase:latest)
d=$(BENCH_SETUP="rm -f $work/d.tar" median_of docker save -o "$work/d.tar" bench/minbase:latest)
result store "save minbase (204MB)" "$h" docker "$d"
peak=$( { /usr/bin/time -f '%M' "$HOIST" --root "$root" save -o "$work/m.tar" bench/minbase:latest; } 2>&1 | tail -1)
echo "INFO save peak RSS ${peak} KiB" >&2
peak=$( { /usr/bin/time -f '%M' "$HOIST" --root "$work/root2" load -q -i "$arch"; } 2>&1 | tail -1)
echo "INFO load peak RSS ${peak} KiB" >&2

# 1,000 images: distinct configs over one shared layer.
"$HOIST" --root "$root" import "$BENCH_CACHE/busybox.tar" bench/bb:base >/dev/null
for i in $(seq 1 1000); do echo "$i"; done | xargs -P 4 -I{} "$HOIST" --root "$root" import -c "LABEL n={}" "$BENCH_CACHE/busybox.tar" bench/many:{} >/dev/null
hi=$(median_of "$HOIST" --root "$root" images)
h=$(median_of "$HOIST" --root "$root" image inspect bench/many:500)
result store "inspect (1,000 images)" "$h" - -
h=$(median_of "$HOIST" --root "$root" tag bench/many:500 bench/other:x)
result store "tag (1,000 images)" "$h" - -
# docker with the same 1,000 images (kept between runs: made once).
if [ "$(docker images -q 'bench/many' | wc -l)" -lt 1000 ]; then
	for i in $(seq 1 1000); do echo "$i"; done | xargs -P 4 -I{} docker import -c "LABEL n={}" "$BENCH_CACHE/busybox.tar" bench/many:{} >/dev/null
fi
d=$(median_of docker images)
result store "images (1,000 images)" "$hi" docker "$d"
