# server_openai.sh — the official `openai` npm package (node) talks to a real
# `stagegate serve`: completions, streaming, error classes, 429 handling
# (tests/integration/server_openai.mjs holds the checks).
source "$SG_ROOT/tests/lib/server.sh"

if ! command -v node >/dev/null || [ ! -f "$NODE_MODULES/openai/index.mjs" ]; then
    echo "FAIL node or the openai package is missing (run scripts/setup)"
    exit 1
fi
make_model "$T/m1"
make_model "$T/m2" 1024
write_policy "$T/policy.yaml" "Internal Alpha"
start_server "$T/policy.yaml"

export BASE OPENAI_MODULE="$NODE_MODULES/openai/index.mjs"
DEV_KEY=$(mkkey internal_devs)
PARTNER_KEY=$(mkkey trusted_partners)
LIMITED_KEY=$(mkkey internal_devs --rpm 2)
RETRY_KEY=$(mkkey internal_devs --tpm 600)
export DEV_KEY PARTNER_KEY LIMITED_KEY RETRY_KEY
node "$SG_ROOT/tests/integration/server_openai.mjs" || bad "openai client checks"
stop_server
check "audit chain verifies" "$SG_BIN" audit verify --db "$T/db"
finish
