#!/usr/bin/env bash
# Installs and starts the peers the benchmarks compare against: the packages
# and engines of scripts/install-deps.sh, plus docker's buildx CLI plugin so
# that `DOCKER_BUILDKIT=1 docker build` uses dockerd's BuildKit (built from
# the Go module proxy once, cached in ~/.docker/cli-plugins).
set -euo pipefail
"$(cd "$(dirname "$0")" && pwd)/../scripts/install-deps.sh"
plugin=${HOME:-/root}/.docker/cli-plugins/docker-buildx
# (built before its version was stamped: compose build needs buildx >= 0.17)
if [ ! -x "$plugin" ] || "$plugin" version 2>/dev/null | grep -q 'v0.0.0+unknown'; then
	echo "peers: building docker-buildx v0.30.0 (once)" >&2
	ver=v0.30.0
	GOFLAGS=-mod=mod go mod download -json github.com/docker/buildx@$ver >/tmp/buildx-dl.json
	src=$(python3 -c 'import json;print(json.load(open("/tmp/buildx-dl.json"))["Dir"])')
	work=$(mktemp -d)
	cp -r "$src" "$work/buildx" && chmod -R u+w "$work/buildx"
	mkdir -p "$(dirname "$plugin")"
	(cd "$work/buildx" && go build -mod=mod -ldflags "-X github.com/docker/buildx/version.Version=$ver" -o "$plugin" ./cmd/buildx)
	rm -rf "$work"
fi
