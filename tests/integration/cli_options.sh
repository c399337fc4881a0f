#!/usr/bin/env bash
# cli_options.sh — every subcommand's options go through the one parser
# (src/cli/cli_parse.h). The commands are read from main.c's dispatch table,
# and each group's members from its --help, so a new command cannot escape:
#   - `--help` exits 0 and prints "usage: stagegate CMD" to stdout (nothing on stderr);
#   - every option the help lists is known to the parser (a missing value, or a
#     value given to a flag, is reported for that option, not as unknown);
#   - an unknown option exits 2 with "stagegate CMD: unknown option '--no-such-option'";
#   - every typed option (integer, number, one of ...) given 'abc' exits 2 with
#     "stagegate CMD: --OPT: expected <the type the help shows>, got 'abc'";
#   - `--x=v` and `--x v` mean the same (checked on real runs of a few commands).
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}"
cd "$SG_ROOT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run ARGS...: sets rc, out (stdout) and err (stderr); stdin is empty.
run() {
    set +e
    "$SG_BIN" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
    checks=$((checks + 1))
}

# expect_usage_error WANT ARGS...: exit 2, stderr exactly WANT, stdout empty.
expect_usage_error() {
    local want=$1
    shift
    run "$@"
    [[ $rc == 2 && $err == "$want" && -z $out ]] ||
        fail "'$*': expected exit 2 and '$want', got exit $rc, stderr '$err'"
}

# The commands, from the dispatch table in main.c: lines {"name", sg_cmd_...}.
mapfile -t commands < <(sed -n 's/^ *{"\([a-z-]*\)", sg_cmd_[a-z_]*,.*/\1/p' src/cli/main.c)
((${#commands[@]} >= 30)) || fail "only ${#commands[@]} commands found in main.c"

leaves=()
for c in "${commands[@]}"; do
    run $c --help
    [[ $rc == 0 && -z $err ]] || fail "$c --help: exit $rc, stderr '$err'"
    [[ $out == "usage: stagegate $c"* ]] || fail "$c --help: no usage line: ${out%%$'\n'*}"
    if grep -q '^commands:$' "$tmp/out"; then
        # a group: its members are listed under "commands:", one per line
        mapfile -t subs < <(sed -n '/^commands:$/,/^$/s/^  \([a-z-]*\)  .*/\1/p' "$tmp/out")
        ((${#subs[@]})) || fail "$c --help lists no sub-commands"
        for s in "${subs[@]}"; do
            grep -q "stagegate $c $s" "$tmp/out" || fail "$c --help: no usage line for $s"
            leaves+=("$c $s")
        done
        run $c
        [[ $rc == 2 && $err == "stagegate $c: expected a sub-command:"* ]] || fail "$c alone: exit $rc, '$err'"
        run $c no-such-verb
        [[ $rc == 2 && $err == "stagegate $c: unknown sub-command 'no-such-verb'"* ]] ||
            fail "$c no-such-verb: exit $rc, '$err'"
    else
        leaves+=("$c")
    fi
done

n_options=0 n_typed=0
for leaf in "${leaves[@]}"; do
    run $leaf --help
    [[ $rc == 0 && -z $err ]] || fail "$leaf --help: exit $rc, stderr '$err'"
    [[ $out == "usage: stagegate $leaf"* ]] || fail "$leaf --help: no usage line: ${out%%$'\n'*}"
    grep -q '^  -h, --help ' "$tmp/out" || fail "$leaf --help does not list --help"
    help=$(cat "$tmp/out")

    expect_usage_error "stagegate $leaf: unknown option '--no-such-option'" $leaf --no-such-option=1
    eq_checked=0

    # Each option line: "  -x, --name ARG   help (annotation)" or "      --name   help".
    while IFS= read -r line; do
        [[ $line =~ ^\ \ (-[a-zA-Z],\ |\ \ \ \ )--([a-z0-9-]+)(\ ([^ ]+))?\ \ +(.*)$ ]] || continue
        name=${BASH_REMATCH[2]} arg=${BASH_REMATCH[4]} text=${BASH_REMATCH[5]}
        [[ $name == help ]] && continue
        n_options=$((n_options + 1))
        if [[ -z $arg ]]; then
            expect_usage_error "stagegate $leaf: --$name: takes no value, got 'x'" $leaf --$name=x
        else
            expect_usage_error "stagegate $leaf: --$name: missing value $arg" $leaf --$name
            want=
            if [[ $text =~ \((required\;\ )?(integer[^\;\)]*) ]]; then
                want="an ${BASH_REMATCH[2]}"
            elif [[ $text =~ \((required\;\ )?(number[^\;\)]*) ]]; then
                want="a ${BASH_REMATCH[2]}"
            elif [[ $text =~ \((required\;\ )?(one\ of\ [^\;\)]*) ]]; then
                want=${BASH_REMATCH[2]}
            fi
            if [[ -n $want ]]; then
                n_typed=$((n_typed + 1))
                expect_usage_error "stagegate $leaf: --$name: expected $want, got 'abc'" $leaf --$name abc
                if ((!eq_checked)); then # the --x=v form once per command (each run is a process)
                    expect_usage_error "stagegate $leaf: --$name: expected $want, got 'abc'" $leaf --$name=abc
                    eq_checked=1
                fi
            fi
        fi
    done <<<"$help"
done
echo "checked ${#commands[@]} commands, ${#leaves[@]} leaf commands, $n_options options ($n_typed typed)"
((n_typed >= 20)) || fail "only $n_typed typed options found in the help texts"

# The wording of the issue, exactly.
expect_usage_error "stagegate generate: --max-tokens: expected an integer from 0 to 1048576, got 'abc'" \
    generate -m x -p hi -n abc
expect_usage_error "stagegate moderate: --policy: missing value FILE" moderate --policy
expect_usage_error "stagegate moderate: unknown option '--polcy' (did you mean '--policy'?)" moderate --polcy x
expect_usage_error "stagegate serve: --policy FILE is required" serve --db x.db
expect_usage_error "stagegate checkpoint info: missing DIR" checkpoint info
expect_usage_error "stagegate checkpoint info: unexpected argument 'b'" checkpoint info a b
expect_usage_error "stagegate generate: --stop: given more than 4 times" \
    generate --stop a --stop b --stop c --stop d --stop e
expect_usage_error "stagegate risk record: --status: expected one of not_started, pending, in_progress, completed, got 'done'" \
    risk record --policy p --stage s --status done --file f

# --x=v and --x v are the same, on real runs.
run moderate --policy examples/release.yaml
a=$(grep -v '"id"' "$tmp/out")
run moderate --policy=examples/release.yaml
[[ $rc == 0 && $(grep -v '"id"' "$tmp/out") == "$a" && -n $a ]] || fail "moderate --policy=FILE differs"
db=$tmp/k.db
run keys create --db "$db" --name=one --audience=internal_devs --rpm=7
[[ $rc == 0 ]] || fail "keys create with --x=v: $err"
run keys create --db="$db" --name two --audience internal_devs --rpm 7
[[ $rc == 0 ]] || fail "keys create with --x v: $err"
run keys list --db="$db"
list_eq=$out
run keys list --db "$db"
[[ $out == "$list_eq" ]] || fail "keys list --db=PATH differs from --db PATH"
grep -Eq '^1 +one +internal_devs +7 ' <<<"$out" && grep -Eq '^2 +two +internal_devs +7 ' <<<"$out" ||
    fail "keys made with --x=v and --x v differ: $out"
run eval list --db="$db" --suites
a=$out
run eval list --db "$db" --suites
[[ $rc == 0 && $out == "$a" ]] || fail "eval list --db=PATH differs"
run policy check --json examples/release.yaml
a=$out
run policy check examples/release.yaml --json
[[ $rc == 0 && $out == "$a" ]] || fail "policy check: options after the file differ"
# `--` ends the options.
run tokenize --model=/nonexistent -- --decode
[[ $rc == 1 && $err == *"/nonexistent"* ]] || fail "tokenize -- : exit $rc, '$err'"

echo "$checks runs"
((fails == 0)) || { echo "cli_options: $fails failures"; exit 1; }
echo "cli_options: ok"
