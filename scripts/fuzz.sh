#!/bin/sh
# Runs every fuzz target for a short, bounded time (FUZZTIME, default 5s
# each; go test -fuzz takes one target per run). The seed corpora also run
# as ordinary tests in `go test ./...`. A crasher is written under the
# package's testdata/fuzz/<Target>/: keep it there once fixed.
# Minimization is bounded (-fuzzminimizetime, default 60s): a worker
# minimizing a new input reports no execs until it is done, so targets
# whose coverage is not quite deterministic (FuzzApplyRaw,
# FuzzLoadDockerManifest) looked stalled after ~25 execs for the whole
# minute, past FUZZTIME.
set -e
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-5s}
status=0
for t in \
	./internal/reference:FuzzParseNamed \
	./internal/dockerfile:FuzzParse \
	./internal/archive:FuzzApply \
	./internal/archive:FuzzApplyRaw \
	./internal/imagearchive:FuzzLoadDockerManifest \
	./internal/imagearchive:FuzzLoadOCIIndex \
	./internal/registry/server:FuzzParseRoute \
	./internal/registry/server:FuzzHtpasswd \
	./internal/registry/server:FuzzAuthorization \
	./internal/registry/server:FuzzPutManifest \
	./internal/registry/client:FuzzSelectManifest; do
	pkg=${t%%:*}
	name=${t#*:}
	echo "== $pkg $name ($FUZZTIME)"
	log=$(mktemp)
	if ! $GO test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "${FUZZMINIMIZETIME:-1s}" -parallel 2 >"$log" 2>&1; then
		cat "$log"
		status=1
	else
		grep -E 'execs:' "$log" | tail -1
	fi
	rm -f "$log"
done
exit $status
