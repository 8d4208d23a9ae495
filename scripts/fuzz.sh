#!/bin/sh
# Runs every fuzz target for a short, bounded budget; go test -fuzz takes one
# target per run. The seed corpora also run as ordinary tests in
# `go test ./...`. A crasher is written under the package's
# testdata/fuzz/<Target>/: keep it there once fixed.
#
# Budgets are counts of executions (-fuzztime Nx), sized to about 5 s each
# on a 2-core machine, not durations: with a duration, Go's fuzz
# coordinator (up to Go 1.26) can fail a target with a bare "context
# deadline exceeded" and no crasher when the time runs out while a worker
# is mid-call (golang/go#75804). FUZZTIME (e.g. 5s or 1000x) overrides
# every target's budget.
# Minimization is bounded (-fuzzminimizetime, default 60s): a worker
# minimizing a new input reports no execs until it is done, so targets
# whose coverage is not quite deterministic (FuzzApplyRaw,
# FuzzLoadDockerManifest) looked stalled after ~25 execs for the whole
# minute.
set -e
cd "$(dirname "$0")/.."
GO=${GO:-go}
status=0
for t in \
	./internal/reference:FuzzParseNamed:50000x \
	./internal/dockerfile:FuzzParse:30000x \
	./internal/archive:FuzzApply:300x \
	./internal/archive:FuzzApplyRaw:200x \
	./internal/imagearchive:FuzzLoadDockerManifest:200x \
	./internal/imagearchive:FuzzLoadOCIIndex:200x \
	./internal/registry/server:FuzzParseRoute:30000x \
	./internal/registry/server:FuzzHtpasswd:10000x \
	./internal/registry/server:FuzzAuthorization:20000x \
	./internal/registry/server:FuzzPutManifest:3000x \
	./internal/registry/client:FuzzSelectManifest:30000x; do
	pkg=${t%%:*}
	rest=${t#*:}
	name=${rest%%:*}
	budget=${FUZZTIME:-${rest#*:}}
	echo "== $pkg $name ($budget)"
	log=$(mktemp)
	start=$(date +%s)
	if ! $GO test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$budget" -fuzzminimizetime "${FUZZMINIMIZETIME:-1s}" -parallel 2 >"$log" 2>&1; then
		cat "$log"
		status=1
	else
		echo "$(grep -E 'execs:' "$log" | tail -1) [$(($(date +%s) - start)) s with the build]"
	fi
	rm -f "$log"
done
exit $status
