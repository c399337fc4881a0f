# checkpoint_shapes.sh — `stagegate checkpoint init/info/convert` end to end:
# all four GPT-2 shapes load (124M with real random weights; 355M, 774M and
# 1.5B as sparse all-zero files so CI does not write gigabytes, but the same
# header parsing, validation and mapping run), dtype conversion, determinism,
# tokenizer copy, and CLI errors on bad files.
set -euo pipefail
: "${SG_BIN:?SG_BIN must point at the stagegate binary}"

T=$(mktemp -d /tmp/sg_ckpt_shapes.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
check() { # check DESCRIPTION COMMAND...
    if "${@:2}"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}
has() { grep -qF -- "$2" "$1"; }
quiet() { "$@" >/dev/null; }
field() { sed -n "s/^$2 *//p" "$1"; }

# The four GPT-2 shapes: name, layers, heads, embd, params.
while read -r shape L H C params; do
    dir="$T/$shape"
    if [ "$shape" = 124M ]; then
        "$SG_BIN" checkpoint init --shape "$shape" --seed 7 -o "$dir" >/dev/null
    else
        "$SG_BIN" checkpoint init --shape "$shape" --zeros -o "$dir" >/dev/null
    fi
    "$SG_BIN" checkpoint info "$dir" >"$T/info.txt"
    check "$shape shape" has "$T/info.txt" "$shape (layers $L, heads $H, embd $C, vocab 50257, ctx 1024, inner $((4 * C)))"
    check "$shape params" has "$T/info.txt" "params      $params "
    check "$shape F32 mapped in place" has "$T/info.txt" "memory      $((4 * params)) bytes mapped in place, 0 bytes converted"
    header=$(field "$T/info.txt" file | sed 's/.*header \([0-9]*\) bytes/\1/')
    size=$(stat -c %s "$dir/model.safetensors")
    check "$shape file size = 8 + header + 4*params" test "$size" -eq $((8 + header + 4 * params))
    check "$shape config.json" grep -q "\"n_layer\": $L," "$dir/config.json"
    [ "$shape" = 124M ] || rm -rf "$dir"
done <<'EOF'
124M 12 12 768 124439808
355M 24 16 1024 354823168
774M 36 20 1280 774030080
1.5B 48 25 1600 1557611200
EOF
check "124M random weights are finite" quiet "$SG_BIN" checkpoint info "$T/124M" --check
check "124M seed recorded" has <("$SG_BIN" checkpoint info "$T/124M") "metadata    seed=7"
rm -rf "$T/124M"

# Custom shapes, determinism, conversions.
small=(--layers 2 --heads 4 --embd 64 --vocab 300 --ctx 32 --inner 96)
mkdir "$T/tok"
printf '{"!": 0, "\\"": 1}' >"$T/tok/encoder.json"
printf '#version: 0.2\n' >"$T/tok/vocab.bpe"
"$SG_BIN" checkpoint init "${small[@]}" --seed 5 --tokenizer "$T/tok" -o "$T/a" >/dev/null
"$SG_BIN" checkpoint init "${small[@]}" --seed 5 -o "$T/b" >/dev/null
"$SG_BIN" checkpoint init "${small[@]}" --seed 6 -o "$T/c" >/dev/null
check "same seed, same bytes" cmp -s "$T/a/model.safetensors" "$T/b/model.safetensors"
# Random init runs in parallel: the bytes must not depend on the thread count.
wide=(--layers 1 --heads 2 --embd 64 --vocab 3000 --ctx 16 --seed 9)
OMP_NUM_THREADS=1 "$SG_BIN" checkpoint init "${wide[@]}" -o "$T/t1" >/dev/null
OMP_NUM_THREADS=2 "$SG_BIN" checkpoint init "${wide[@]}" -o "$T/t2" >/dev/null
OMP_NUM_THREADS=3 "$SG_BIN" checkpoint init "${wide[@]}" -o "$T/t3" >/dev/null
check "init independent of thread count" bash -c "cmp -s '$T/t1/model.safetensors' '$T/t2/model.safetensors' &&
    cmp -s '$T/t1/model.safetensors' '$T/t3/model.safetensors'"
check "other seed, other weights" bash -c "! cmp -s '$T/a/model.safetensors' '$T/c/model.safetensors'"
check "tokenizer copied from encoder.json" cmp -s "$T/tok/encoder.json" "$T/a/vocab.json"
check "tokenizer copied from vocab.bpe" cmp -s "$T/tok/vocab.bpe" "$T/a/merges.txt"
check "custom n_inner in config" grep -q '"n_inner": 96' "$T/a/config.json"
"$SG_BIN" checkpoint info "$T/a" >"$T/info.txt"
check "custom shape" has "$T/info.txt" "custom (layers 2, heads 4, embd 64, vocab 300, ctx 32, inner 96)"
params=$(field "$T/info.txt" params | cut -d' ' -f1)
for d in f16 bf16; do
    "$SG_BIN" checkpoint convert "$T/a" --dtype $d -o "$T/a_$d" >/dev/null
    "$SG_BIN" checkpoint info "$T/a_$d" >"$T/info.txt"
    D=$(echo $d | tr a-z A-Z)
    check "convert to $d: dtype" has "$T/info.txt" "dtype       $D"
    check "convert to $d: converted once on load" has "$T/info.txt" "0 bytes mapped in place, $((4 * params)) bytes converted"
    check "convert to $d: half the bytes" test "$(stat -c %s "$T/a_$d/model.safetensors")" -lt $((2 * params + 20000))
    check "convert to $d: tokenizer kept" cmp -s "$T/a/vocab.json" "$T/a_$d/vocab.json"
    check "convert to $d: provenance" has "$T/info.txt" "metadata    converted_from=F32"
    # Half -> F32 -> half is exact: the data regions match byte for byte.
    "$SG_BIN" checkpoint convert "$T/a_$d" --dtype f32 -o "$T/a_${d}_32" >/dev/null
    "$SG_BIN" checkpoint convert "$T/a_${d}_32" --dtype $d -o "$T/a_${d}_again" >/dev/null
    check "convert $d -> f32 -> $d is exact" cmp -s <(tail -c $((2 * params)) "$T/a_$d/model.safetensors") \
        <(tail -c $((2 * params)) "$T/a_${d}_again/model.safetensors")
done

# Errors: exit 1 with a message naming the problem; usage errors exit 2.
err_case() { # err_case DESCRIPTION EXPECTED_STATUS EXPECTED_TEXT COMMAND...
    local status=0
    "${@:4}" >/dev/null 2>"$T/err.txt" || status=$?
    check "$1: exit $2" test "$status" -eq "$2"
    check "$1: says '$3'" has "$T/err.txt" "$3"
}
cp -r "$T/a" "$T/bad"
truncate -s -100 "$T/bad/model.safetensors"
err_case "truncated file" 1 "out of range: the data region has" "$SG_BIN" checkpoint info "$T/bad"
printf '\xff\xff\xff\x00\x00\x00\x00\x00{}' >"$T/bad/model.safetensors"
err_case "header past the end" 1 "header length 16777215 is past the end of the file (10 bytes)" \
    "$SG_BIN" checkpoint info "$T/bad"
printf '\x04\x00\x00\x00\x00\x00\x00\x00{"a"' >"$T/bad/model.safetensors"
err_case "bad JSON" 1 "header JSON: line 1" "$SG_BIN" checkpoint info "$T/bad"
cp "$T/a/model.safetensors" "$T/bad/"
sed -i 's/"n_layer": 2/"n_layer": 3/' "$T/bad/config.json"
err_case "config/tensor disagreement" 1 "says n_layer=3 but" "$SG_BIN" checkpoint info "$T/bad"
err_case "missing directory" 1 "stagegate checkpoint: $T/nowhere/config.json" "$SG_BIN" checkpoint info "$T/nowhere"
err_case "unknown shape" 1 "unknown shape '3B'" "$SG_BIN" checkpoint init --shape 3B -o "$T/x"
err_case "bad dtype" 2 "unknown dtype 'f8'" "$SG_BIN" checkpoint convert "$T/a" --dtype f8 -o "$T/x"
err_case "no output" 2 "init needs -o DIR" "$SG_BIN" checkpoint init --shape 124M
err_case "incomplete dims" 2 "init needs --shape, or all of" "$SG_BIN" checkpoint init --layers 2 -o "$T/x"
err_case "heads do not divide" 1 "n_embd = 64 is not a multiple of n_head = 3" \
    "$SG_BIN" checkpoint init --layers 1 --heads 3 --embd 64 --vocab 10 --ctx 8 -o "$T/x"
check "--help" has <("$SG_BIN" checkpoint --help) "stagegate checkpoint convert DIR"

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
