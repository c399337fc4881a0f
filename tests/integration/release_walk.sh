#!/usr/bin/env bash
# release_walk.sh — the staged release end to end, against a real server: a
# model family walks four stages (Internal, Trusted Partners, Public API,
# Downloadable); each advance is first refused naming the unmet gates, then
# accepted once the evidence (risk assessment, stored perplexity, sign-offs)
# is on record; the running server applies every move within a second; an
# incident suspends an audience mid-traffic (403 naming the incident, not its
# reason) and is closed again; an incident with --rollback and a forced,
# audited re-advance; the cards are regenerated at every stage; the report
# and the audit chain check out.
source "$SG_ROOT/tests/lib/server.sh"
SG=$SG_BIN

# A tiny model family: one small BPE tokenizer and one 1-layer model trained
# for a few steps on a handful of addresses, copied as four sizes.
mkdir -p "$T/corpus" "$T/held"
cp "$SG_ROOT"/data/sotu/train/190[0-4]_*.txt "$T/corpus/"
cp "$SG_ROOT"/data/sotu/heldout/2011_*.txt "$T/held/"
"$SG" tokenizer train --vocab-size 300 -o "$T/tok" "$T/corpus" >/dev/null 2>&1
"$SG" train --tokenizer "$T/tok" --corpus "$T/corpus" --val-corpus "$T/held" --layers 1 --heads 1 --embd 16 \
    --context 32 --batch 4 --steps 3 --warmup 1 --eval-interval 3 --eval-batches 1 --log-interval 1 --threads 1 \
    --dtype f32 -o "$T/m1" >/dev/null 2>&1
for m in m2 m3 m4; do cp -r "$T/m1" "$T/$m"; done

P="$T/policy.yaml"
cat >"$P" <<'YAML'
model_name: "walk"
version: "v1"
deployment_strategy: "staged_release"
current_stage: "Internal"
models:
  walk-small: "m1"
  walk-medium: "m2"
  walk-large: "m3"
  walk-xl: "m4"
release_stages:
  - name: "Internal"
    audience: "internal_devs"
    duration_days: 0
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["rate_limit"]
    models: ["walk-small"]
    access: "api"
    components: {risk_analysis: "fully_closed", replication: "fully_closed"}
  - name: "Trusted Partners"
    audience: "trusted_partners"
    duration_days: 0
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["rate_limit"]
    models: ["walk-medium"]
    access: "api"
    components: {risk_analysis: "api", replication: "fully_closed"}
    gates:
      evaluations:
        - {suite: "perplexity", model: "walk-small", metric: "perplexity", max: 100000}
      signoffs: {count: 1, reviewers: ["safety_lead", "release_manager"]}
  - name: "Public API"
    audience: "public"
    duration_days: 0
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["rate_limit"]
    models: ["walk-large"]
    access: "api"
    components: {risk_analysis: "api", replication: "hosted"}
    gates:
      evaluations:
        - {suite: "perplexity", model: "walk-medium", metric: "perplexity", max: 100000}
      signoffs: {count: 2, reviewers: ["safety_lead", "release_manager", "policy_counsel"]}
  - name: "Downloadable"
    audience: ["researchers"]
    duration_days: 0
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["rate_limit"]
    models: ["walk-xl"]
    access: "downloadable"
    components: {risk_analysis: "fully_open", replication: "downloadable"}
    gates:
      evaluations:
        - {suite: "perplexity", model: "walk-xl", metric: "perplexity", max: 100000}
        - {suite: "perplexity", model: "walk-xl", metric: "loss", max: 0.001}
      signoffs: {count: 1}
risk_mitigation_plan:
  - "misuse_at_scale": "per-audience rate limits, keys revocable without restart"
monitoring_frequency: "daily"
incident_response_plan: "docs/RELEASE-GUIDE.md#incidents"
YAML
check "policy is valid" "$SG" policy check "$P"
R=(--policy "$P" --db "$T/db")
"$SG" stage status "${R[@]}" >"$T/status" 2>&1 # creates the store, records the start
start_server "$P"
KI=$(mkkey internal_devs)
KP=$(mkkey trusted_partners)
KU=$(mkkey public)
KR=$(mkkey researchers)
req() { post "$1" "{\"model\": \"$2\", \"prompt\": \"The state of the Union\", \"max_tokens\": 2}"; }
# within_1s KEY MODEL STATUS: the server answers STATUS within a second
within_1s() {
    local deadline=$((SECONDS + 2)) t0 t1 code
    t0=$(date +%s%N)
    while :; do
        code=$(req "$1" "$2")
        t1=$(date +%s%N)
        [ "$code" = "$3" ] && { echo "  ($(((t1 - t0) / 1000000)) ms to $3)"; [ $(((t1 - t0) / 1000000)) -le 1000 ]; return; }
        [ $SECONDS -ge $deadline ] && { echo "  still $code after 2 s"; return 1; }
        sleep 0.05
    done
}
card_at() { # card_at N: regenerate the cards for stage N
    "$SG" card "${R[@]}" -m walk-small -o "$T/card-$1.md" &&
        "$SG" system-card "${R[@]}" -o "$T/system-card-$1.md" &&
        "$SG" datasheet "${R[@]}" -m walk-small -o "$T/datasheet-$1.md"
}

echo "== stage 1: Internal"
check "status names the current stage" grep -q "current stage: Internal (1 of 4)" "$T/status"
check "status shows who can use what" grep -q "internal_devs: walk-small" "$T/status"
check "status shows the incident response plan" grep -q "incident_response_plan: docs/RELEASE-GUIDE.md#incidents" "$T/status"
check "status shows the unmet evaluation gate" grep -q "\[UNMET\] evaluation: perplexity/walk-small perplexity <= 100000" "$T/status"
check "internal devs are served" test "$(req "$KI" walk-small)" = 200
check "partners are refused at Internal" test "$(req "$KP" walk-small)" = 403
check "cards at stage 1" card_at 1
check "card 1 says no evaluations are stored" grep -q "No stored evaluation results" "$T/card-1.md"
check "card 1 has the Mitchell et al. sections" bash -c "for s in 'Model details' 'Intended use' 'Out-of-scope uses' Factors Metrics 'Evaluation data' 'Training data' 'Quantitative analyses' 'Ethical considerations' 'Caveats and recommendations'; do grep -q \"^##* \$s\" '$T/card-1.md' || exit 1; done"
check "card 1 states the architecture from config.json" grep -q "Shape: 1 layers, 1 heads, embedding width 16, context 32 tokens, vocabulary 300" "$T/card-1.md"
check "card 1 front matter detects English from the corpus" grep -qx -- "- en" "$T/card-1.md"
check "datasheet has the Gebru et al. groups" bash -c "for s in Motivation Composition 'Collection process' Preprocessing Uses Distribution Maintenance; do grep -q \"^## \$s\" '$T/datasheet-1.md' || exit 1; done"
check "datasheet counts the corpus" grep -q "^- 5 documents (one per file)" "$T/datasheet-1.md"
check "datasheet dates the corpus from file names" grep -q "Dates from file names: 1900 to 1904" "$T/datasheet-1.md"
check "datasheet audits group terms per decade" grep -qF "| 1900s | 5 | " "$T/datasheet-1.md"
check "system card at Internal is not served (risk_analysis fully_closed)" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KI" "$BASE/v1/system-card")" = 403

if "$SG" stage advance "${R[@]}" --by release_manager 2>"$T/err"; then bad "advance without evidence refused"; else ok "advance without evidence refused"; fi
check "refusal names the risk assessment gate" grep -q "risk_assessment: risk assessment for 'Trusted Partners'" "$T/err"
check "refusal names the evaluation gate" grep -q "evaluation: perplexity/walk-small perplexity" "$T/err"
check "refusal names the sign-off gate" grep -q "signoffs: 1 sign-off" "$T/err"

echo "# Trusted partners: risks of partner access reviewed" >"$T/ra2.md"
check "risk assessment recorded" "$SG" risk record "${R[@]}" --stage "Trusted Partners" --status completed --file "$T/ra2.md" --by alice
check "perplexity evaluation stored" "$SG" eval run perplexity -m walk-small "${R[@]}" --data "$T/held" --threads 1
check "the safety team's filter suite runs from the registry" "$SG" eval run filter -m walk-small "${R[@]}" --data "$T/held"
check "its metrics are stored with the code version" bash -c "'$SG' eval list --db '$T/db' -m walk-small | grep -E 'filter +walk-small +recall_evasions .* run +code '"
if "$SG" signoff "${R[@]}" --stage "Trusted Partners" --by mallory --note "lgtm" 2>/dev/null; then bad "unnamed reviewer refused"; else ok "unnamed reviewer refused"; fi
check "sign-off recorded" "$SG" signoff "${R[@]}" --stage "Trusted Partners" --by safety_lead --note "partner risks reviewed"
check "advance to Trusted Partners" "$SG" stage advance "${R[@]}" --by release_manager

echo "== stage 2: Trusted Partners"
check "the running server lets partners in within a second" within_1s "$KP" walk-medium 200
check "internal devs keep their access" test "$(req "$KI" walk-small)" = 200
check "the public is still refused" test "$(req "$KU" walk-small)" = 403
check "cards at stage 2" card_at 2
check "card 2 carries the stored perplexity in model-index" grep -q 'name: "perplexity (perplexity suite, run #' "$T/card-2.md"
check "system card is served to partners (risk_analysis api)" \
    test "$(curl -s -o "$T/sc.md" -w '%{http_code}' -H "Authorization: Bearer $KP" "$BASE/v1/system-card")" = 200
check "served system card has the timeline" grep -q "| advance | Trusted Partners |" "$T/sc.md"

echo "-- incident mid-traffic"
( for _ in $(seq 30); do # traffic from another audience meanwhile (own output files)
    curl -s -o /dev/null -H "Authorization: Bearer $KI" -H 'Content-Type: application/json' \
        --data-binary '{"model": "walk-small", "prompt": "Fellow citizens", "max_tokens": 2}' "$BASE/v1/completions"
done ) &
TRAFFIC=$!
check "incident opened" "$SG" incident open "${R[@]}" --severity high --reason "INTERNAL: partner key leaked on a forum" \
    --suspend-audience trusted_partners --by oncall
check "suspended partners get 403 within a second" within_1s "$KP" walk-medium 403
check "the 403 names the incident" grep -q "incident #1" "$T/body"
if grep -q "leaked" "$T/body"; then bad "the 403 hides the internal reason"; else ok "the 403 hides the internal reason"; fi
check "internal devs are unaffected" test "$(req "$KI" walk-small)" = 200
"$SG" stage status "${R[@]}" >"$T/status2"
check "status lists the open incident" grep -q "#1 high" "$T/status2"
if "$SG" stage advance "${R[@]}" 2>"$T/err"; then bad "advance refused while an incident is open"; else ok "advance refused while an incident is open"; fi
check "refusal names the open incident" grep -q "incidents: no open incident -- 1 open" "$T/err"
check "incident closed" "$SG" incident close 1 "${R[@]}" --note "key revoked" --by oncall
check "partners are back within a second" within_1s "$KP" walk-medium 200
wait $TRAFFIC

echo "# Public API risk assessment" >"$T/ra3.md"
"$SG" risk record "${R[@]}" --stage "Public API" --status completed --file "$T/ra3.md" >/dev/null
"$SG" eval run perplexity -m walk-medium "${R[@]}" --data "$T/held" --threads 1 >/dev/null
"$SG" signoff "${R[@]}" --stage "Public API" --by safety_lead --note ok >/dev/null
if "$SG" stage advance "${R[@]}" 2>"$T/err"; then bad "one of two sign-offs refused"; else ok "one of two sign-offs refused"; fi
check "refusal counts the sign-offs" grep -q "1 of 2: safety_lead" "$T/err"
"$SG" signoff "${R[@]}" --stage "Public API" --by policy_counsel --note ok >/dev/null
check "advance to Public API" "$SG" stage advance "${R[@]}"

echo "== stage 3: Public API"
check "the public is served within a second" within_1s "$KU" walk-small 200
check "cards at stage 3" card_at 3
check "card 3 is written at Public API" grep -q "release stage at generation: \*\*Public API\*\*" "$T/card-3.md"

echo "# Downloadable risk assessment" >"$T/ra4.md"
"$SG" risk record "${R[@]}" --stage "Downloadable" --status completed --file "$T/ra4.md" >/dev/null
"$SG" eval run perplexity -m walk-xl "${R[@]}" --data "$T/held" --threads 1 >/dev/null
"$SG" signoff "${R[@]}" --stage "Downloadable" --by external_reviewer --note ok >/dev/null
if "$SG" stage advance "${R[@]}" 2>"$T/err"; then bad "loss threshold refuses"; else ok "loss threshold refuses"; fi
check "refusal names the unmet loss gate only" bash -c "grep -q 'perplexity/walk-xl loss <= 0.001' '$T/err' && ! grep -q 'signoffs:' '$T/err'"
if "$SG" stage advance "${R[@]}" --force 2>/dev/null; then bad "--force without a reason refused"; else ok "--force without a reason refused"; fi
check "forced advance with a reason" "$SG" stage advance "${R[@]}" --force --reason "loss gate is a placeholder for this test" --by cto

echo "== stage 4: Downloadable"
check "researchers are served within a second" within_1s "$KR" walk-xl 200
check "history marks the override" bash -c "'$SG' stage history --policy '$P' --db '$T/db' | grep -q 'Public API -> Downloadable  by cto  \[OVERRIDE\]'"
check "the audit log has the override" bash -c "'$SG' audit tail --db '$T/db' -n 200 | grep -q stage-override"
check "cards at stage 4" card_at 4
check "system card served without a key (risk_analysis fully_open)" \
    test "$(curl -s -o "$T/sc4.md" -w '%{http_code}' "$BASE/v1/system-card")" = 200
check "model card served over HTTP" test "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/cards/walk-small")" = 200
check "timeline has all four stages" bash -c "for s in Internal 'Trusted Partners' 'Public API' Downloadable; do grep -q \"| \$s |\" '$T/sc4.md' || exit 1; done"

echo "-- incident with rollback"
check "incident with rollback" "$SG" incident open "${R[@]}" --severity critical --reason "weights mirrored" --rollback
check "researchers lose access within a second" within_1s "$KR" walk-xl 403
"$SG" stage status "${R[@]}" >"$T/status3"
check "status is back at Public API" grep -q "current stage: Public API (3 of 4)" "$T/status3"
check "incident 2 closed" "$SG" incident close 2 "${R[@]}"

"$SG" report "${R[@]}" --since 1d --json >"$T/report.json"
check "report counts internal usage" test "$(jq '[.usage[] | select(.audience == "internal_devs") | .requests] | add' "$T/report.json")" -ge 30
check "report counts 403 refusals" test "$(jq '.refusals["403"]' "$T/report.json")" -ge 3
check "report lists both incidents" test "$(jq '.incidents | length' "$T/report.json")" = 2
check "report lists the stage changes" test "$(jq '.stage_changes | length' "$T/report.json")" -ge 5
check "report names top keys" test "$(jq '.top_keys | length' "$T/report.json")" -ge 3
check "text report" bash -c "'$SG' report --policy '$P' --db '$T/db' | grep -q '## Refusals by cause'"
check "audit chain intact" "$SG" audit verify --db "$T/db"
check "server stops cleanly" stop_server
finish
