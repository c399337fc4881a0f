#!/usr/bin/env bash
# The C trainer against PyTorch autograd (float64) on a random small GPT-2:
# every parameter gradient within 1e-4 relative, 20 AdamW steps (clipping,
# warm-up + cosine) of loss within 1e-4. Then dropout: same seed -> identical
# run, other seed -> different, and dropout 0 reproduces the reference run.
set -euo pipefail
SG_BIN=${SG_BIN:-build/stagegate}
PY=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

$PY "$here/train_torch.py" make "$tmp"
args=(-m "$tmp/model" --tokens "$tmp/batches.i32" --batch 3 --context 16 --steps 20 --lr 3e-3 --warmup 5
      --lr-floor 0.1 --beta1 0.9 --beta2 0.95 --eps 1e-8 --weight-decay 0.1 --clip 1.0)
mkdir -p "$tmp/c" "$tmp/d1" "$tmp/d2" "$tmp/d3" "$tmp/d0"
"$SG_BIN" eval gradients "${args[@]}" -o "$tmp/c"
$PY "$here/train_torch.py" check "$tmp"

# dropout on: reproducible with the seed
"$SG_BIN" eval gradients "${args[@]}" --dropout 0.2 --seed 7 -o "$tmp/d1"
"$SG_BIN" eval gradients "${args[@]}" --dropout 0.2 --seed 7 -o "$tmp/d2"
"$SG_BIN" eval gradients "${args[@]}" --dropout 0.2 --seed 8 -o "$tmp/d3"
cmp "$tmp/d1/grads.f32" "$tmp/d2/grads.f32" || { echo "FAIL: dropout gradients differ for one seed"; exit 1; }
cmp "$tmp/d1/losses.txt" "$tmp/d2/losses.txt" || { echo "FAIL: dropout losses differ for one seed"; exit 1; }
if cmp -s "$tmp/d1/grads.f32" "$tmp/d3/grads.f32"; then echo "FAIL: seeds 7 and 8 gave the same dropout"; exit 1; fi
if cmp -s "$tmp/d1/grads.f32" "$tmp/c/grads.f32"; then echo "FAIL: dropout 0.2 had no effect"; exit 1; fi
# dropout probability 0 with any seed is exactly the reference run
"$SG_BIN" eval gradients "${args[@]}" --dropout 0 --seed 9 -o "$tmp/d0"
cmp "$tmp/d0/grads.f32" "$tmp/c/grads.f32" || { echo "FAIL: dropout 0 changed the gradients"; exit 1; }
echo "train_torch: ok"
