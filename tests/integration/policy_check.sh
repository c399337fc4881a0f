#!/usr/bin/env bash
# policy_check.sh — `stagegate policy check` on valid and invalid policies:
# exit codes, the stage table, warnings and FILE:LINE:COL errors.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}"
cd "$SG_ROOT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# run FILE -> sets rc, out, err
run() {
    set +e
    "$SG_BIN" policy "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

# The project's example: valid, no warnings, four stages in the table.
run check examples/release.yaml
[ "$rc" -eq 0 ] || fail "examples/release.yaml: exit $rc: $err"
grep -q "warning" "$tmp/err" && fail "examples/release.yaml has warnings: $err"
grep -q "^policy examples/release.yaml: valid" "$tmp/out" || fail "no 'valid' line"
grep -q "current stage 'Internal Alpha'" "$tmp/out" || fail "current stage not shown"
grep -q "^ STAGE *AUDIENCES *MODELS *ACCESS" "$tmp/out" || fail "no table header: $out"
for stage in "Internal Alpha" "Trusted Partners" "Public API" "Downloadable"; do
    grep -q "$stage" "$tmp/out" || fail "stage $stage missing from the table"
done
# The current stage is marked and serves sotu-small to internal_devs only.
grep -Eq '^\*Internal Alpha +internal_devs +sotu-small +gradual/fully_closed/fully_closed' "$tmp/out" ||
    fail "row of the current stage wrong: $out"
grep -q "60 days in 'Public API'" "$tmp/out" || fail "gates not shown"

# Our starter-shaped fixture: valid, no warnings, cumulative audiences.
run check tests/fixtures/policies/starter-shaped.yaml
[ "$rc" -eq 0 ] || fail "starter-shaped: exit $rc: $err"
[ -z "$err" ] || fail "starter-shaped printed to stderr: $err"
grep -Eq '^ General Availability +internal_devs, ' "$tmp/out" || fail "cumulative audiences: $out"
grep -q "monitoring: weekly; incident response plan: runbooks/incident.md" "$tmp/out" || fail "starter keys: $out"

# The starter from the product brief, when this checkout has it next door.
if [ -f ../shared/policy-examples/starter.yaml ]; then
    run check ../shared/policy-examples/starter.yaml
    [ "$rc" -eq 0 ] || fail "shared starter: exit $rc: $err"
    [ -z "$err" ] || fail "shared starter printed to stderr: $err"
fi

# Warnings: printed, exit 0.
run check tests/fixtures/policies/warnings.yaml
[ "$rc" -eq 0 ] || fail "warnings.yaml: exit $rc"
[ "$(grep -c ': warning: ' "$tmp/err")" -eq 3 ] || fail "expected 3 warnings: $err"
grep -qx "tests/fixtures/policies/warnings.yaml:4:1: warning: unknown key 'owner'" "$tmp/err" || fail "$err"
grep -qx "tests/fixtures/policies/warnings.yaml:10:5: warning: unknown key 'modles' (did you mean 'models'?)" \
    "$tmp/err" || fail "$err"

# Errors: exit 1, each at its FILE:LINE:COL.
expect_error() {
    local file=tests/fixtures/policies/$1 want=$2
    run check "$file"
    [ "$rc" -eq 1 ] || fail "$file: expected exit 1, got $rc"
    grep -qxF "stagegate policy: $file:$want" "$tmp/err" || fail "$file: expected '$want', got: $err"
    [ -z "$out" ] || fail "$file: printed a table although invalid"
}
expect_error bad-type.yaml "5:20: 'duration_days' must be an integer, not the string \"thirty\""
expect_error bad-enum.yaml "2:22: unknown deployment_strategy 'big_bang' (expected one of: full_release, staged_release, internal_only)"
expect_error duplicate-stage.yaml "7:11: duplicate stage name 'Alpha' (first at 3:5)"
expect_error undefined-model.yaml "7:23: stage 'One' releases undefined model 'huge'"
expect_error bad-current-stage.yaml "2:16: current_stage 'Gamma' is not a release stage"
expect_error missing-keys.yaml "1:1: missing required key 'model_name'"
expect_error missing-keys.yaml "3:5: release stage 1 is missing 'name'"
expect_error bad-pattern.yaml "8:29: pattern in category 'pii' does not compile: missing closing parenthesis"
expect_error syntax-error.yaml "4:16: YAML syntax error: did not find expected key (while parsing a block mapping started at 3:5)"

# A copy of the example broken in one place is refused (what a reload would see).
sed 's/access: "api"/access: "public_api"/' examples/release.yaml >"$tmp/broken.yaml"
run check "$tmp/broken.yaml"
[ "$rc" -eq 1 ] || fail "broken copy accepted"
line=$(grep -n 'access: "public_api"' "$tmp/broken.yaml" | cut -d: -f1)
grep -q "^stagegate policy: $tmp/broken.yaml:$line:13: unknown access level 'public_api'" "$tmp/err" || fail "$err"

# --json: one JSON object with the computed view, warnings included.
run check --json tests/fixtures/policies/warnings.yaml
[ "$rc" -eq 0 ] || fail "--json: exit $rc: $err"
/usr/bin/python3 - "$tmp/out" <<'PY' || fail "--json output: $out"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["model_name"] == "demo", j
assert len(j["warnings"]) == 3, j["warnings"]
assert j["stages"][0]["effective_audiences"] == ["internal_devs"]
assert j["stages"][0]["current"] is True
assert j["models"] == [{"name": "m1", "path": "/opt/models/m1"}]
PY
run check --json tests/fixtures/policies/bad-enum.yaml
[ "$rc" -eq 1 ] && [ -z "$out" ] || fail "--json on an invalid policy: exit $rc, output $out"

# Usage.
run check
[ "$rc" -eq 2 ] || fail "no FILE: exit $rc"
run frobnicate
[ "$rc" -eq 2 ] || fail "unknown verb: exit $rc"
run check --yaml examples/release.yaml
[ "$rc" -eq 2 ] || fail "unknown option: exit $rc"
run --help
[ "$rc" -eq 0 ] && grep -q "usage: stagegate policy check \[--json\] FILE" "$tmp/out" || fail "--help"
run check "$tmp/does-not-exist.yaml"
[ "$rc" -eq 1 ] && grep -q "does-not-exist.yaml" "$tmp/err" || fail "missing file: $rc $err"
echo "policy_check: ok"
