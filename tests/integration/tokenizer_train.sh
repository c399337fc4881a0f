#!/usr/bin/env bash
# tokenizer_train.sh — `stagegate tokenizer train` on the SOTU training years:
# reload with `stagegate tokenize`, round trips (training and held-out text,
# invalid UTF-8), determinism (two runs, identical files), compression, and
# the command's errors.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}"
cd "$SG_ROOT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
[[ -d data/sotu/train ]] || fail "corpus missing (scripts/corpus)"

start=$(date +%s.%N)
"$SG_BIN" tokenizer train --vocab-size 4096 -o "$tmp/a" data/sotu/train 2>"$tmp/log" || { cat "$tmp/log"; fail "training failed"; }
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
echo "trained on $(cat data/sotu/train/*.txt | wc -c) bytes in ${secs}s: $(tail -1 "$tmp/log")"
"$SG_BIN" tokenizer train -n 4096 -o "$tmp/b" data/sotu/train 2>/dev/null
cmp "$tmp/a/vocab.json" "$tmp/b/vocab.json" || fail "vocab.json differs between two runs"
cmp "$tmp/a/merges.txt" "$tmp/b/merges.txt" || fail "merges.txt differs between two runs"
[[ $(head -1 "$tmp/a/merges.txt") == "#version: 0.2" ]] || fail "merges.txt lacks the version line"
[[ $(sed -n '$!h; $x; $p' "$tmp/a/vocab.json") == '"<|endoftext|>": 4095' ]] || fail "<|endoftext|> is not the last id"

# Reload and round-trip; the vocabulary compresses its own domain.
cat data/sotu/train/*.txt >"$tmp/all.txt"
head -c 2000000 "$tmp/all.txt" >"$tmp/train.txt" # 2 MB of it: enough, and quick
cat data/sotu/heldout/*.txt >"$tmp/heldout.txt"
for f in train heldout; do
    "$SG_BIN" tokenize -m "$tmp/a" <"$tmp/$f.txt" >"$tmp/$f.ids"
    "$SG_BIN" tokenize -m "$tmp/a" --decode <"$tmp/$f.ids" | cmp -s - "$tmp/$f.txt" || fail "$f text does not round-trip"
    bytes=$(wc -c <"$tmp/$f.txt") ids=$(wc -w <"$tmp/$f.ids")
    ratio=$(awk -v b="$bytes" -v i="$ids" 'BEGIN { printf "%.2f", b / i }')
    echo "$f: $bytes bytes -> $ids ids ($ratio bytes/token)"
    awk -v r="$ratio" 'BEGIN { exit !(r > 3.5) }' || fail "$f: only $ratio bytes per token"
    awk -v max=4095 '{ for (i = 1; i <= NF; i++) if ($i < 0 || $i > max) exit 1 }' "$tmp/$f.ids" || fail "$f: id out of range"
done
# Special token: with --special it is the last id; without, ordinary text.
[[ $(printf '<|endoftext|>' | "$SG_BIN" tokenize -m "$tmp/a" --special) == "4095" ]] || fail "--special"
[[ $(printf '<|endoftext|>' | "$SG_BIN" tokenize -m "$tmp/a") != "4095" ]] || fail "<|endoftext|> special without --special"

# Invalid UTF-8 in the corpus trains and round-trips.
{ head -c 20000 "$tmp/heldout.txt"; printf '\xff\xfe\xc3\x28 caf\xe9 \xed\xa0\x80\n'; } >"$tmp/bad.txt"
"$SG_BIN" tokenizer train -n 300 -o "$tmp/bad" "$tmp/bad.txt" 2>/dev/null || fail "training on invalid UTF-8"
"$SG_BIN" tokenize -m "$tmp/bad" <"$tmp/bad.txt" | "$SG_BIN" tokenize -m "$tmp/bad" --decode | cmp -s - "$tmp/bad.txt" ||
    fail "invalid UTF-8 does not round-trip"

# Errors.
expect_error() { # expect_error STATUS PATTERN ARGS...
    local want=$1 pat=$2 rc=0
    shift 2
    "$SG_BIN" "$@" >/dev/null 2>"$tmp/err" || rc=$?
    [[ $rc == "$want" ]] || fail "'$*' exited $rc, expected $want"
    grep -q -- "$pat" "$tmp/err" || fail "'$*': message lacks '$pat': $(cat "$tmp/err")"
}
: >"$tmp/empty.txt"
expect_error 2 "stagegate tokenizer train: --vocab-size: expected an integer from 257 to 1048576, got .256." tokenizer train -n 256 -o "$tmp/x" "$tmp/train.txt"
expect_error 2 "stagegate tokenizer train: --vocab-size: expected an integer from 257 to 1048576, got .many." tokenizer train -n many -o "$tmp/x" "$tmp/train.txt"
expect_error 2 "at least one file" tokenizer train -n 300 -o "$tmp/x"
expect_error 1 "corpus is empty" tokenizer train -n 300 -o "$tmp/x" "$tmp/empty.txt"
expect_error 1 "nonexistent.txt" tokenizer train -n 300 -o "$tmp/x" "$tmp/nonexistent.txt"
printf 'ab ab' >"$tmp/tiny.txt"
expect_error 1 "too little text" tokenizer train -n 1000 -o "$tmp/x" "$tmp/tiny.txt"
expect_error 2 "expected a sub-command" tokenizer
expect_error 1 "expected a token id" tokenize -m "$tmp/a" --decode <<<"12 x3"
"$SG_BIN" tokenizer train --help | grep -q "vocab-size" || fail "--help"
echo "tokenizer_train: ok"
