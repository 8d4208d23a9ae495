#!/usr/bin/env bash
# bench/run.sh [CAPABILITY...] — runs hoist and its peers side by side on the
# same work and prints medians and ratios (hoist / peer; below 1 is faster).
# Capabilities are the subdirectories of bench/ that hold a run.sh.
# Each result is also appended to bench/results.jsonl (BENCH_JSON
# overrides), one JSON object per line: date, commit, machine, capability,
# work, hoist and peer medians in seconds, ratio: the standing record later
# changes are compared with (bench/RESULTS.md holds the tables in prose).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export BENCH_LOG=${BENCH_LOG:-/tmp/hoist-bench.log}
: >"$BENCH_LOG"
"$here/peers.sh"
"$here/fixtures.sh"
caps=("$@")
if [ ${#caps[@]} -eq 0 ]; then
	for d in "$here"/*/; do [ -x "$d/run.sh" ] && caps+=("$(basename "$d")"); done
fi
out=$(mktemp)
for c in "${caps[@]}"; do
	echo "== $c" >&2
	"$here/$c/run.sh" | tee -a "$out" >&2 || echo "bench $c failed (see $BENCH_LOG)" >&2
done
echo
printf '%-10s %-42s %10s %-12s %10s %8s\n' CAPABILITY WORK "HOIST(s)" PEER "PEER(s)" RATIO
grep '^RESULT|' "$out" | while IFS='|' read -r _ cap what h peer p; do
	ratio=$(python3 -c "h,p='$h','$p'
try: print('%.2f' % (float(h)/float(p)))
except Exception: print('n/a')")
	printf '%-10s %-42s %10s %-12s %10s %8s\n' "$cap" "$what" "$h" "$peer" "$p" "$ratio"
done
json=${BENCH_JSON:-$here/results.jsonl}
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
grep '^RESULT|' "$out" | python3 -c '
import json, sys, datetime, os
commit, machine = sys.argv[1], sys.argv[2]
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
for line in sys.stdin:
    _, cap, what, h, peer, p = line.rstrip("\n").split("|")
    def num(v):
        try:
            return float(v)
        except ValueError:
            return None
    hv, pv = num(h), num(p)
    print(json.dumps({"date": date, "commit": commit, "machine": machine, "capability": cap, "work": what,
        "hoist_s": hv, "peer": peer, "peer_s": pv, "ratio": round(hv / pv, 3) if hv and pv else None}))
' "$commit" "$(nproc)c/$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1048576))GiB" >>"$json"
echo "results appended to $json" >&2
rm -f "$out"
