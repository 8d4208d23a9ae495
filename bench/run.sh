#!/usr/bin/env bash
# bench/run.sh [CAPABILITY...] — runs hoist and its peers side by side on the
# same work and prints medians and ratios (hoist / peer; below 1 is faster).
# Capabilities are the subdirectories of bench/ that hold a run.sh.
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
rm -f "$out"
