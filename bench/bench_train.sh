#!/usr/bin/env bash
# Training throughput of `stagegate train` vs PyTorch (Debian python3-torch) on
# the same GPT-2 shape: 8 layers, width 384, 6 heads, vocabulary 8192, context
# 256, batch 8; the best thread count of each (1..nproc). Also the model FLOP
# utilisation (6N + 12·L·C·T FLOPs per token) against the sgemm rate measured in
# the same run (float32 1024³ matmul, best thread count).
#   BENCH_STEPS=N  timed steps per configuration (default 5; median reported)
set -euo pipefail
SG_BIN=${SG_BIN:-build/stagegate}
SG_ROOT=${SG_ROOT:-.}
PY=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
L=8 C=384 H=6 V=8192 T=256 B=8
steps=${BENCH_STEPS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$SG_BIN" tokenizer train --vocab-size $V -o "$tmp/tok" "$SG_ROOT/data/sotu/train" 2>/dev/null
best_c=0 best_c_th=0 best_t=0 best_t_th=0 best_g=0
for th in $(seq 1 "$(nproc)"); do
  rm -rf "$tmp/run"
  "$SG_BIN" train --tokenizer "$tmp/tok" --layers $L --heads $H --embd $C --context $T --batch $B \
    --steps $((steps + 1)) --warmup 1 --eval-interval 0 --dropout-embd 0 --dropout-attn 0 --dropout-resid 0 \
    --threads "$th" --val-fraction 0 -o "$tmp/run" "$SG_ROOT/data/sotu/train" 2>/dev/null
  c=$(tail -n +2 "$tmp/run/train_log.jsonl" | jq -s 'map(.tokens_per_s) | sort | .[length/2|floor]')
  t=$($PY "$here/bench_train.py" torch $L $C $V $T $B "$th" "$steps")
  g=$($PY "$here/bench_train.py" sgemm "$th")
  echo "threads $th: stagegate $c tokens/s, PyTorch $t tokens/s, sgemm $g GFLOP/s"
  awk -v a="$c" -v b="$best_c" 'BEGIN{exit !(a>b)}' && best_c=$c best_c_th=$th
  awk -v a="$t" -v b="$best_t" 'BEGIN{exit !(a>b)}' && best_t=$t best_t_th=$th
  awk -v a="$g" -v b="$best_g" 'BEGIN{exit !(a>b)}' && best_g=$g
done
params=$(( V*C + T*C + L*(12*C*C + 13*C) + 2*C ))
awk -v c="$best_c" -v ct="$best_c_th" -v t="$best_t" -v tt="$best_t_th" -v g="$best_g" -v n="$params" \
    -v wpe=$((T*C)) -v L=$L -v C=$C -v T=$T 'BEGIN {
  flops = 6 * (n - wpe) + 12 * L * C * T
  printf "model: %d parameters, %.1f MFLOP per token\n", n, flops / 1e6
  printf "stagegate: %.0f tokens/s (%d threads), %.1f GFLOP/s, MFU %.0f%% of sgemm %.0f GFLOP/s\n", c, ct, c * flops / 1e9, 100 * c * flops / (g * 1e9), g
  printf "PyTorch:   %.0f tokens/s (%d threads), %.1f GFLOP/s, MFU %.0f%%\n", t, tt, t * flops / 1e9, 100 * t * flops / (g * 1e9)
  printf "ratio stagegate / PyTorch: %.2fx\n", c / t
}'
