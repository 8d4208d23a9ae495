#!/usr/bin/env bash
# Runs the OCI distribution-spec conformance suite against `hoist registry serve`
# on 127.0.0.1: without auth, with htpasswd basic auth, with token auth, and
# on the S3 storage driver (a versitygw on 127.0.0.1, when installed).
#
# usage: scripts/registry-conformance.sh CONFORMANCE_BINARY [HOIST_BINARY]
#
# Build the binary from the `conformance` folder of the
# opencontainers/distribution-spec repository (outside this tree), e.g.
#   (cd distribution-spec/conformance && go build -o /work/conformance/conformance .)
# This script fetches nothing. Results go to $RESULTS (default: a temp dir).
set -euo pipefail
conf=${1:?usage: $0 CONFORMANCE_BINARY [HOIST_BINARY]}
conf=$(readlink -f "$conf")
hoist=${2:-}
if [ -z "$hoist" ]; then
	hoist=$(mktemp -d)/hoist
	(cd "$(dirname "$0")/.." && go build -o "$hoist" ./cmd/hoist)
fi
work=$(mktemp -d)
results=${RESULTS:-$work/results}
port=${PORT:-5077}
pid=
s3pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$s3pid" ] && kill "$s3pid" 2>/dev/null && wait "$s3pid" 2>/dev/null
	rm -rf "$work/root"* "$work/s3"
}
trap cleanup EXIT

run() { # name, extra serve args...
	local name=$1; shift
	rm -rf "$work/root-$name"
	"$hoist" registry serve --root "$work/root-$name" --addr "127.0.0.1:$port" --allow-sparse --access-log=false "$@" 2>"$work/$name.log" &
	pid=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
		sleep 0.1
	done
	mkdir -p "$results/$name"
	local rc=0
	(cd "$results/$name" &&
		OCI_REGISTRY="127.0.0.1:$port" OCI_TLS=disabled OCI_VERSION=dev OCI_DATA_SPARSE=true \
		OCI_RESULTS_DIR="$results/$name" OCI_LOG=${OCI_LOG:-error} "$conf") >"$results/$name/stdout" 2>&1 || rc=$?
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
	echo "== $name (exit $rc): results in $results/$name"
	grep -E -i "^(Pass|Fail|Error|Skip|Disabled)|passed|failed" "$results/$name/stdout" | tail -5 || tail -5 "$results/$name/stdout"
	return $rc
}

rc=0
run noauth || rc=1
htpasswd -Bbc "$work/htpasswd" conformance s3cret >/dev/null 2>&1
OCI_USERNAME=conformance OCI_PASSWORD=s3cret run auth --htpasswd "$work/htpasswd" || rc=1
OCI_USERNAME=conformance OCI_PASSWORD=s3cret run token --htpasswd "$work/htpasswd" --token-key "$work/token.key" || rc=1
# The S3 storage driver, on a versitygw (posix backend) on 127.0.0.1.
if command -v versitygw >/dev/null 2>&1; then
	s3port=${S3PORT:-7077}
	mkdir -p "$work/s3/conformance"
	versitygw --access conformance --secret conformance-secret --port "127.0.0.1:$s3port" posix "$work/s3" >"$work/versitygw.log" 2>&1 &
	s3pid=$!
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$s3port/" && break; sleep 0.1; done
	cat >"$work/s3.json" <<CFG
{"storage": {"s3": {"bucket": "conformance", "region": "us-east-1", "regionendpoint": "http://127.0.0.1:$s3port",
  "forcepathstyle": true, "accesskey": "conformance", "secretkey": "conformance-secret", "rootdirectory": "/registry"}}}
CFG
	run s3 --config "$work/s3.json" || rc=1
else
	echo "== s3: skipped (versitygw not installed: scripts/install-deps.sh installs it)"
fi
exit $rc
