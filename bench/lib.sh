# bench/lib.sh — helpers shared by the capability benchmarks (sourced).
# Each capability script prints result lines:
#   RESULT|<capability>|<what>|<hoist-median-s>|<peer-name>|<peer-median-s>
# bench/run.sh collects them into one table with ratios.

BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_CACHE=${BENCH_CACHE:-/var/cache/hoist-bench}
HOIST=${HOIST:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bin/hoist}

# median_of CMD...: runs the command BENCH_RUNS times (after one warm-up when
# BENCH_WARMUP=1), with $BENCH_SETUP evaluated before each run (not timed),
# and prints the median wall time in seconds. Prints "fail" if any run fails.
median_of() {
	local times=() i start end
	for ((i = 0; i < BENCH_RUNS; i++)); do
		[ -n "${BENCH_SETUP:-}" ] && eval "$BENCH_SETUP" >/dev/null 2>&1
		start=$(date +%s.%N)
		if ! "$@" >/dev/null 2>>"${BENCH_LOG:-/dev/null}"; then
			echo fail
			return 0
		fi
		end=$(date +%s.%N)
		times+=("$(python3 -c "print($end-$start)")")
	done
	python3 -c 'import statistics,sys; print("%.4f" % statistics.median(map(float, sys.argv[1:])))' "${times[@]}"
}

result() { local IFS='|'; echo "RESULT|$*"; }

# build_fixture DIR: the bench build context in DIR: FROM bench/minbase, a
# small RUN, COPY of Go's source tree (157 MB, 11,500 files), a RUN over it.
# touch_one DIR changes one file of it.
build_fixture() {
	local src=${BENCH_BUILD_SRC:-$(go env GOROOT 2>/dev/null)/src}
	mkdir -p "$1"
	cp -a "$src" "$1/src"
	cat >"$1/Dockerfile" <<'DF'
FROM bench/minbase:latest
RUN echo small > /small
COPY src /src
RUN find /src | wc -l
ENV BENCH=1
CMD ["sh"]
DF
}
touch_one() { echo "// $RANDOM" >>"$1/src/go.mod"; }

have() { command -v "$1" >/dev/null 2>&1; }

# docker_up: true when a docker engine answers.
docker_up() { have docker && timeout 5 docker info >/dev/null 2>&1; }

# drop_layer_users CLI LAYER: removes every image of the peer CLI (docker or
# podman) whose rootfs holds LAYER (a diffID), so that the next load or pull
# really stores the layer instead of finding it "Already exists". Fails when
# an image still holds it afterwards.
drop_layer_users() {
	local cli=$1 layer=$2 id
	# docker's build cache keeps layers of deleted images alive
	[ "$cli" = docker ] && docker builder prune -af >/dev/null 2>&1
	for id in $(layer_users "$cli" "$layer"); do
		"$cli" rmi -f "$id" >/dev/null 2>&1 || true
	done
	if [ -n "$(layer_users "$cli" "$layer")" ]; then
		echo "drop_layer_users: $cli still holds $layer" >&2
		return 1
	fi
	return 0
}

# layer_users CLI LAYER: the IDs of the peer's images whose rootfs holds LAYER.
layer_users() {
	local cli=$1 layer=$2 id
	for id in $("$cli" images -aq --no-trunc 2>/dev/null | sort -u); do
		# range, not join: podman's Layers are digests, which join refuses
		if "$cli" image inspect -f '{{range .RootFS.Layers}}{{.}} {{end}}' "$id" 2>/dev/null | grep -q "$layer"; then
			echo "$id"
		fi
	done
}
