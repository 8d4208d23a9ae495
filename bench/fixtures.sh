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
	# The machine's own Debian mirror: the first URIs of its apt sources.
	mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	[ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$mirror" ] || { echo "fixtures: no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2; exit 1; }
	debootstrap --variant=minbase bookworm "$cache/rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1
	tar --numeric-owner -C "$cache/rootfs" -cf "$cache/minbase.tar.tmp" . && mv "$cache/minbase.tar.tmp" "$cache/minbase.tar"
	rm -rf "$cache/rootfs"
fi
