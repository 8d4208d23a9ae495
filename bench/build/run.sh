#!/usr/bin/env bash
# Build benchmark (issue 4): FROM debian minbase, RUN a small step, COPY a
# 157 MB / 11,500-file tree (Go's src), RUN find | wc -l, ENV, CMD.
# Measures cold (--no-cache, base present), no-op rebuild, and rebuild after
# one changed file, for hoist, docker (BuildKit when the buildx plugin is
# present, and the classic builder) and buildah when installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
work=$(mktemp -d /var/tmp/hoist-bench-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
ctx=$work/ctx
build_fixture "$ctx"
"$HOIST" --root "$root" import "$BENCH_CACHE/minbase.tar" bench/minbase:latest >/dev/null
size=$(du -sh "$ctx/src" | cut -f1)
files=$(find "$ctx/src" -type f | wc -l)
what="($size, $files files)"

h_cold=$(median_of "$HOIST" --root "$root" build -q --no-cache -t bench/build "$ctx")
"$HOIST" --root "$root" build -q -t bench/build "$ctx" >/dev/null
h_noop=$(median_of "$HOIST" --root "$root" build -q -t bench/build "$ctx")
h_one=$(BENCH_SETUP="touch_one $ctx" median_of "$HOIST" --root "$root" build -q -t bench/build "$ctx")

# docker: BuildKit (when the buildx plugin is there, see bench/peers.sh) and
# the classic builder, both with --network host (dockerd runs with
# --bridge=none).
docker_bench() { # peer-name DOCKER_BUILDKIT-value
	local peer=$1 d_cold d_noop d_one
	export DOCKER_BUILDKIT=$2
	d_cold=$(median_of docker build -q --network host --no-cache -t bench/build "$ctx")
	docker build -q --network host -t bench/build "$ctx" >/dev/null
	d_noop=$(median_of docker build -q --network host -t bench/build "$ctx")
	d_one=$(BENCH_SETUP="touch_one $ctx" median_of docker build -q --network host -t bench/build "$ctx")
	unset DOCKER_BUILDKIT
	result build "cold $what" "$h_cold" "$peer" "$d_cold"
	result build "no-op rebuild" "$h_noop" "$peer" "$d_noop"
	result build "one file changed" "$h_one" "$peer" "$d_one"
}
if docker_up; then
	docker image inspect bench/minbase:latest >/dev/null 2>&1 || docker import "$BENCH_CACHE/minbase.tar" bench/minbase:latest >/dev/null
	if docker buildx version >/dev/null 2>&1; then
		docker_bench docker-buildkit 1
	fi
	docker_bench docker-classic 0
fi
if have buildah; then
	buildah pull "docker-archive:$BENCH_CACHE/minbase-image.tar" >/dev/null 2>&1 || true
	b_cold=$(median_of buildah bud -q --no-cache --layers -t bench/build "$ctx")
	b_noop=$(median_of buildah bud -q --layers -t bench/build "$ctx")
	b_one=$(BENCH_SETUP="touch_one $ctx" median_of buildah bud -q --layers -t bench/build "$ctx")
	result build "cold $what" "$h_cold" buildah "$b_cold"
	result build "no-op rebuild" "$h_noop" buildah "$b_noop"
	result build "one file changed" "$h_one" buildah "$b_one"
fi
