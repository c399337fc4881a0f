#!/usr/bin/env bash
# The held-out loss of the committed models/sotu-small as `stagegate eval
# perplexity` reports it equals an independent PyTorch forward pass over the
# same safetensors (tests/reference/perplexity_torch.py, float64, its own
# bf16 decoding and windowing) to 1e-3 nats/token, on the same tokens (ids
# from `stagegate tokenize`, whose encoder tokenizer_gpt2.sh checks against
# GPT-2's). Bits per byte follow from the same total.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}" "${SG_BUILD:=$SG_ROOT/build}"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
M=$SG_ROOT/models/sotu-small
work=$(mktemp -d "$SG_BUILD/ref-ppl.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mapfile -t files < <(ls "$SG_ROOT"/data/sotu/heldout/*.txt | LC_ALL=C sort)
((${#files[@]})) || fail "no held-out text (run scripts/setup)"
"$SG_BIN" eval perplexity -m "$M" --threads 1 --json "${files[@]}" 2>/dev/null >"$work/ours.json"
"$SG_BIN" tokenize -m "$M" "${files[@]}" >"$work/ids.txt"
/usr/bin/python3 "$SG_ROOT/tests/reference/perplexity_torch.py" "$M" "$work/ids.txt" >"$work/ref.json"
echo "stagegate: $(cat "$work/ours.json")"
echo "pytorch:   $(cat "$work/ref.json")"
bytes=$(cat "${files[@]}" | wc -c)
/usr/bin/python3 - "$work/ours.json" "$work/ref.json" "$bytes" <<'PY' || fail "stagegate and PyTorch disagree"
import json, math, sys
ours, ref, nbytes = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
assert ours["tokens"] == ref["tokens"], (ours["tokens"], ref["tokens"])
d = abs(ours["loss"] - ref["loss"])
print(f"|loss difference| = {d:.2e} nats/token over {ref['tokens']} tokens")
assert d <= 1e-3, d
bpb = ref["nats"] / math.log(2) / nbytes
assert ours["bytes"] == nbytes and abs(ours["bpb"] - bpb) <= 1e-3, (ours["bpb"], bpb)
print(f"bits per byte: stagegate {ours['bpb']:.5f}, pytorch {bpb:.5f}")
PY
