#!/usr/bin/env bash
# mkbusybox.sh OUT.tar — writes a minimal busybox root filesystem as a tar,
# made from Debian's busybox-static (no registry needed).
set -euo pipefail
out=${1:?usage: mkbusybox.sh OUT.tar}
bb=$(command -v busybox || true)
[ -x /bin/busybox ] && bb=/bin/busybox
[ -n "$bb" ] || { echo "mkbusybox: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,var,proc,sys,dev}
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
for app in $("$dir/bin/busybox" --list-full); do
	[ "$app" = bin/busybox ] && continue
	ln -sf /bin/busybox "$dir/$app"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
tar --numeric-owner --owner=0 --group=0 -C "$dir" -cf "$out" .
