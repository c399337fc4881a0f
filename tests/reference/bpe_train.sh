#!/usr/bin/env bash
# bpe_train.sh — `stagegate tokenizer train` against a naive BPE trainer in
# JavaScript (tests/reference/bpe_train_ref.js, same specification, simplest
# algorithm): identical merges.txt and vocab.json. Then the reference GPT-2
# encoder (npm gpt-3-encoder) loaded with the trained files encodes held-out
# text to the same ids as `stagegate tokenize`.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}"
cd "$SG_ROOT"
command -v node >/dev/null || { echo "FAIL: node not found"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# About 250 KB: every 40th address of the training years.
mapfile -t files < <(ls data/sotu/train/*.txt | awk 'NR % 40 == 1')
((${#files[@]} > 3)) || { echo "FAIL: corpus missing (scripts/corpus)"; exit 1; }
echo "training on ${#files[@]} files, $(cat "${files[@]}" | wc -c) bytes"

"$SG_BIN" tokenizer train --vocab-size 700 -o "$tmp/c" "${files[@]}" 2>/dev/null
node tests/reference/bpe_train_ref.js 700 "$tmp/js" "${files[@]}"
cmp "$tmp/c/merges.txt" "$tmp/js/merges.txt" || { echo "FAIL: merges.txt differs from the reference trainer"; diff "$tmp/c/merges.txt" "$tmp/js/merges.txt" | head; exit 1; }
node -e '
  const a = require(process.argv[1]), b = require(process.argv[2]);
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== 700 || kb.length !== 700 || !ka.every(k => a[k] === b[k])) { console.log("FAIL: vocab.json differs"); process.exit(1); }
' "$tmp/c/vocab.json" "$tmp/js/vocab.json"
echo "merges.txt and vocab.json identical to the reference trainer ($(($(wc -l <"$tmp/c/merges.txt") - 1)) merges)"

# Small synthetic corpora over two or three letters: many equal counts, so
# the tie rule and overlapping pairs ("aaa") decide most merges.
node -e '
  let x = 12345;
  const rnd = n => { x = (x * 1103515245 + 12345) % 2147483648; return Math.floor(x / 65536) % n; };
  for (let f = 0; f < 6; f++) {
    const al = ["ab", "abc", "aab"][f % 3], words = [];
    for (let i = 0; i < 30 + rnd(60); i++) { let w = ""; for (let k = 0, n = 2 + rnd(10); k < n; k++) w += al[rnd(al.length)]; words.push(w); }
    const out = [];
    for (let i = 0; i < 400; i++) out.push(words[rnd(words.length)]);
    require("fs").writeFileSync(process.argv[1] + "/syn" + f + ".txt", out.join(f % 2 ? " " : "\n"));
  }' "$tmp"
for f in "$tmp"/syn*.txt; do
    "$SG_BIN" tokenizer train -n 275 -o "$tmp/sc" "$f" 2>/dev/null || { echo "FAIL: training on $(basename "$f")"; exit 1; }
    node tests/reference/bpe_train_ref.js 275 "$tmp/sj" "$f"
    cmp -s "$tmp/sc/merges.txt" "$tmp/sj/merges.txt" || { echo "FAIL: $(basename "$f"): merges differ"; exit 1; }
done
echo "6 synthetic corpora: merges identical to the reference trainer"

# The reference encoder, given the trained files, agrees with stagegate.
cp -r node_modules/gpt-3-encoder "$tmp/enc"
cp "$tmp/c/vocab.json" "$tmp/enc/encoder.json"
cp "$tmp/c/merges.txt" "$tmp/enc/vocab.bpe"
held=(data/sotu/heldout/*.txt)
cat "${held[@]:0:2}" >"$tmp/heldout.txt"
want=$(SG_GPT2_ENCODER_DIR="$tmp/enc" node tests/reference/gpt2_ref.js "$tmp/heldout.txt")
got=$("$SG_BIN" tokenize -m "$tmp/c" <"$tmp/heldout.txt")
[[ $got == "$want" ]] || { echo "FAIL: ids on held-out text differ from the reference encoder with the trained vocabulary"; exit 1; }
echo "held-out text: $(wc -w <<<"$got") ids, identical to the reference encoder"
echo "bpe_train: ok"
