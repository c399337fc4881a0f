#!/usr/bin/env bash
# stagegate train: N steps in one run == N/2 steps, stop, resume for the rest
# (bit-identical weights and optimizer state, with dropout and gradient
# accumulation on); Ctrl-C saves a loadable checkpoint; fine-tuning with frozen
# layers leaves them untouched; eval perplexity; bad input gives clear errors.
set -euo pipefail
SG_BIN=${SG_BIN:-build/stagegate}
SG_ROOT=${SG_ROOT:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

corpus=("$SG_ROOT"/data/sotu/train/18{0,1}*.txt)
"$SG_BIN" tokenizer train --vocab-size 300 -o "$tmp/tok" "${corpus[@]}" 2>/dev/null
common=(--tokenizer "$tmp/tok" --layers 2 --heads 2 --embd 32 --context 32 --batch 4 --grad-accum 2
        --steps 12 --warmup 3 --lr 3e-3 --dropout-embd 0.1 --dropout-attn 0.1 --dropout-resid 0.1
        --eval-interval 4 --eval-batches 2 --val-fraction 0.2 --threads 1 --seed 5)
"$SG_BIN" train "${common[@]}" -o "$tmp/full" "${corpus[@]}" 2>"$tmp/full.log"
"$SG_BIN" train "${common[@]}" --stop-after 6 -o "$tmp/half" "${corpus[@]}" 2>"$tmp/half1.log"
grep -q "stopping after step 6" "$tmp/half1.log" || fail "stop-after did not stop at step 6"
[[ $(wc -l <"$tmp/half/train_log.jsonl") == 6 ]] || fail "first half logged $(wc -l <"$tmp/half/train_log.jsonl") steps"
"$SG_BIN" train "${common[@]}" --resume -o "$tmp/half" "${corpus[@]}" 2>"$tmp/half2.log"
grep -q "resuming at step 6" "$tmp/half2.log" || fail "resume did not start at step 6"
cmp "$tmp/full/model.safetensors" "$tmp/half/model.safetensors" || fail "resumed weights differ from one run"
cmp "$tmp/full/train_state.bin" "$tmp/half/train_state.bin" || fail "resumed optimizer state differs"
[[ $(wc -l <"$tmp/half/train_log.jsonl") == 12 ]] || fail "resumed log has $(wc -l <"$tmp/half/train_log.jsonl") lines"
# the two logs agree line by line except for timing
diff <(jq -c 'del(.tokens_per_s)' "$tmp/full/train_log.jsonl") <(jq -c 'del(.tokens_per_s)' "$tmp/half/train_log.jsonl") \
  || fail "training logs differ"
# loss went down and the log has every field
first=$(head -1 "$tmp/full/train_log.jsonl" | jq .train_loss); last=$(tail -1 "$tmp/full/train_log.jsonl" | jq .train_loss)
jq -e '.step and .lr and .train_loss and .grad_norm and .tokens_per_s' "$tmp/full/train_log.jsonl" >/dev/null
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' || fail "loss did not fall ($first -> $last)"
[[ $(jq '.val_loss' "$tmp/full/train_log.jsonl" | grep -vc null) == 3 ]] || fail "expected 3 validation losses"
for f in config.json model.safetensors vocab.json merges.txt config.train.json train_log.jsonl; do
  [[ -s $tmp/full/$f ]] || fail "missing $f"
done
# the recorded config replays: same settings, same weights
"$SG_BIN" train --config "$tmp/full/config.train.json" -o "$tmp/replay" 2>/dev/null
cmp "$tmp/full/model.safetensors" "$tmp/replay/model.safetensors" || fail "config.train.json does not replay the run"

# eval perplexity loads the checkpoint
out=$("$SG_BIN" eval perplexity -m "$tmp/full" --threads 1 --json "$SG_ROOT"/data/sotu/heldout/2011*.txt)
echo "$out" | jq -e '.loss > 0 and .loss < 8 and .tokens > 1000 and (.perplexity - (.loss | exp) | fabs) < 0.01' >/dev/null \
  || fail "eval perplexity: $out"
# bits per byte: the total loss over ln 2 over the files' UTF-8 bytes; every token after the first scored
bytes=$(cat "$SG_ROOT"/data/sotu/heldout/2011*.txt | wc -c)
echo "$out" | jq -e --argjson b "$bytes" '.bytes == $b and ((.bpb - .nats / (2 | log) / $b) | fabs) < 1e-5 and ((.nats - .loss * .tokens) | fabs) < 0.01 * .tokens and .unigram_loss > 0' >/dev/null \
  || fail "eval perplexity bpb: $out (bytes $bytes)"
# (the document's end-of-text marker and its tokens: all but the first predicted)
ntok=$("$SG_BIN" tokenize -m "$tmp/full" "$SG_ROOT"/data/sotu/heldout/2011*.txt | wc -w)
echo "$out" | jq -e --argjson n "$ntok" '.tokens == $n' >/dev/null || fail "eval perplexity scored $(echo "$out" | jq .tokens) of $ntok tokens"

# eval curve: an SVG of the training log, well-formed, with a text alternative and one train point per logged step
"$SG_BIN" eval curve -m "$tmp/full" --title tiny -o "$tmp/curve.svg"
/usr/bin/python3 - "$tmp/curve.svg" "$tmp/full/train_log.jsonl" <<'PY' || fail "eval curve: $(head -c 400 "$tmp/curve.svg")"
import json, sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
log = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert root.find(ns + "title").text == "tiny: training curve"
desc = root.find(ns + "desc").text
assert "%.3f" % log[-1]["train_loss"] in desc, desc
lines = root.findall(ns + "polyline")
assert len(lines[0].get("points").split()) == sum(1 for r in log if r["train_loss"] is not None)
evals = sum(1 for r in log if r.get("val_loss") is not None)
assert len(root.findall(ns + "circle")) == evals and (len(lines) == 2) == (evals > 0)
PY

# eval sample: deterministic for a seed, continues the prompt
s1=$("$SG_BIN" eval sample -m "$tmp/full" --seed 3 -n 20 "The Congress")
s2=$("$SG_BIN" eval sample -m "$tmp/full" --seed 3 -n 20 "The Congress")
[[ $s1 == "$s2" && $s1 == "The Congress"* && ${#s1} -gt 14 ]] || fail "eval sample: '$s1' vs '$s2'"

# Ctrl-C: saves a checkpoint and exits 0
"$SG_BIN" train "${common[@]}" --steps 100000 --eval-interval 0 -o "$tmp/int" "${corpus[@]}" 2>"$tmp/int.log" &
pid=$!
for _ in $(seq 100); do [[ -s $tmp/int/train_log.jsonl ]] && break; sleep 0.2; done
kill -INT $pid
wait $pid || fail "interrupted training exited $?"
grep -q "interrupted" "$tmp/int.log" || fail "no interruption message"
"$SG_BIN" checkpoint info "$tmp/int" >/dev/null || fail "checkpoint after Ctrl-C does not load"
ls "$tmp/int" | grep -q '\.tmp\.' && fail "temporary files left behind"

# fine-tuning: frozen layers and embeddings stay bit-identical, the rest moves
"$SG_BIN" finetune -m "$tmp/full" --freeze-layers 1 --layer-lr-decay 0.5 --steps 3 --warmup 1 --context 32 --batch 4 \
  --threads 1 --eval-interval 0 -o "$tmp/ft" "$SG_ROOT"/data/sotu/train/190*.txt 2>/dev/null
/usr/bin/python3 - "$tmp/full/model.safetensors" "$tmp/ft/model.safetensors" <<'PY' || fail "finetune freezing"
import json, struct, sys
def load(p):
    raw = open(p, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]; h = json.loads(raw[8:8 + n])
    return {k: raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items() if k != "__metadata__"}
a, b = load(sys.argv[1]), load(sys.argv[2])
frozen = [k for k in a if k.startswith(("h.0.", "wte", "wpe"))]
moved = [k for k in a if k.startswith("h.1.") and k.endswith("weight")]
assert frozen and moved
bad = [k for k in frozen if a[k] != b[k]]
assert not bad, f"frozen tensors changed: {bad}"
same = [k for k in moved if a[k] == b[k]]
assert not same, f"trainable tensors did not change: {same}"
PY

# bad input
expect_error() { # expected-substring command...
  local want=$1; shift
  if "$@" >"$tmp/err.out" 2>&1; then fail "succeeded: $*"; fi
  grep -q -- "$want" "$tmp/err.out" || { cat "$tmp/err.out"; fail "expected '$want'"; }
}
: >"$tmp/empty.txt"
expect_error "holds no text" "$SG_BIN" train --tokenizer "$tmp/tok" -o "$tmp/bad" "$tmp/empty.txt"
printf 'Tiny.' >"$tmp/tiny.txt"
expect_error "corpus too small" "$SG_BIN" train --tokenizer "$tmp/tok" --val-fraction 0 -o "$tmp/bad" "$tmp/tiny.txt"
expect_error "longer than the positional table" "$SG_BIN" train --tokenizer "$tmp/tok" --context 64 --n-ctx 32 -o "$tmp/bad" "${corpus[@]}"
expect_error "longer than the positional table" "$SG_BIN" finetune -m "$tmp/full" --context 64 -o "$tmp/bad" "${corpus[@]}"
expect_error "incompatible checkpoint" "$SG_BIN" train "${common[@]}" --embd 64 --resume -o "$tmp/half" "${corpus[@]}"
printf 'layers: 2\nlearning_rate: 3\n' >"$tmp/bad.yaml"
expect_error "bad.yaml:2:1: unknown setting 'learning_rate'" "$SG_BIN" train --config "$tmp/bad.yaml" -o "$tmp/bad"
printf 'layers: two\n' >"$tmp/bad2.yaml"
expect_error "bad2.yaml:1:9: layers: 'two' is not an integer" "$SG_BIN" train --config "$tmp/bad2.yaml" -o "$tmp/bad"
mkdir "$tmp/nodocs"
expect_error "no .txt files" "$SG_BIN" train --tokenizer "$tmp/tok" -o "$tmp/bad" "$tmp/nodocs"
echo "train_resume: ok"
