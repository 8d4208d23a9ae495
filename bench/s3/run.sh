#!/usr/bin/env bash
# hoist's registry on S3 vs registry:2's own S3 driver (Debian's
# docker-registry), both on the same versitygw (posix backend) on
# 127.0.0.1, runs of the two interleaved (medians):
# - push and pull of the debian minbase image (one ~200 MB layer) with
#   hoist as the client (every push into an empty bucket, every pull into
#   an empty local store), and the pull again with skopeo into an OCI
#   directory (no unpacking: the registry's own share);
# - manifest GET req/s (wrk on 127.0.0.1) of one hoist replica, of two
#   replicas on one bucket (wrk on each at once, summed), of registry:2;
# - peak RSS (VmHWM) of a fresh registry process during a 1 GiB
#   single-layer push (one streamed PATCH, as docker pushes).
# registry:2 runs with AWS_CA_BUNDLE unset (its AWS SDK fails on it);
# hoist runs with the environment as it is.
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
s3port=7170 hport=5171 rport=5172 h2port=5173
mkdir -p "$work/gw/hoist" "$work/gw/reg2"
versitygw --access bench --secret benchsecret --port 127.0.0.1:$s3port --keep-alive posix "$work/gw" >"$work/gw.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:$s3port/
hoist_serve() { # port bucket
	"$HOIST" --root "$work/hroot" registry serve --addr 127.0.0.1:$1 --access-log=false \
		--s3-bucket $2 --s3-regionendpoint http://127.0.0.1:$s3port --s3-forcepathstyle \
		--s3-accesskey bench --s3-secretkey benchsecret >>"$work/hoist-reg.log" 2>&1 &
	pids+=($!)
}
hoist_serve $hport hoist
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
# interleaved SETUP_A CMD_A SETUP_B CMD_B: BENCH_RUNS runs of A and B in
# turn (setups not timed); prints the two medians.
interleaved() {
	local ta=() tb=() i s e
	for ((i = 0; i < BENCH_RUNS; i++)); do
		eval "$1" >/dev/null 2>&1; s=$(date +%s.%N); eval "$2" >/dev/null 2>>"${BENCH_LOG:-/dev/null}" || { echo fail fail; return; }; e=$(date +%s.%N)
		ta+=("$(python3 -c "print($e-$s)")")
		eval "$3" >/dev/null 2>&1; s=$(date +%s.%N); eval "$4" >/dev/null 2>>"${BENCH_LOG:-/dev/null}" || { echo fail fail; return; }; e=$(date +%s.%N)
		tb+=("$(python3 -c "print($e-$s)")")
	done
	python3 -c 'import statistics,sys; n=len(sys.argv)//2; a=sys.argv[1:n+1]; b=sys.argv[n+1:]; print("%.4f %.4f" % (statistics.median(map(float,a)), statistics.median(map(float,b))))' "${ta[@]}" "${tb[@]}"
}
# the compressed layer is kept after the first push: warm it once
"$HOIST" --root "$work/src" push 127.0.0.1:$hport/bench/minbase:1 >/dev/null
read -r h r < <(interleaved "empty hoist" "\"$HOIST\" --root $work/src push 127.0.0.1:$hport/bench/minbase:1" \
	"empty reg2" "\"$HOIST\" --root $work/src push 127.0.0.1:$rport/bench/minbase:1")
result s3 "push minbase to S3-backed registry" "$h" registry2-s3 "$r"
read -r h r < <(interleaved "rm -rf $work/dst" "\"$HOIST\" --root $work/dst pull 127.0.0.1:$hport/bench/minbase:1" \
	"rm -rf $work/dst" "\"$HOIST\" --root $work/dst pull 127.0.0.1:$rport/bench/minbase:1")
result s3 "pull minbase from S3-backed registry" "$h" registry2-s3 "$r"
if have skopeo; then
	sk() { skopeo --policy "$work/policy.json" copy -q --src-tls-verify=false "docker://127.0.0.1:$1/bench/minbase:1" "oci:$work/oci:x"; }
	echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$work/policy.json"
	read -r h r < <(interleaved "rm -rf $work/oci" "sk $hport" "rm -rf $work/oci" "sk $rport")
	result s3 "pull minbase, skopeo to oci: (no unpack)" "$h" registry2-s3 "$r"
fi

# Manifest GETs: wrk for 5 s a run; req/s (higher is better; the ratio
# column is hoist/registry:2 of req/s here).
if have wrk; then
	hoist_serve $h2port hoist
	wait_http http://127.0.0.1:$h2port/v2/
	accept='Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
	rps() { wrk -t1 -c16 -d5s -H "$accept" "http://127.0.0.1:$1/v2/bench/minbase/manifests/1" | awk '/Requests\/sec/ {print $2}'; }
	one=() two=() reg=()
	for ((i = 0; i < BENCH_RUNS; i++)); do
		one+=("$(rps $hport)")
		reg+=("$(rps $rport)")
		rps $hport >"$work/wrk.a" & a=$!
		rps $h2port >"$work/wrk.b" & b=$!
		wait $a $b
		two+=("$(python3 -c "print($(cat "$work/wrk.a") + $(cat "$work/wrk.b"))")")
	done
	med() { python3 -c 'import statistics,sys; print("%.0f" % statistics.median(map(float, sys.argv[1:])))' "$@"; }
	result s3 "manifest GET req/s, one replica" "$(med "${one[@]}")" registry2-s3 "$(med "${reg[@]}")"
	result s3 "manifest GET req/s, two replicas (sum)" "$(med "${two[@]}")" registry2-s3 "$(med "${reg[@]}")"
fi

# Peak RSS during a 1 GiB single-layer push: a fresh process of each
# registry, one streamed PATCH of the whole layer, then the digest PUT.
head -c 1G /dev/urandom >"$work/big"
bigd=sha256:$(sha256sum "$work/big" | cut -d' ' -f1)
push_big() { # port
	local loc
	loc=$(curl -fsS -X POST -D - -o /dev/null "http://127.0.0.1:$1/v2/bench/big/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location" {print $2}')
	case $loc in http*) ;; *) loc="http://127.0.0.1:$1$loc" ;; esac
	loc=$(curl -fsS -X PATCH -H 'Content-Type: application/octet-stream' -T "$work/big" -D - -o /dev/null "$loc" | tr -d '\r' | awk -F': ' 'tolower($1)=="location" {print $2}')
	case $loc in http*) ;; *) loc="http://127.0.0.1:$1$loc" ;; esac
	case $loc in *\?*) loc="$loc&digest=$bigd" ;; *) loc="$loc?digest=$bigd" ;; esac
	curl -fsS -X PUT -o /dev/null "$loc"
}
hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
for p in "${pids[@]:1}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
pids=("${pids[0]}")
hoist_serve $hport hoist
hpid=${pids[-1]}
env -u AWS_CA_BUNDLE docker-registry serve "$work/reg.yml" >>"$work/reg2.log" 2>&1 &
pids+=($!)
rpid=$!
wait_http http://127.0.0.1:$hport/v2/
wait_http http://127.0.0.1:$rport/v2/
push_big $hport && push_big $rport
echo "peak RSS (MiB) during a 1 GiB single-layer push: hoist $(hwm $hpid), registry:2 $(hwm $rpid)"
result s3 "peak RSS MiB, 1 GiB single-layer push" "$(hwm $hpid)" registry2-s3 "$(hwm $rpid)"
