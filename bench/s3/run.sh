#!/usr/bin/env bash
# Push and pull of the debian minbase image (one ~200 MB layer) through
# hoist's registry on S3 vs registry:2's own S3 driver (Debian's
# docker-registry), both on the same versitygw (posix backend) on
# 127.0.0.1. The client is hoist in both cases; every push starts from an
# empty bucket, every pull from an empty local store. registry:2 runs with
# AWS_CA_BUNDLE unset (its AWS SDK fails on it); hoist runs with the
# environment as it is.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
have docker-registry || { echo "docker-registry not installed" >&2; exit 1; }
have versitygw || { echo "versitygw not installed (scripts/install-deps.sh)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/hoist-bench-s3.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_http() { for _ in $(seq 1 400); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }
s3port=7170 hport=5171 rport=5172
mkdir -p "$work/gw/hoist" "$work/gw/reg2"
versitygw --access bench --secret benchsecret --port 127.0.0.1:$s3port --keep-alive posix "$work/gw" >"$work/gw.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:$s3port/
"$HOIST" --root "$work/hroot" registry serve --addr 127.0.0.1:$hport --access-log=false \
	--s3-bucket hoist --s3-regionendpoint http://127.0.0.1:$s3port --s3-forcepathstyle \
	--s3-accesskey bench --s3-secretkey benchsecret >"$work/hoist-reg.log" 2>&1 &
pids+=($!)
cat >"$work/reg.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  s3:
    bucket: reg2
    region: us-east-1
    regionendpoint: http://127.0.0.1:$s3port
    forcepathstyle: true
    accesskey: bench
    secretkey: benchsecret
  delete:
    enabled: true
  redirect:
    disable: true
http:
  addr: 127.0.0.1:$rport
YML
env -u AWS_CA_BUNDLE docker-registry serve "$work/reg.yml" >"$work/reg2.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:$hport/v2/
wait_http http://127.0.0.1:$rport/v2/
"$HOIST" --root "$work/src" import "$BENCH_CACHE/minbase.tar" bench/minbase:src >/dev/null
for p in $hport $rport; do "$HOIST" --root "$work/src" tag bench/minbase:src 127.0.0.1:$p/bench/minbase:1; done
# an empty bucket before each push (objects and multipart leftovers)
empty() { find "$work/gw/$1" -mindepth 1 -delete; }
# the compressed layer is kept after the first push: warm it once
"$HOIST" --root "$work/src" push 127.0.0.1:$hport/bench/minbase:1 >/dev/null
h=$(BENCH_SETUP="empty hoist" median_of "$HOIST" --root "$work/src" push 127.0.0.1:$hport/bench/minbase:1)
r=$(BENCH_SETUP="empty reg2" median_of "$HOIST" --root "$work/src" push 127.0.0.1:$rport/bench/minbase:1)
result s3 "push minbase to S3-backed registry" "$h" registry2-s3 "$r"
hp=$(BENCH_SETUP="rm -rf $work/dst" median_of "$HOIST" --root "$work/dst" pull 127.0.0.1:$hport/bench/minbase:1)
rp=$(BENCH_SETUP="rm -rf $work/dst" median_of "$HOIST" --root "$work/dst" pull 127.0.0.1:$rport/bench/minbase:1)
result s3 "pull minbase from S3-backed registry" "$hp" registry2-s3 "$rp"
