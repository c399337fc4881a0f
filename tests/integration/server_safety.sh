# server_safety.sh — the safety controls of issue 6 end to end through a real
# `stagegate serve` on loopback, each on at one release stage and off at
# another (safety_protocols_enabled): the input filter (block -> 400
# content_filter, hard-coded response, redaction, flag, all audited), the
# streaming output filter (a term split across two tokens ends the stream with
# finish_reason content_filter), /v1/moderations, the watermark (z >= 4 on a
# 200-token completion, absent when off), /v1/detect, and community flags with
# suspension of a key after flags.suspend_after upheld flags.
source "$SG_ROOT/tests/lib/server.sh"

make_model "$T/m1" 256

# policy FILE CURRENT_STAGE SPLIT_TERM
policy() {
    cat >"$1" <<YAML
model_name: "testmodel"
version: "v0.1"
deployment_strategy: "staged_release"
current_stage: "$2"
models:
  tiny: "m1"
release_stages:
  - name: "Guarded"
    audience: "internal_devs"
    duration_days: 30
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["content_filter", "hardcoded_responses", "moderation_api", "watermark", "detection", "user_feedback_loop"]
    models: ["tiny"]
    access: "api"
  - name: "Filtered"
    audience: "internal_devs"
    duration_days: 30
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["content_filter"]
    models: ["tiny"]
    access: "api"
  - name: "Open"
    audience: "internal_devs"
    duration_days: 30
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["rate_limit"]
    models: ["tiny"]
    access: "api"
risk_mitigation_plan:
  - "misuse": "content_filter"
monitoring_frequency: "daily"
incident_response_plan: "link_to_internal_wiki/incident_plan"
audit:
  text: "full"
  retention_days: 30
flags:
  suspend_after: 2
content_filter:
  categories:
    - name: "violence"
      terms: ["build a pipe bomb"]
      action: "block"
      on: ["input", "output"]
    - name: "self-harm"
      terms: ["want to die"]
      action: "hardcoded"
      response: "Please reach out to someone you trust."
      on: ["input"]
    - name: "pii"
      patterns: ["builtin:email"]
      action: "redact"
      on: ["input", "output"]
    - name: "spam"
      terms: ["click here to claim"]
      action: "flag"
      on: ["input"]
    - name: "split"
      terms: ["$3"]
      action: "block"
      on: ["output"]
YAML
}

# call PATH KEY JSON: POST to PATH; body in $T/body; prints the status.
call() {
    curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
        --data-binary "$3" "$BASE$1"
}
# sse: the joined text and the last finish_reason of an SSE body in $T/body
sse_text() { grep '^data: {' "$T/body" | sed 's/^data: //' | jq -rj '.choices[]?.text'; }
sse_finish() { grep '^data: {' "$T/body" | sed 's/^data: //' | jq -r '.choices[]?.finish_reason // empty' | tail -n 1; }

# audit_has JQ_CONDITION: some record of $T/audit.jsonl satisfies it
audit_has() { jq -s -e "map(select($1)) | length > 0" "$T/audit.jsonl" >/dev/null; }

GREEDY='{"model":"tiny","prompt":"The state of the union is","max_tokens":40,"temperature":1,"seed":5'

# ---- stage "Open": every control off ------------------------------------------
policy "$T/policy.yaml" "Open" "zzqqxxyy"
start_server "$T/policy.yaml"
DEV=$(mkkey internal_devs)
OTHER=$(mkkey internal_devs)

check "open: a blocked term passes" test "$(post "$DEV" '{"model":"tiny","prompt":"how to build a pipe bomb","max_tokens":4}')" = 200
post "$DEV" '{"model":"tiny","prompt":"I want to die","max_tokens":4,"temperature":0}' >/dev/null
check "open: no hard-coded response" test "$(jbody '.choices[0].text')" != "Please reach out to someone you trust."
post "$DEV" '{"model":"tiny","prompt":"mail bob@example.com now","max_tokens":1,"echo":true}' >/dev/null
check "open: no redaction" test "$(jbody '.choices[0].text' | head -c 24)" = "mail bob@example.com now"
check "open: /v1/moderations is 403" test "$(call /v1/moderations "$DEV" '{"input":"hello"}')" = 403
check "open: 403 names the protocol" grep -q moderation_api "$T/body"
check "open: /v1/detect is 403" test "$(call /v1/detect "$DEV" '{"text":"hello there"}')" = 403
check "open: /v1/flags is 403" test "$(call /v1/flags "$DEV" '{"completion_id":"cmpl-x","category":"spam"}')" = 403
post "$DEV" '{"model":"tiny","prompt":"The","max_tokens":200,"temperature":1,"seed":11}' >/dev/null
jbody '.choices[0].text' >"$T/plain.txt"

# A seeded sample (deterministic), token by token: find a word split across two tokens
# (letters at the end of one, letters at the start of the next) for the
# streaming test.
post "$DEV" "$GREEDY,\"logprobs\":1}" >/dev/null
jbody '.choices[0].text' >"$T/greedy.txt"
term=$(jbody '.choices[0].logprobs.tokens as $t | [range(0; ($t|length) - 1) |
        select(($t[.] | test("[A-Za-z]{3}$")) and ($t[.+1] | test("^[A-Za-z]{3}")))
        | ($t[.][-3:] + $t[.+1][:3])] | first // empty' | tr 'A-Z' 'a-z')
check "the sample has a word split across two tokens" test -n "$term"
stop_server

# ---- stage "Filtered": content_filter only ---------------------------------------
policy "$T/policy.yaml" "Filtered" "*$term*"
start_server "$T/policy.yaml"
post "$DEV" "$GREEDY,\"stream\":true}" >/dev/null
streamed=$(sse_text)
check "stream: finish_reason content_filter on a term split across tokens" test "$(sse_finish)" = content_filter
check "stream: the term was never sent" sh -c "! printf '%s' '$streamed' | tr 'A-Z' 'a-z' | grep -qF '$term'"
check "stream: what was sent is the start of the unfiltered text" test "${streamed}" = "$(head -c ${#streamed} "$T/greedy.txt")"
post "$DEV" "$GREEDY}" >/dev/null
check "non-stream: finish_reason content_filter" test "$(jbody '.choices[0].finish_reason')" = content_filter
check "non-stream: same text as the stream" test "$(jbody '.choices[0].text')" = "$streamed"
check "filtered: input block is 400" test "$(post "$DEV" '{"model":"tiny","prompt":"how to build a pipe bomb","max_tokens":4}')" = 400
post "$DEV" '{"model":"tiny","prompt":"I want to die","max_tokens":4,"temperature":0}' >/dev/null
check "filtered: hardcoded_responses off, the model answers" test "$(jbody '.choices[0].text')" != "Please reach out to someone you trust."
check "filtered: no watermark, no moderation" test "$(call /v1/moderations "$DEV" '{"input":"hello"}')" = 403
stop_server

# ---- stage "Guarded": every control on --------------------------------------------
policy "$T/policy.yaml" "Guarded" "zzqqxxyy"
start_server "$T/policy.yaml"
code=$(post "$DEV" '{"model":"tiny","prompt":"tell me how to BUILD a p.i.p.e bomb","max_tokens":4}')
check "block: 400" test "$code" = 400
check "block: code content_filter" test "$(jbody .error.code)" = content_filter
check "block: param prompt, category named" test "$(jbody '.error.param + " " + (.error.message | contains("violence") | tostring)')" = "prompt true"
post "$DEV" '{"model":"tiny","prompt":[40,765,284,4656],"max_tokens":4}' >/dev/null  # "I want to die" as ids
check "hardcoded: token-id prompt answered with the response" test "$(jbody '.choices[0].text')" = "Please reach out to someone you trust."
post "$DEV" '{"model":"tiny","prompt":"I want to die","max_tokens":4,"n":2}' >/dev/null
check "hardcoded: every choice, finish stop" test "$(jbody '[.choices[] | .text + "|" + .finish_reason] | unique | join(",")')" = "Please reach out to someone you trust.|stop"
HC_ID=$(jbody .id)
post "$DEV" '{"model":"tiny","prompt":"I want to die","max_tokens":4,"stream":true}' >/dev/null
check "hardcoded: streamed too" test "$(sse_text)" = "Please reach out to someone you trust."
check "hardcoded: stream ends with [DONE]" grep -q '^data: \[DONE\]' "$T/body"
post "$DEV" '{"model":"tiny","prompt":"mail bob@example.com now","max_tokens":1,"echo":true}' >/dev/null
check "redact: the model sees the redacted prompt" test "$(jbody '.choices[0].text' | head -c 19)" = "mail [REDACTED] now"
check "flag: allowed" test "$(post "$DEV" '{"model":"tiny","prompt":"click here to claim","max_tokens":2}')" = 200
"$SG_BIN" audit tail --db "$T/db" -n 100 --json >"$T/audit.jsonl"
check "audit: filtered" test "$(jq -r 'select(.decision == "filtered") | .reason' "$T/audit.jsonl" | grep -c violence)" -ge 1
check "audit: hardcoded" test "$(jq -r 'select(.decision == "hardcoded") | .reason' "$T/audit.jsonl" | grep -c self-harm)" -ge 3
check "audit: redacted" audit_has '.decision == "allowed" and (.reason // "" | contains("redacted"))'
check "audit: flagged" audit_has '.decision == "allowed" and (.reason // "" | contains("flagged: spam"))'

check "moderations: 200" test "$(call /v1/moderations "$DEV" '{"input":["how to build a pipe bomb","a quiet evening"]}')" = 200
check "moderations: flagged, categories" test "$(jbody '[.results[0].flagged, .results[0].categories.violence, .results[1].flagged] | map(tostring) | join(",")')" = "true,true,false"
check "moderations: scores" test "$(jbody '.results[0].category_scores.violence')" = 1

post "$DEV" '{"model":"tiny","prompt":"The","max_tokens":200,"temperature":1,"seed":11}' >/dev/null
check "watermark: 200 tokens" test "$(jbody .usage.completion_tokens)" = 200
WM_ID=$(jbody .id)
jq -n --rawfile t <(jbody '.choices[0].text') '{text: $t}' >"$T/req.json"
check "detect: 200" test "$(call /v1/detect "$DEV" "@$T/req.json")" = 200
z=$(jbody .watermark.z)
echo "watermark z = $z over $(jbody .watermark.tokens_scored) tokens"
check "watermark: z >= 4" jq -e '.watermark.z >= 4 and .watermark.p_value < 0.0001' "$T/body"
check "detect: verdict watermarked" test "$(jbody .verdict)" = watermarked
check "detect: zero-shot score" jq -e '.zero_shot.score | type == "number"' "$T/body"
jq -n --rawfile t "$T/plain.txt" '{text: $t, model: "tiny"}' >"$T/req.json"
call /v1/detect "$DEV" "@$T/req.json" >/dev/null
echo "unwatermarked z = $(jbody .watermark.z)"
check "watermark off at 'Open': z < 4" jq -e '.watermark.z < 4 and .verdict != "watermarked"' "$T/body"
check "detect: bad body is 400" test "$(call /v1/detect "$DEV" '{"txt":"x"}')" = 400

# ---- community flags and suspension --------------------------------------------------
check "flags: another key cannot flag" test "$(call /v1/flags "$OTHER" "{\"completion_id\":\"$WM_ID\",\"category\":\"spam\"}")" = 404
check "flags: unknown completion" test "$(call /v1/flags "$DEV" '{"completion_id":"cmpl-nope","category":"spam"}')" = 404
check "flags: 201" test "$(call /v1/flags "$DEV" "{\"completion_id\":\"$WM_ID\",\"category\":\"misinformation\",\"comment\":\"made up\"}")" = 201
F1=$(jbody .id)
check "flags: linked to the audit record" jq -e '.audit_seq > 0' "$T/body"
check "flags: a hardcoded answer can be flagged" test "$(call /v1/flags "$DEV" "{\"completion_id\":\"$HC_ID\",\"category\":\"unhelpful\"}")" = 201
F2=$(jbody .id)
"$SG_BIN" flags list --db "$T/db" >"$T/flags.txt"
check "flags list shows both" test "$(grep -c open "$T/flags.txt")" = 2
check "flags list names the completion" grep -q "$WM_ID" "$T/flags.txt"
"$SG_BIN" flags resolve "$F1" --uphold --db "$T/db" --policy "$T/policy.yaml" >"$T/out.txt"
check "resolve 1: no suspension yet" sh -c "! grep -q suspended '$T/out.txt'"
check "key still works" test "$(post "$DEV" '{"model":"tiny","prompt":"a","max_tokens":1}')" = 200
check "resolving twice is refused" sh -c "! '$SG_BIN' flags resolve '$F1' --dismiss --db '$T/db' 2>/dev/null"
"$SG_BIN" flags resolve "$F2" --uphold --db "$T/db" --policy "$T/policy.yaml" >"$T/out.txt"
check "resolve 2: suspended at flags.suspend_after = 2" grep -q "suspended" "$T/out.txt"
check "suspended key is refused" test "$(post "$DEV" '{"model":"tiny","prompt":"a","max_tokens":1}')" = 401
check "other key unaffected" test "$(post "$OTHER" '{"model":"tiny","prompt":"a","max_tokens":1}')" = 200
"$SG_BIN" audit tail --db "$T/db" -n 100 --json >"$T/audit.jsonl"
check "audit: suspension with reason" audit_has '.decision == "suspended" and (.reason | contains("suspend_after"))'
check "audit: flag recorded" audit_has '.decision == "flagged"'
"$SG_BIN" report --policy "$T/policy.yaml" --db "$T/db" >"$T/report.md"
check "report: flag counts" grep -q "Community flags: 2 (open 0, upheld 2, dismissed 0)" "$T/report.md"
check "report: filter refusals" grep -q "^- filter: " "$T/report.md"
check "audit chain intact" "$SG_BIN" audit verify --db "$T/db"
finish
