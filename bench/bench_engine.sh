#!/usr/bin/env bash
# The engine against PyTorch on the same random-weight GPT-2 124M checkpoint,
# each at its best thread count (1 and 2 tried): prefill of 512 tokens,
# decode at batch 1 (128 tokens after a 16-token prompt, KV cache) and the
# aggregate at batch 8; then decode on the 355M shape as a fraction of the
# measured memory read bandwidth, and peak RSS on 124M. Prints the ratios
# against the targets (decode >= 3x PyTorch, >= 80% of bandwidth on 355M,
# batch 8 >= 5x batch 1, prefill >= 1x PyTorch, RSS <= weights + KV + 100 MB).
# Also decode with bf16 copies of the weights (--bf16). Env: BENCH_THREADS="1 2"
# (thread counts to try), BENCH_DIR (checkpoints).
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}" "${SG_BUILD:=$SG_ROOT/build}"
PY=/usr/bin/python3
dir=${BENCH_DIR:-$SG_BUILD/bench-engine}
threads=${BENCH_THREADS:-1 2}
mkdir -p "$dir"
# stagegate runs OpenMP with the passive wait policy (src/cli/main.c); give
# PyTorch the same, or on a busy machine its spinning threads lose badly.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

for shape in 124M 355M; do
  [[ -f $dir/$shape/model.safetensors ]] || "$SG_BIN" checkpoint init --shape "$shape" --seed 1 -o "$dir/$shape" >/dev/null
done
cc -O3 -march=native -fopenmp "$SG_ROOT/bench/bw_probe.c" -o "$dir/bw_probe"

ids() { $PY -c "import random; r=random.Random($2); print(' '.join(str(r.randrange(50000)) for _ in range($1)))"; }
P512=$(ids 512 1)
P16=()
for i in 1 2 3 4 5 6 7 8; do P16+=("$(ids 16 $((10 + i)))"); done

# field NAME STATS_LINE: the tok/s figure after "prefill" or "decode".
field() { sed -n "s/.*$1 [^(]*(\([0-9.]*\) tok\/s).*/\1/p" <<<"$2"; }
best() { $PY -c "import sys; print(max(float(x) for x in sys.argv[1:]))" "$@"; }
ratio() { $PY -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }

c_run() { # model threads args... -> stats line
  local m=$1 t=$2
  shift 2
  "$SG_BIN" generate -m "$m" --threads "$t" --temperature 0 --ids --no-eot --stats "$@" 2>&1 >/dev/null | grep '^stats:'
}

m124=$dir/124M
c_pre=() c_d1=() c_d8=() t_pre=() t_d1=() t_d8=()
for t in $threads; do
  s=$(c_run "$m124" "$t" --prompt-ids "$P512" -n 1)
  c_pre+=("$(field prefill "$s")")
  s=$(c_run "$m124" "$t" --prompt-ids "${P16[0]}" -n 129)
  c_d1+=("$(field decode "$s")")
  args=()
  for p in "${P16[@]}"; do args+=(--prompt-ids "$p"); done
  s=$(c_run "$m124" "$t" "${args[@]}" -n 129)
  c_d8+=("$(field decode "$s")")
  read -r a b c < <($PY "$SG_ROOT/bench/engine_torch.py" "$m124" --threads "$t")
  t_pre+=("$a") t_d1+=("$b") t_d8+=("$c")
  echo "threads $t: C prefill ${c_pre[-1]} tok/s, decode b1 ${c_d1[-1]}, b8 ${c_d8[-1]} | PyTorch prefill $a, decode b1 $b, b8 $c"
done
CP=$(best "${c_pre[@]}") CD1=$(best "${c_d1[@]}") CD8=$(best "${c_d8[@]}")
TP=$(best "${t_pre[@]}") TD1=$(best "${t_d1[@]}") TD8=$(best "${t_d8[@]}")

# 355M decode against the memory-bandwidth limit: every weight but wpe is
# read once per token (wte twice over: embedding row + LM head, counted once).
BW=$("$dir/bw_probe" 1024 2>/dev/null)
d355=()
for t in $threads; do
  d355+=("$(field decode "$(c_run "$dir/355M" "$t" --prompt-ids "${P16[0]}" -n 65)")")
done
D355=$(best "${d355[@]}")
d355b=() d1b=() d8b=()
for t in $threads; do
  d355b+=("$(field decode "$(c_run "$dir/355M" "$t" --bf16 --prompt-ids "${P16[0]}" -n 65)")")
  d1b+=("$(field decode "$(c_run "$m124" "$t" --bf16 --prompt-ids "${P16[0]}" -n 129)")")
  d8b+=("$(field decode "$(c_run "$m124" "$t" --bf16 "${args[@]}" -n 129)")")
done
D355B=$(best "${d355b[@]}") D1B=$(best "${d1b[@]}") D8B=$(best "${d8b[@]}")
bytes355=$($PY -c "print((354823168 - 1024 * 1024) * 4)")
frac=$($PY -c "print(f'{$D355 * $bytes355 / 1e9 / $BW:.2f}')")
fracb=$($PY -c "print(f'{$D355B * $bytes355 / 2 / 1e9 / $BW:.2f}')")

# Peak RSS on 124M: decode batch 1 with a 512-token context in use.
rss_kb=$( { /usr/bin/time -v "$SG_BIN" generate -m "$m124" --prompt-ids "$P512" -n 128 --temperature 0 --ids --no-eot \
  >/dev/null; } 2>&1 | sed -n 's/.*Maximum resident set size (kbytes): //p')
weights_mb=$(($(stat -c %s "$m124/model.safetensors") >> 20))
kv_mb=$((2 * 12 * 1024 * 768 * 4 >> 20))

echo
echo "GPT-2 124M (random weights, fp32), best of threads {$threads}:"
printf "  prefill 512:     C %8.1f tok/s  PyTorch %8.1f tok/s  ratio %sx (target >= 1)\n" "$CP" "$TP" "$(ratio "$CP" "$TP")"
printf "  decode batch 1:  C %8.2f tok/s  PyTorch %8.2f tok/s  ratio %sx (target >= 3)\n" "$CD1" "$TD1" "$(ratio "$CD1" "$TD1")"
printf "  decode batch 8:  C %8.2f tok/s  PyTorch %8.2f tok/s  ratio %sx\n" "$CD8" "$TD8" "$(ratio "$CD8" "$TD8")"
printf "  batch 8 / batch 1 (C): %sx (target >= 5)\n" "$(ratio "$CD8" "$CD1")"
echo "GPT-2 355M decode batch 1: $D355 tok/s x $((bytes355 >> 20)) MB/token vs measured read bandwidth $BW GB/s:" \
  "$frac of the limit (target >= 0.80)"
echo "bf16 weights for decode: 124M batch 1 $D1B tok/s ($(ratio "$D1B" "$TD1")x PyTorch fp32), batch 8 $D8B tok/s;" \
  "355M batch 1 $D355B tok/s = $fracb of the bandwidth limit at $((bytes355 >> 21)) MB/token"
echo "Peak RSS 124M (512 + 128 tokens): $((rss_kb >> 10)) MB; weights $weights_mb MB + KV cache $kv_mb MB + 100 MB" \
  "= $((weights_mb + kv_mb + 100)) MB bound: $([[ $((rss_kb >> 10)) -le $((weights_mb + kv_mb + 100)) ]] && echo ok || echo OVER)"
