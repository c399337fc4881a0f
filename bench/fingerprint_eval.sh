#!/usr/bin/env bash
# fingerprint_eval.sh — how well `stagegate trace` names the licensee of a leaked
# copy (issue 7's fingerprint table). Benchmark-scale; not part of `make test`
# (tests/integration/bundle.sh and tests/unit/test_bundle.c check the mechanism).
#
# N licensees each get a bundle of one trained model; every copy is unpacked, then
# traced after: (a) nothing, (b) conversion to fp16 and to bf16, (c) Gaussian noise
# of SG_FP_NOISE x each tensor's RMS, (d) fine-tuning on other text (Moby Dick) until
# the held-out loss has moved ~5%, (e) averaging two licensees' copies (are both
# named?). Models never issued (the original, the original fine-tuned or noised, an
# unrelated model) must be traced to nobody. Also reports the fingerprint's change
# in held-out loss.
#
#   bench/fingerprint_eval.sh            SG_FP_N=100 licensees, SG_FP_FT_N=N fine-tuned
#   SG_FP_MODEL=DIR                      an F32 checkpoint to use (default: trains a small
#                                        sotu model, 2 layers, embd 48, 300 steps, cached)
#   SG_FP_EPSILON=0.2                    the fingerprint size (pack --epsilon)
set -euo pipefail
cd "$(dirname "$0")/.."
SG=${SG_BIN:-$PWD/build/stagegate}
PY=/usr/bin/python3
TAMPER=$PWD/bench/fp_tamper.py
N=${SG_FP_N:-100}
FT_N=${SG_FP_FT_N:-$N}
EPS=${SG_FP_EPSILON:-0.2}
NOISE=${SG_FP_NOISE:-0.05}
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cache=${SG_FP_CACHE:-$PWD/build/fp-eval-model}
heldout=$PWD/data/sotu/heldout
other=$PWD/data/moby
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

model=${SG_FP_MODEL:-}
if [[ -z $model ]]; then
  model=$cache/base
  if [[ ! -f $model/model.safetensors ]]; then
    echo "fingerprint_eval: training the base model into $cache (a few minutes)" >&2
    "$SG" tokenizer train --vocab-size 1024 -o "$cache/tok" data/sotu/train 2>/dev/null
    "$SG" train --config models/configs/sotu-small.yaml --tokenizer "$cache/tok" --dtype f32 --threads 1 \
      --eval-interval 0 --checkpoint-interval 0 -o "$model" >/dev/null 2>&1
  fi
fi
model=$(cd "$model" && pwd)
loss() { "$SG" eval perplexity -m "$1" --threads 1 --json "$heldout" 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)["loss"])'; }
finetune() { # SRC DST: 60 steps at a high rate on other text (~5% held-out loss change)
  "$SG" finetune -m "$1" -o "$2" --steps 60 --lr 1.5e-2 --warmup 5 --batch 8 --context 128 --threads 1 \
    --eval-interval 0 --checkpoint-interval 0 "$other" >/dev/null 2>&1
}

cd "$work"
db=$work/db
"$SG" release keygen --db "$db" -o release.pub >/dev/null
printf 'Evaluation license.\n' > LICENSE
t0=$SECONDS
for i in $(seq 1 "$N"); do
  "$SG" licensee keygen -o "k$i" >/dev/null
  "$SG" licensee add --db "$db" --name "lic$i" --public-key "k$i.pub" >/dev/null
  "$SG" pack --db "$db" -m "$model" --to "lic$i" -o "b$i.sgb" --license LICENSE --epsilon "$EPS" >/dev/null
  "$SG" unpack "b$i.sgb" --key "k$i.key" -o "c$i" --release-key release.pub >/dev/null
  rm "b$i.sgb"
done
echo "issued and unpacked $N bundles in $((SECONDS - t0)) s" >&2

results=$work/results.jsonl
trace() { # CONDITION DIR EXPECTED...  (EXPECTED: licensee names, none = nobody)
  local cond=$1 dir=$2; shift 2
  local out; out=$("$SG" trace --db "$db" -m "$dir" --top 1000)
  $PY -c '
import json, sys
r = json.loads(sys.argv[1]); cond = sys.argv[2]; want = sys.argv[3:]
named = sorted(m["licensee"] for m in r["matches"])
others = [s["z"] for s in r["scores"] if s["licensee"] not in want]
print(json.dumps({"cond": cond, "want": want, "licensee": r["licensee"], "named": named,
                  "z": r["z"], "confidence": r["confidence"],
                  "max_other_z": max(others) if others else None}))
' "$out" "$cond" "$@" >> "$results"
}

for i in $(seq 1 "$N"); do
  trace a "c$i" "lic$i"
  "$SG" checkpoint convert "c$i" --dtype f16 -o h >/dev/null; trace b-fp16 h "lic$i"; rm -rf h
  "$SG" checkpoint convert "c$i" --dtype bf16 -o h >/dev/null; trace b-bf16 h "lic$i"; rm -rf h
  $PY "$TAMPER" noise "c$i" h "$NOISE" "$i"; trace c-noise h "lic$i"; rm -rf h
done
echo "traced (a)-(c) in $((SECONDS - t0)) s" >&2
ft_loss=()
for i in $(seq 1 "$FT_N"); do
  finetune "c$i" ft
  ((i <= 3)) && ft_loss+=("$(loss ft)")
  trace d-finetune ft "lic$i"; rm -rf ft
done
echo "traced (d) in $((SECONDS - t0)) s" >&2
for i in $(seq 1 2 $((N - 1))); do
  $PY "$TAMPER" average "c$i" "c$((i + 1))" avg; trace e-average avg "lic$i" "lic$((i + 1))"; rm -rf avg
done
# never issued
trace null-original "$model"
finetune "$model" ft; trace null-finetuned ft; rm -rf ft
$PY "$TAMPER" noise "$model" h "$NOISE" 999; trace null-noise h; rm -rf h
"$SG" checkpoint init --layers 2 --heads 2 --embd 48 --vocab 1024 --ctx 128 --seed 5 -o stranger >/dev/null
trace null-stranger stranger

# held-out loss: original, fingerprinted copies, noise, fine-tuning
base_loss=$(loss "$model")
copy_loss=$(for i in 1 2 3; do loss "c$i"; done | tr '\n' ' ')
$PY "$TAMPER" noise c1 h "$NOISE" 1
noise_loss=$(loss h)

$PY - "$results" "$base_loss" "$copy_loss" "$noise_loss" "${ft_loss[*]}" "$EPS" "$NOISE" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = float(sys.argv[2]); copies = [float(x) for x in sys.argv[3].split()]
noise = float(sys.argv[4]); ft = [float(x) for x in sys.argv[5].split()]
pct = lambda x: 100 * (x - base) / base
print(f"fingerprint epsilon {sys.argv[6]} x RMS; held-out loss (sotu 2011-2021): original {base:.4f}")
print(f"  fingerprinted copies: " + ", ".join(f"{c:.4f} ({pct(c):+.3f}%)" for c in copies))
print(f"  copy + noise {sys.argv[7]} x RMS: {noise:.4f} ({pct(noise):+.2f}%)")
print(f"  copy fine-tuned on Moby Dick: " + ", ".join(f"{c:.4f} ({pct(c):+.2f}%)" for c in ft))
print()
print("| condition | suspects | correct | false accusations | min z of the licensee | max z of others |")
print("|---|---|---|---|---|---|")
order = []
for r in rows:
    if r["cond"] not in order: order.append(r["cond"])
for c in order:
    rs = [r for r in rows if r["cond"] == c]
    if c == "e-average":
        ok = sum(1 for r in rs if r["named"] == sorted(r["want"]))
        one = sum(1 for r in rs if r["licensee"] in r["want"])
        false = sum(1 for r in rs if any(n not in r["want"] for n in r["named"]))
        extra = f" (both named; {one}/{len(rs)} with the top match one of the two)"
    else:
        ok = sum(1 for r in rs if (r["licensee"] in r["want"]) if r["want"]) if rs[0]["want"] else \
             sum(1 for r in rs if r["licensee"] is None)
        false = sum(1 for r in rs if r["licensee"] is not None and r["licensee"] not in r["want"])
        extra = ""
    minz = min((r["z"] for r in rs if r["want"]), default=None)
    maxo = max((r["max_other_z"] for r in rs if r["max_other_z"] is not None), default=None)
    fz = lambda v: "-" if v is None else f"{v:.1f}"
    print(f"| {c} | {len(rs)} | {ok}/{len(rs)} ({100*ok/len(rs):.0f}%){extra} | {false} | {fz(minz)} | {fz(maxo)} |")
EOF
echo "total $((SECONDS - t0)) s" >&2
