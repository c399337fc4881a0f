#!/usr/bin/env bash
# The trainer's forward pass and the inference engine agree on the committed
# family: greedy continuations through `eval sample --top-k 1` (training
# forward, whole window each token) equal `generate --temperature 0` (engine,
# KV cache), and every model loads and scores the held-out text, the loss
# falling with size as the model cards state.
set -euo pipefail
SG_BIN=${SG_BIN:-build/stagegate}
SG_ROOT=${SG_ROOT:-.}
fail() { echo "FAIL: $*"; exit 1; }
for m in sotu-small sotu-xl; do
  for p in "The Congress" "Fellow citizens of the Senate and House of Representatives:"; do
    a=$(OMP_NUM_THREADS=1 "$SG_BIN" eval sample -m "$SG_ROOT/models/$m" --top-k 1 -n 24 "$p")
    b=$("$SG_BIN" generate -m "$SG_ROOT/models/$m" --temperature 0 -n 24 -p "$p" 2>/dev/null)
    [[ $a == "$p$b" ]] || fail "$m: trainer '$a' vs engine '$p$b'"
  done
done
prev=100
for m in sotu-small sotu-medium sotu-large sotu-xl; do
  loss=$(OMP_NUM_THREADS=1 "$SG_BIN" eval perplexity -m "$SG_ROOT/models/$m" --threads 1 --json \
    "$SG_ROOT"/data/sotu/heldout/2018*.txt | jq .loss)
  awk -v a="$loss" -v b="$prev" 'BEGIN { exit !(a < b) }' || fail "$m: held-out loss $loss not below $prev"
  grep -qE "Held-out loss|held-out bits per byte" "$SG_ROOT/models/$m/README.md" || fail "$m: card lacks the held-out loss"
  prev=$loss
done
echo "train_engine: ok"
