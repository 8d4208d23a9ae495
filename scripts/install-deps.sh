#!/usr/bin/env bash
# Installs the Debian packages hoist's tests, demo and benchmarks use.
# Idempotent: does nothing when everything is already there.
set -euo pipefail
pkgs=(runc crun busybox-static skopeo umoci apache2-utils docker-registry xz-utils zstd bzip2 slirp4netns debootstrap wrk curl)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: need root to install: ${missing[*]}" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
go mod download
