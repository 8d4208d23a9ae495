#!/usr/bin/env bash
# Side-by-side benchmark of `hoist registry serve` and registry:2 (Debian
# docker-registry, distribution 2.8) on 127.0.0.1, same load for both:
#   1. manifest GET by tag, 64 connections (wrk)
#   2. blob GET of an 88 MB blob, 8 connections (wrk)
#   3. 32 concurrent streamed pushes of 100 MB blobs (loadgen), with the
#      server's peak RSS
# Each load runs ROUNDS times (default 3); medians and hoist/registry:2
# ratios are printed. Needs wrk and docker-registry (scripts/install-deps.sh).
#
# usage: bench/registry/run.sh [HOIST_BINARY]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 1; }
command -v docker-registry >/dev/null || { echo "docker-registry not installed" >&2; exit 1; }
hoist=${1:-}
if [ -z "$hoist" ]; then
	hoist=$work/hoist
	(cd "$top" && go build -o "$hoist" ./cmd/hoist)
fi
(cd "$top" && go build -o "$work/loadgen" ./bench/registry/loadgen)

HPORT=5101 RPORT=5102
"$hoist" registry serve --root "$work/hoist-root" --addr 127.0.0.1:$HPORT >"$work/hoist.log" 2>&1 &
hpid=$!; pids+=($hpid)
cat >"$work/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: false
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $work/registry-root
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$RPORT
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
rpid=$!; pids+=($rpid)
for port in $HPORT $RPORT; do
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
done

declare -A BLOB
for port in $HPORT $RPORT; do
	BLOB[$port]=$("$work/loadgen" seed -url "http://127.0.0.1:$port" -repo bench/app -tag latest -blob-size $((88 << 20)))
done

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# wrk_stat PORT PATH CONNS -> "req/s bytes/s p99ms"
wrk_once() {
	local out
	out=$(wrk -t2 -c"$3" -d"$DURATION" --latency -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://127.0.0.1:$1$2")
	local rps bps p99
	rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
	bps=$(awk '/Transfer\/sec/ {v=$2; u=substr(v,length(v)-1); n=substr(v,1,length(v)-2); m=1; if(u=="KB")m=1024; if(u=="MB")m=1048576; if(u=="GB")m=1073741824; print n*m}' <<<"$out")
	p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
	echo "$rps $bps $p99"
}

declare -A R
run_load() { # name port path conns
	local name=$1 port=$2 path=$3 conns=$4 i
	: >"$work/$name.$port"
	for i in $(seq "$ROUNDS"); do wrk_once "$port" "$path" "$conns" >>"$work/$name.$port"; done
	R[$name.$port.rps]=$(awk '{print $1}' "$work/$name.$port" | median)
	R[$name.$port.bps]=$(awk '{print $2}' "$work/$name.$port" | median)
	R[$name.$port.p99]=$(awk '{print $3}' "$work/$name.$port" | median)
}

for port in $HPORT $RPORT; do
	run_load manifest $port /v2/bench/app/manifests/latest 64
	run_load blob $port "/v2/bench/app/blobs/${BLOB[$port]}" 8
done

peak_rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
for port in $HPORT $RPORT; do
	: >"$work/push.$port"
	for i in $(seq "$ROUNDS"); do
		"$work/loadgen" push -url "http://127.0.0.1:$port" -repo "bench/push$i-" -clients 32 -size $((100 << 20)) -seed $((i * 1000)) >>"$work/push.$port"
	done
	R[push.$port.MBps]=$(sed -n 's/.*MBps=\([0-9.]*\).*/\1/p' "$work/push.$port" | median)
	R[push.$port.failed]=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' "$work/push.$port" | awk '{s+=$1} END {print s+0}')
done
R[rss.$HPORT]=$(peak_rss $hpid)
R[rss.$RPORT]=$(peak_rss $rpid)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
printf '\n%-44s %14s %14s %8s\n' "median of $ROUNDS x $DURATION" hoist registry:2 ratio
printf '%-44s %14.0f %14.0f %8s\n' "manifest GET by tag, 64 conns (req/s)" "${R[manifest.$HPORT.rps]}" "${R[manifest.$RPORT.rps]}" "$(ratio "${R[manifest.$HPORT.rps]}" "${R[manifest.$RPORT.rps]}")"
printf '%-44s %14.2f %14.2f %8s\n' "manifest GET p99 latency (ms)" "${R[manifest.$HPORT.p99]}" "${R[manifest.$RPORT.p99]}" "$(ratio "${R[manifest.$HPORT.p99]}" "${R[manifest.$RPORT.p99]}")"
printf '%-44s %14.2f %14.2f %8s\n' "blob GET 88 MB, 8 conns (GB/s)" "$(awk -v b="${R[blob.$HPORT.bps]}" 'BEGIN{print b/1e9}')" "$(awk -v b="${R[blob.$RPORT.bps]}" 'BEGIN{print b/1e9}')" "$(ratio "${R[blob.$HPORT.bps]}" "${R[blob.$RPORT.bps]}")"
printf '%-44s %14.1f %14.1f %8s\n' "32 x 100 MB pushes (MB/s aggregate)" "${R[push.$HPORT.MBps]}" "${R[push.$RPORT.MBps]}" "$(ratio "${R[push.$HPORT.MBps]}" "${R[push.$RPORT.MBps]}")"
printf '%-44s %14s %14s\n' "failed pushes" "${R[push.$HPORT.failed]}" "${R[push.$RPORT.failed]}"
printf '%-44s %14s %14s\n' "server peak RSS (MB)" "$((R[rss.$HPORT] / 1024))" "$((R[rss.$RPORT] / 1024))"
