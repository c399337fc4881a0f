#!/usr/bin/env bash
# bench_access.sh — the gateway's own overhead per request (auth + rate limit +
# durable audit record), without HTTP or the model, against a bare fsynced
# SQLite INSERT on the same disk. Runs bench/access_bench.c, which `make`
# builds against the Release libraries. REQUESTS (default 2000), THREADS
# (default 8), BENCH_DIR (default: a temporary directory; put it on the disk
# the server would use).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SG_BUILD:-$PWD/build}
[[ -x $BUILD/access_bench ]] || { echo "bench_access: build first (make)" >&2; exit 1; }
dir=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/sg_access_bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$BUILD/access_bench" "$dir" "${REQUESTS:-2000}" "${THREADS:-8}"
