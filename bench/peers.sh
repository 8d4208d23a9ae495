#!/usr/bin/env bash
# Installs and starts the peers the benchmarks compare against (the same set
# the interop tests use).
set -euo pipefail
exec "$(cd "$(dirname "$0")" && pwd)/../scripts/install-deps.sh"
