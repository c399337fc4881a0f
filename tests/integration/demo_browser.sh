# demo_browser.sh — the hosted web demo (issue 14) in a real browser: Debian's
# chromium driven by playwright-core, checked by axe-core (tests/browser/demo.mjs)
# against a real `stagegate serve` on loopback with the committed sotu-small
# model. Also measures the page weight (what a first visit downloads,
# compressed as served). Screenshots go to $SG_BUILD/browser/.
source "$SG_ROOT/tests/lib/server.sh"

CHROMIUM=${SG_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || [ ! -d "$NODE_MODULES/playwright-core" ] || [ ! -d "$NODE_MODULES/@axe-core/playwright" ]; then
    echo "chromium or playwright-core missing: run scripts/setup"
    exit 1
fi

cat >"$T/policy.yaml" <<YAML
model_name: "sotu"
version: "v1.0"
deployment_strategy: "staged_release"
current_stage: "Hosted"
models:
  sotu-small: "$SG_ROOT/models/sotu-small"
release_stages:
  - name: "Internal"
    audience: "internal_devs"
    duration_days: 14
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["content_filter", "watermark"]
    models: ["sotu-small"]
    access: "gradual"
  - name: "Hosted"
    audience: "demo_visitors"
    duration_days: 30
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["content_filter", "watermark", "user_feedback_loop", "detection", "rate_limit"]
    models: ["sotu-small"]
    access: "hosted"
    components: {risk_analysis: "hosted", replication: "fully_closed"}
risk_mitigation_plan:
  - "misuse": "content_filter, watermark, flags"
monitoring_frequency: "daily"
incident_response_plan: "docs/RELEASE-GUIDE.md#incidents"
audit:
  text: "full"
content_filter:
  categories:
    - name: "violence"
      terms: ["build a bomb"]
      action: "block"
      on: ["input", "output"]
demo:
  audience: "demo_visitors"
  models: ["sotu-small"]
  max_tokens: {min: 1, max: 64, default: 48}
  temperature: {min: 0.1, max: 1.5, default: 0.8}
  top_p: {min: 0.1, max: 1.0, default: 0.95}
  budgets: {session_tpm: 240, network_tpm: 100000, global_tpm: 1000000}
  flag_reasons: ["harmful or offensive", "false or misleading", "other"]
  intended_use: "Exploring how a small model trained on State of the Union addresses writes."
  not_for: "Facts or advice."
  disclaimer: "A research demo: outputs are machine-generated and logged for safety review."
  paused_notice: "The demo is paused while the release team reviews a report."
YAML

"$SG_BIN" policy check "$T/policy.yaml" >/dev/null
start_server "$T/policy.yaml"

# Page weight: the page and its assets as a browser fetches them (gzip accepted).
weight=0
for path in / /demo/demo.css /demo/demo.js; do
    n=$(curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "$BASE$path")
    echo "weight $path: $n bytes"
    weight=$((weight + n))
done
echo "page weight: $weight bytes as served ($((weight / 1024)) KiB)"
check "page weight <= 60 KB compressed" [ "$weight" -le 61440 ]
# ETag and 304, gzip, CSP
etag=$(curl -s -D - -o /dev/null "$BASE/demo/demo.js" | tr -d '\r' | awk -F': ' 'tolower($1) == "etag" {print $2}')
check "an asset has an ETag" [ -n "$etag" ]
check "If-None-Match answers 304" [ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$BASE/demo/demo.js")" = 304 ]
check "gzip when accepted" bash -c "curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' '$BASE/demo/demo.css' | grep -qi '^content-encoding: gzip'"
check "a strict CSP, no third-party origin" bash -c "curl -s -D - -o /dev/null '$BASE/' | grep -qi \"^content-security-policy: default-src 'none'; script-src 'self'\""
check "a cross-origin POST is refused" [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' -d prompt=x "$BASE/demo/form")" = 403 ]

# The no-JavaScript form: a plain POST renders the page with the output and its receipt.
curl -s -H "Origin: $BASE" --data-urlencode 'prompt=Fellow citizens' "$BASE/demo/form" >"$T/form.html"
check "the no-JS form answers with a receipt" grep -q '<dt>Completion</dt><dd>cmpl-' "$T/form.html"

mkdir -p "$SG_BUILD/browser"
SG_BASE="$BASE" SG_POLICY="$T/policy.yaml" SG_DB="$T/db" SG_SHOTS="$SG_BUILD/browser" SG_CHROMIUM="$CHROMIUM" \
    SG_TMP="$T" NODE_PATH="$NODE_MODULES" node "$SG_ROOT/tests/browser/demo.mjs" || bad "the browser test (tests/browser/demo.mjs)"
finish
