# server_demo.sh — `make demo` keeps working: scripts/demo in its CI mode
# (stops after the first request) on a free port, in a scratch directory.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}"
T=$(mktemp -d /tmp/sg_demo_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
SG_DEMO_EXIT=1 SG_DEMO_LISTEN=127.0.0.1:0 SG_DEMO_DIR="$T" bash "$SG_ROOT/scripts/demo" >"$T/out" 2>&1 || {
    cat "$T/out"
    exit 1
}
fails=0
expect() {
    if grep -qE -- "$1" "$T/out"; then echo "ok   $2"; else echo "FAIL $2"; fails=$((fails + 1)); fi
}
expect '"data":\[\{"id":"sotu-small"' "the demo key sees sotu-small"
expect '^HTTP/1.1 200' "the demo completion succeeds"
expect '"object":"text_completion"' "an OpenAI-shaped completion"
expect '^x-ratelimit-remaining-tokens: [0-9]+' "rate-limit headers shown"
expect "not released at stage 'Internal Alpha'" "a model of a later stage is refused"
expect 'audit log intact' "the audit chain verifies"
expect 'data-state="open"' "the release is left at a hosted stage: the web demo is open"
expect '^demo: http://127\.0\.0\.1:[0-9]+/ ' "the demo's URL is printed"
[ "$fails" -eq 0 ] || { cat "$T/out"; exit 1; }
