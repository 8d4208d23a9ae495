#!/usr/bin/env bash
# Container benchmarks:
#   run --rm busybox true   hoist (bridge default, and --network none) vs docker,
#                           and with its seccomp filter vs seccomp=unconfined,
#                           with `runc run` of a prepared bundle as the floor
#   50 detached containers  start all, list, read logs, remove all
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
work=$(mktemp -d /var/tmp/hoist-bench.XXXXXX)
root=$work/root
cleanup() {
	"$HOIST" --root "$root" ps -aq 2>/dev/null | xargs -r "$HOIST" --root "$root" rm -f >/dev/null 2>&1 || true
	runc --root "$work/runc" delete -f bench-floor >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
BENCH_RUNS=${BENCH_RUNS:-15}

# The floor: runc alone on a prepared bundle.
mkdir -p "$work/bundle/rootfs"
tar -C "$work/bundle/rootfs" -xf "$BENCH_CACHE/busybox.tar"
(cd "$work/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' config.json)
r=$(median_of runc --root "$work/runc" run --bundle "$work/bundle" bench-floor)
result container "runc run (prepared bundle, floor)" "$r" - -

"$HOIST" --root "$root" import "$BENCH_CACHE/busybox.tar" bench/busybox:latest >/dev/null
h=$(median_of "$HOIST" --root "$root" run --rm bench/busybox true)
hn=$(median_of "$HOIST" --root "$root" run --rm --network none bench/busybox true)
d=fail
if docker_up; then
	docker image inspect bench/busybox:latest >/dev/null 2>&1 || docker import "$BENCH_CACHE/busybox.tar" bench/busybox:latest >/dev/null
	docker run --rm bench/busybox true >/dev/null 2>&1 || true # warm
	d=$(median_of docker run --rm bench/busybox true)
	dn=$(median_of docker run --rm --network none bench/busybox true)
fi
result container "run --rm busybox true" "$h" docker "$d"
# The cost of docker's default seccomp profile (on by default): the same
# run without a filter.
hu=$(median_of "$HOIST" --root "$root" run --rm --security-opt seccomp=unconfined bench/busybox true)
result container "run --rm true: default seccomp vs seccomp=unconfined" "$h" hoist-unconfined "$hu"
result container "run --rm --network none busybox true" "$hn" docker "${dn:-fail}"
# The OCI runtime is most of that time: the same with crun instead of runc
# (HOIST_RUNTIME, docker's default-runtime), beside docker (which uses runc).
if have crun; then
	hc=$(HOIST_RUNTIME=crun median_of "$HOIST" --root "$root" run --rm bench/busybox true)
	result container "run --rm busybox true, HOIST_RUNTIME=crun" "$hc" docker "$d"
fi

# commit of a container that changed 10,000 files.
mk10k='mkdir /d; i=0; while [ $i -lt 10000 ]; do echo $i > /d/f$i; i=$((i+1)); done'
"$HOIST" --root "$root" run --name bench-commit --network none bench/busybox sh -c "$mk10k"
h=$(median_of "$HOIST" --root "$root" commit bench-commit bench/committed:latest)
"$HOIST" --root "$root" rm bench-commit >/dev/null
d=fail
if docker_up; then
	docker rm -f bench-commit >/dev/null 2>&1 || true
	docker run --name bench-commit --network none bench/busybox sh -c "$mk10k"
	d=$(median_of docker commit bench-commit bench/committed:latest)
	docker rm -f bench-commit >/dev/null
	docker rmi bench/committed:latest >/dev/null 2>&1 || true
fi
result container "commit (10,000 changed files)" "$h" docker "$d"
# hoist records a committed layer from its tar alone and unpacks it on first
# use: the first run of the committed image pays what docker's commit paid.
BENCH_RUNS=1 hf=$(median_of "$HOIST" --root "$root" run --rm --network none bench/committed:latest true)
df=fail
if docker_up; then
	docker rm -f bench-commit >/dev/null 2>&1 || true
	docker run --name bench-commit --network none bench/busybox sh -c "$mk10k"
	docker commit bench-commit bench/committed:latest >/dev/null
	BENCH_RUNS=1 df=$(median_of docker run --rm --network none bench/committed:latest true)
	docker rm -f bench-commit >/dev/null
	docker rmi bench/committed:latest >/dev/null 2>&1 || true
fi
result container "first run of the committed image" "$hf" docker "$df"

# 50 detached containers: start, list, logs, remove.
fifty() { # fifty CLI
	local cli=("$@") ids n bad=0
	ids=$(for i in $(seq 1 50); do echo "$i"; done | xargs -P 4 -I{} "${cli[@]}" run -d --network none bench/busybox sh -c 'echo line-{}; sleep 300')
	n=$("${cli[@]}" ps -q | wc -l)
	[ "$n" -ge 50 ] || { echo "INFO ${cli[0]}: ps listed $n of 50" >&2; bad=1; }
	for id in $ids; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do "${cli[@]}" logs "$id" | grep -q '^line-' && break; sleep 0.1; done
		"${cli[@]}" logs "$id" | grep -q '^line-' || bad=1
	done
	echo "$ids" | xargs -r "${cli[@]}" rm -f >/dev/null
	return $bad
}
BENCH_RUNS=1 h50=$(median_of fifty "$HOIST" --root "$root")
d50=fail
if docker_up; then BENCH_RUNS=1 d50=$(median_of fifty docker); fi
result container "50 detached: run, ps, logs, rm -f" "$h50" docker "$d50"
left=$("$HOIST" --root "$root" ps -aq | wc -l)
mounts=$(grep -c "$root" /proc/self/mountinfo || true)
echo "INFO after the 50: $left containers left, $mounts mounts left under the root" >&2
