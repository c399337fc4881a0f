#!/usr/bin/env bash
# bench_access.sh — the gateway's own overhead per request (auth + rate limit +
# durable audit record), without HTTP or the model, against a bare fsynced
# SQLite INSERT on the same disk. Builds bench/access_bench.c against the
# Release library. REQUESTS (default 2000), THREADS (default 8), BENCH_DIR
# (default: a temporary directory; put it on the disk the server would use).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SG_BUILD:-$PWD/build}
[[ -f $BUILD/libsgcore.a ]] || { echo "bench_access: build first (make)" >&2; exit 1; }
dir=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/sg_access_bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
libs=$(pkg-config --libs libpcre2-8 jansson yaml-0.1 sqlite3 libsodium libmicrohttpd openblas)
cc -std=c17 -O2 -D_GNU_SOURCE -I src bench/access_bench.c "$BUILD/libsgcore.a" $libs -fopenmp -lpthread -lm \
  -o "$dir/access_bench"
"$dir/access_bench" "$dir" "${REQUESTS:-2000}" "${THREADS:-8}"
