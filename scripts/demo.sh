#!/usr/bin/env bash
# The main job, end to end, on a fresh machine: make a base image, build an
# image from examples/hello, run it, push it to hoist's own registry on
# 127.0.0.1, delete it locally, pull it back and run it again.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
hoist=$top/bin/hoist
work=$(mktemp -d /tmp/hoist-demo.XXXXXX)
export HOIST_ROOT=$work/root
regpid=
cleanup() {
	[ -n "$regpid" ] && kill "$regpid" 2>/dev/null && wait "$regpid" 2>/dev/null
	"$hoist" rm -f $("$hoist" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
	# A container's monitor deletes the runtime's record just after `run --rm`
	# returns (clients do not wait for it): retry briefly.
	for _ in $(seq 50); do rm -rf "$work" 2>/dev/null && break; sleep 0.1; done
}
trap cleanup EXIT
# Headers in bold on a terminal only.
if [ -t 1 ]; then
	step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	step() { printf '\n== %s\n' "$*"; }
fi
# free_port: a port on 127.0.0.1 that nothing listens on.
free_port() {
	local p
	for p in $(seq 5000 5999); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	return 1
}

step "import a busybox base image (from Debian's busybox-static)"
"$top/scripts/mkbusybox.sh" "$work/busybox.tar"
"$hoist" import "$work/busybox.tar" demo/busybox:latest

step "build examples/hello"
"$hoist" build -t demo/hello:1.0 "$top/examples/hello"
"$hoist" images

step "run it"
"$hoist" run --rm demo/hello:1.0

step "start hoist's registry on 127.0.0.1 and push"
port=$(free_port)
"$hoist" registry serve --addr "127.0.0.1:$port" --root "$work/registry" >"$work/registry.log" 2>&1 &
regpid=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
"$hoist" tag demo/hello:1.0 "127.0.0.1:$port/demo/hello:1.0"
"$hoist" push "127.0.0.1:$port/demo/hello:1.0"

step "remove it and its base locally, pull it back (a real download), run again"
"$hoist" rmi "127.0.0.1:$port/demo/hello:1.0" demo/hello:1.0 demo/busybox:latest
"$hoist" pull "127.0.0.1:$port/demo/hello:1.0"
"$hoist" run --rm "127.0.0.1:$port/demo/hello:1.0"
step "demo finished"
