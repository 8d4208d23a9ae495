#!/usr/bin/env bash
# Rootless benchmark: a user the script creates (with a subordinate id
# range) runs hoist rootless, beside rootful hoist and podman rootless:
#   run --rm busybox true
#   build of the build fixture (debian minbase, COPY of Go's src, RUN)
# The user, its processes and its files are removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "rootless bench: needs root (to create the user)" >&2; exit 0; }
for t in useradd usermod userdel runuser newuidmap newgidmap; do
	have "$t" || { echo "rootless bench: $t missing" >&2; exit 0; }
done
user=hoistbench$$
work=$(mktemp -d /var/tmp/hoist-bench-rootless.XXXXXX)
chmod 0755 "$work"
tun_mode=$(stat -c %a /dev/net/tun 2>/dev/null || true)
cleanup() {
	pkill -KILL -u "$user" >/dev/null 2>&1 || true
	userdel -r "$user" >/dev/null 2>&1 || true
	rm -rf "$work" "/tmp/hoist-$uid"
	[ -n "$tun_mode" ] && chmod "$tun_mode" /dev/net/tun
}
trap cleanup EXIT
useradd -m -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user"
uid=$(id -u "$user")
usermod --add-subuids 300000-365535 --add-subgids 300000-365535 "$user"
[ -c /dev/net/tun ] && chmod 0666 /dev/net/tun
install -m 0755 "$HOIST" "$work/hoist"
as_user() { runuser -u "$user" -- env -C "$work" "$@"; }
ru() { as_user "$work/hoist" "$@"; }
root=$work/root
cp "$BENCH_CACHE/busybox.tar" "$BENCH_CACHE/minbase.tar" "$work/"
chmod 0644 "$work"/*.tar
ru import "$work/busybox.tar" bench/busybox:latest >/dev/null
"$HOIST" --root "$root" import "$BENCH_CACHE/busybox.tar" bench/busybox:latest >/dev/null
h=$(median_of "$HOIST" --root "$root" run --rm --network none bench/busybox true)
r=$(median_of ru run --rm --network none bench/busybox true)
result rootless "run --rm --network none busybox true: rootless vs rootful" "$r" hoist-rootful "$h"
p=fail
if have podman; then
	as_user podman import "$work/busybox.tar" bench/busybox:latest >/dev/null 2>&1 || true
	p=$(median_of as_user podman run --rm --network none bench/busybox true)
fi
result rootless "run --rm --network none busybox true, rootless" "$r" podman-rootless "$p"

ctx=$work/ctx
build_fixture "$ctx"
chown -R "$user" "$ctx"
ru import "$work/minbase.tar" bench/minbase:latest >/dev/null
"$HOIST" --root "$root" import "$BENCH_CACHE/minbase.tar" bench/minbase:latest >/dev/null
BENCH_RUNS=${BENCH_BUILD_RUNS:-3}
h=$(median_of "$HOIST" --root "$root" build -q --no-cache -t bench/build "$ctx")
r=$(median_of ru build -q --no-cache -t bench/build "$ctx")
result rootless "cold build (build fixture): rootless vs rootful" "$r" hoist-rootful "$h"
p=fail
if have podman; then
	as_user podman import "$work/minbase.tar" bench/minbase:latest >/dev/null 2>&1 || true
	p=$(median_of as_user podman build -q --no-cache -t bench/build "$ctx")
fi
result rootless "cold build (build fixture), rootless" "$r" podman-rootless "$p"
