#!/usr/bin/env bash
# Makes the benchmark fixtures once, cached in $BENCH_CACHE:
#   busybox.tar   a busybox rootfs (busybox-static)
#   minbase.tar   a debian bookworm minbase rootfs (debootstrap, ~200 MB)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${BENCH_CACHE:-/var/cache/hoist-bench}
mkdir -p "$cache"
[ -f "$cache/busybox.tar" ] || "$here/../scripts/mkbusybox.sh" "$cache/busybox.tar"
if [ ! -f "$cache/minbase.tar" ]; then
	rm -rf "$cache/rootfs"
	debootstrap --variant=minbase bookworm "$cache/rootfs" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1
	tar --numeric-owner -C "$cache/rootfs" -cf "$cache/minbase.tar.tmp" . && mv "$cache/minbase.tar.tmp" "$cache/minbase.tar"
	rm -rf "$cache/rootfs"
fi
