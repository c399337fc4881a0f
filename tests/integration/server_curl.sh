# server_curl.sh — the gated API end to end with curl against a real
# `stagegate serve` on loopback: completions (plain, several prompts, n,
# token-id prompts, stop, seed, logprobs, echo), streaming (SSE, [DONE],
# include_usage, same text as without streaming), /v1/models per key,
# /healthz, /metrics, 401/403/404/429 with OpenAI's error shape and the
# x-ratelimit-* headers, malformed input of every kind, and the audit chain.
source "$SG_ROOT/tests/lib/server.sh"

make_model "$T/m1"
make_model "$T/m2" 1024
write_policy "$T/policy.yaml" "Internal Alpha" "max_body_bytes: 4096"
start_server "$T/policy.yaml"

DEV=$(mkkey internal_devs)
PARTNER=$(mkkey trusted_partners)
LIMITED=$(mkkey internal_devs --rpm 1000 --tpm 40)
REVOKED=$(mkkey internal_devs)

# ---- health, models ---------------------------------------------------------
check "healthz" test "$(curl -s "$BASE/healthz" | jq -r .stage)" = "Internal Alpha"
models=$(curl -s -H "Authorization: Bearer $DEV" "$BASE/v1/models" | jq -r '[.data[].id] | sort | join(",")')
check "/v1/models lists what internal_devs may use" test "$models" = "big,slow,tiny"
models=$(curl -s -H "Authorization: Bearer $PARTNER" "$BASE/v1/models" | jq -r '.object + ":" + ([.data[].id] | join(","))')
check "/v1/models lists nothing for an audience not yet served" test "$models" = "list:"
check "/v1/models without a key is 401" test "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/models")" = 401

# ---- a plain completion -----------------------------------------------------
code=$(post "$DEV" '{"model":"tiny","prompt":"The state of the union is","max_tokens":12,"temperature":0}')
check "completion 200" test "$code" = 200
check "object text_completion" test "$(jbody .object)" = text_completion
check "id cmpl-" test "$(jbody '.id | startswith("cmpl-")')" = true
check "created is a time" test "$(jbody '.created > 1700000000')" = true
check "system_fingerprint" test "$(jbody '.system_fingerprint | startswith("fp_")')" = true
check "model echoed" test "$(jbody .model)" = tiny
check "one choice, index 0" test "$(jbody '[.choices[].index] | join(",")')" = 0
check "finish_reason length" test "$(jbody '.choices[0].finish_reason')" = length
check "usage" test "$(jbody '"\(.usage.prompt_tokens) \(.usage.completion_tokens) \(.usage.total_tokens)"')" = "6 12 18"
check "logprobs null when not asked" test "$(jbody '.choices[0].logprobs')" = null
greedy=$(jbody '.choices[0].text')
check "non-empty text" test -n "$greedy"
check "x-ratelimit headers on success" test "$(header x-ratelimit-limit-tokens)" = 100000
check "x-ratelimit-remaining-tokens" test -n "$(header x-ratelimit-remaining-tokens)"
check "x-ratelimit-reset-requests" test -n "$(header x-ratelimit-reset-requests)"
post "$DEV" '{"model":"tiny","prompt":"The state of the union is","max_tokens":12,"temperature":0}' >/dev/null
check "greedy is deterministic" test "$(jbody '.choices[0].text')" = "$greedy"

# Token ids give the same as the text ("The state of the union is" in GPT-2 ids).
post "$DEV" '{"model":"tiny","prompt":[464,1181,286,262,6441,318],"max_tokens":12,"temperature":0}' >/dev/null
ids_text=$(jbody '.choices[0].text')
post "$DEV" '{"model":"tiny","prompt":"The state of the union is","max_tokens":12,"temperature":0,"echo":true}' >/dev/null
check "echo prepends the prompt" test "$(jbody '.choices[0].text')" = "The state of the union is$greedy"
check "token-id prompt" test -n "$ids_text"

# Sampling with a seed is reproducible; n choices are distinct streams.
post "$DEV" '{"model":"tiny","prompt":"Hello","max_tokens":10,"seed":42,"temperature":1,"n":3}' >/dev/null
s1=$(jbody '[.choices[].text] | join("|")')
check "n=3 gives 3 choices" test "$(jbody '[.choices[].index] | join(",")')" = "0,1,2"
post "$DEV" '{"model":"tiny","prompt":"Hello","max_tokens":10,"seed":42,"temperature":1,"n":3}' >/dev/null
check "same seed, same samples" test "$(jbody '[.choices[].text] | join("|")')" = "$s1"
check "choices differ from each other" test "$(jbody '[.choices[].text] | unique | length')" -gt 1

# Several prompts x n.
post "$DEV" '{"model":"tiny","prompt":["a","b"],"max_tokens":3,"n":2}' >/dev/null
check "2 prompts x n=2 = 4 choices" test "$(jbody '[.choices[].index] | join(",")')" = "0,1,2,3"
check "usage counts both prompts" test "$(jbody .usage.completion_tokens)" = 12

# Stop strings: cut before the first occurrence, finish_reason stop.
stop=$(printf '%s' "$greedy" | cut -c 4-7)
post "$DEV" "$(jq -cn --arg s "$stop" '{model:"tiny",prompt:"The state of the union is",max_tokens:12,temperature:0,stop:[$s,"zzzzzz"]}')" >/dev/null
stopped=$(jbody '.choices[0].text')
check "stop: finish_reason stop" test "$(jbody '.choices[0].finish_reason')" = stop
check "stop: text cut before the stop string" test "${greedy%%"$stop"*}" = "$stopped"

# Logprobs.
post "$DEV" '{"model":"tiny","prompt":"Hello","max_tokens":4,"temperature":0,"logprobs":3}' >/dev/null
check "logprobs: 4 tokens" test "$(jbody '.choices[0].logprobs.tokens | length')" = 4
check "logprobs: 3 alternatives each" test "$(jbody '[.choices[0].logprobs.top_logprobs[] | length] | unique | join(",")')" = 3
check "logprobs: negative" test "$(jbody '[.choices[0].logprobs.token_logprobs[] < 0] | all')" = true
check "logprobs: tokens spell the text" test "$(jbody '.choices[0].logprobs.tokens | join("")')" = "$(jbody '.choices[0].text')"
check "logprobs: greedy token is the top one" test "$(jbody '[.choices[0].logprobs as $l | range(4) | ($l.top_logprobs[.] | to_entries | max_by(.value).value) == $l.token_logprobs[.]] | all')" = true

# ---- streaming ----------------------------------------------------------------
curl -sN -H "Authorization: Bearer $DEV" -d '{"model":"tiny","prompt":"The state of the union is","max_tokens":12,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}' \
    -D "$T/sheaders" "$BASE/v1/completions" >"$T/stream"
check "stream: content-type" grep -qi '^content-type: text/event-stream' "$T/sheaders"
check "stream: rate-limit headers" grep -qi '^x-ratelimit-remaining-tokens:' "$T/sheaders"
check "stream: ends with [DONE]" test "$(grep -v '^$' "$T/stream" | tail -n 1)" = "data: [DONE]"
check "stream: events separated by blank lines" test "$(grep -c '^data: ' "$T/stream")" = "$(grep -c '^$' "$T/stream")"
sed -n 's/^data: //p' "$T/stream" | grep -v '^\[DONE\]$' >"$T/chunks"
check "stream: every chunk is a text_completion" test "$(jq -s '[.[].object == "text_completion"] | all' "$T/chunks")" = true
check "stream: same text as without streaming" test "$(jq -rs '[.[].choices[]?.text] | join("")' "$T/chunks")" = "$greedy"
check "stream: one finish_reason" test "$(jq -rs '[.[].choices[]?.finish_reason | select(. != null)] | join(",")' "$T/chunks")" = length
check "stream: usage chunk last, empty choices" test "$(tail -n 1 "$T/chunks" | jq -c '[(.choices | length), .usage.completion_tokens]')" = "[0,12]"
curl -sN -H "Authorization: Bearer $DEV" -d "$(jq -cn --arg s "$stop" '{model:"tiny",prompt:"The state of the union is",max_tokens:12,temperature:0,stream:true,stop:$s}')" \
    "$BASE/v1/completions" | sed -n 's/^data: //p' | grep -v DONE >"$T/chunks"
check "stream: stop string never sent" test "$(jq -rs '[.[].choices[]?.text] | join("")' "$T/chunks")" = "$stopped"

# ---- authentication and authorisation --------------------------------------
code=$(post "" '{"model":"tiny","prompt":"x"}')
check "no key: 401" test "$code" = 401
check "401 OpenAI error shape" test "$(jbody '.error | has("message") and has("type") and has("param") and has("code")')" = true
check "401 code invalid_api_key" test "$(jbody .error.code)" = invalid_api_key
check "unknown key: 401" test "$(post sg-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA '{"model":"tiny"}')" = 401
check "revoked key works before" test "$(post "$REVOKED" '{"model":"tiny","max_tokens":1}')" = 200
"$SG_BIN" keys revoke --db "$T/db" "$REVOKED" >/dev/null
check "revoked key: 401 on the next request, no restart" test "$(post "$REVOKED" '{"model":"tiny","max_tokens":1}')" = 401
code=$(post "$PARTNER" '{"model":"tiny","prompt":"x"}')
check "audience not served yet: 403" test "$code" = 403
check "403 names model and stage" test "$(jbody '.error.message | contains("tiny") and contains("Internal Alpha")')" = true
check "unknown model: 404" test "$(post "$DEV" '{"model":"gpt-4","prompt":"x"}')" = 404
check "404 code model_not_found" test "$(jbody .error.code)" = model_not_found

# ---- rate limits ----------------------------------------------------------------
check "limited key: first request fits" test "$(post "$LIMITED" '{"model":"tiny","prompt":"Hello","max_tokens":30}')" = 200
check "limited: remaining after the request" test "$(header x-ratelimit-remaining-tokens)" -le 9
check "limited: second request 429" test "$(post "$LIMITED" '{"model":"tiny","prompt":"Hello","max_tokens":30}')" = 429
check "429 retry-after in whole seconds" grep -qiE '^retry-after: [0-9]+' "$T/headers"
check "429 x-ratelimit-limit-tokens" test "$(header x-ratelimit-limit-tokens)" = 40
check "429 x-ratelimit-reset-tokens" grep -qiE '^x-ratelimit-reset-tokens: [0-9]' "$T/headers"
check "429 code rate_limit_exceeded" test "$(jbody .error.code)" = rate_limit_exceeded
check "too large for the bucket: 429" test "$(post "$LIMITED" '{"model":"tiny","prompt":"Hello","max_tokens":100}')" = 429
check "context length: 400" test "$(post "$DEV" '{"model":"tiny","prompt":"Hello","max_tokens":500}')" = 400
check "context length names the limit" test "$(jbody '.error.message | contains("128")')" = true

# ---- malformed input ------------------------------------------------------------
bad_input() { # bad_input DESCRIPTION STATUS PARAM BODY
    local code
    code=$(post "$DEV" "$4")
    if [ "$code" = "$2" ] && [ "$(jbody '.error.param // ""')" = "$3" ] && [ -n "$(jbody .error.message)" ]; then
        ok "$1"
    else
        bad "$1 (got $code $(cat "$T/body"))"
    fi
}
bad_input "malformed JSON" 400 "" '{"model":"tiny",'
bad_input "not an object" 400 "" '[1,2]'
bad_input "duplicate key" 400 "" '{"model":"tiny","model":"tiny"}'
bad_input "missing model" 400 model '{"prompt":"x"}'
bad_input "model wrong type" 400 model '{"model":3}'
bad_input "max_tokens wrong type" 400 max_tokens '{"model":"tiny","max_tokens":"5"}'
bad_input "max_tokens 0" 400 max_tokens '{"model":"tiny","max_tokens":0}'
bad_input "temperature > 2" 400 temperature '{"model":"tiny","temperature":2.5}'
bad_input "temperature < 0" 400 temperature '{"model":"tiny","temperature":-1}'
bad_input "top_p > 1" 400 top_p '{"model":"tiny","top_p":1.5}'
bad_input "n = 0" 400 n '{"model":"tiny","n":0}'
bad_input "logprobs 6" 400 logprobs '{"model":"tiny","logprobs":6}'
bad_input "five stop strings" 400 stop '{"model":"tiny","stop":["a","b","c","d","e"]}'
bad_input "stop wrong type" 400 stop '{"model":"tiny","stop":5}'
bad_input "stream not boolean" 400 stream '{"model":"tiny","stream":"yes"}'
bad_input "prompt wrong type" 400 prompt '{"model":"tiny","prompt":{"a":1}}'
bad_input "prompt token out of vocabulary" 400 prompt '{"model":"tiny","prompt":[50257]}'
bad_input "negative token" 400 prompt '{"model":"tiny","prompt":[1,-2]}'
bad_input "unknown parameter" 400 foo '{"model":"tiny","foo":1}'
bad_input "include_usage without stream" 400 stream_options '{"model":"tiny","stream_options":{"include_usage":true}}'
bad_input "unsupported penalty" 400 presence_penalty '{"model":"tiny","presence_penalty":1}'
code=$(printf '{"model":"tiny","prompt":"\xc3\x28"}' | curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $DEV" --data-binary @- "$BASE/v1/completions")
check "invalid UTF-8: 400" test "$code" = 400
check "invalid UTF-8 named" test "$(jbody .error.code)" = invalid_utf8
head -c 5000 /dev/zero | tr '\0' 'a' | sed 's/^/{"model":"tiny","prompt":"/; s/$/"}/' >"$T/big.json"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $DEV" --data-binary @"$T/big.json" "$BASE/v1/completions")
check "oversized body: 413" test "$code" = 413
check "413 names the limit" test "$(jbody '.error.message | contains("4096")')" = true
check "wrong method: 405" test "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$BASE/v1/completions")" = 405
check "unknown path: 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v2/nothing")" = 404
check "still alive after all that" test "$(curl -s "$BASE/healthz" | jq -r .status)" = ok

# ---- metrics and audit ----------------------------------------------------------
curl -s "$BASE/metrics" >"$T/metrics"
check "metrics: 200s by audience" grep -qE '^stagegate_requests_total\{status="200",audience="internal_devs"\} [1-9]' "$T/metrics"
check "metrics: 403s by audience" grep -qE '^stagegate_requests_total\{status="403",audience="trusted_partners"\} [1-9]' "$T/metrics"
check "metrics: 401s" grep -qE '^stagegate_requests_total\{status="401",audience=""\} [1-9]' "$T/metrics"
check "metrics: rate-limit refusals" grep -qE '^stagegate_rate_limited_total\{audience="internal_devs"\} 2' "$T/metrics"
check "metrics: tokens out" grep -qE '^stagegate_completion_tokens_total [1-9]' "$T/metrics"
check "metrics: histogram" grep -qE '^stagegate_request_duration_seconds_bucket\{le="\+Inf"\} [1-9]' "$T/metrics"
check "metrics: queue depth gauge" grep -qE '^stagegate_queue_depth 0$' "$T/metrics"
check "metrics: batch size gauge" grep -qE '^stagegate_batch_size 0$' "$T/metrics"

stop_server
check "graceful shutdown removes the pid file" test ! -e "$T/db.pid"
check "audit chain verifies" "$SG_BIN" audit verify --db "$T/db"
finish
