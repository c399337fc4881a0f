# server_lifecycle.sh — what happens around requests: a client that
# disconnects mid-stream or mid-request has its sequence cancelled (it leaves
# the batch) and its unused reservation refunded; the per-request timeout;
# SIGHUP and `stagegate policy apply` reload the policy, a broken one is
# refused and the running one stays; SIGTERM shuts down gracefully.
source "$SG_ROOT/tests/lib/server.sh"

make_model "$T/m1"
make_model "$T/m2" 1024
make_model "$T/m3" 1024 384 # for the timeout: several ms per token
TIMEOUT=2
[ "$SANITIZED" = 1 ] && TIMEOUT=20
write_policy "$T/policy.yaml" "Internal Alpha" "request_timeout_s: $TIMEOUT"
start_server "$T/policy.yaml"
DEV=$(mkkey internal_devs --tpm 6000)
PARTNER=$(mkkey trusted_partners)

remaining_tokens() {
    curl -s -D - -o /dev/null -H "Authorization: Bearer $1" "$BASE/v1/models" | tr -d '\r' |
        awk -F': ' 'tolower($1) == "x-ratelimit-remaining-tokens" {print $2}'
}
# wait_idle: until no sequence is running (at most ~5 s); prints the batch size.
wait_idle() {
    local b
    for _ in $(seq 100); do
        b=$(metric stagegate_batch_size)
        [ "$b" = 0 ] && break
        sleep 0.05
    done
    echo "$b"
}

# ---- disconnect while streaming ----------------------------------------------------
# Load the model (the first request of a model loads it) and time 20 tokens:
# the client leaves after about a third of a 1000-token completion, and well
# before the request timeout.
check "warm-up" test "$(post "$DEV" '{"model":"slow","prompt":"Hello","max_tokens":20,"temperature":0}')" = 200
gen_s=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $DEV" \
    -d '{"model":"slow","prompt":"Hello","max_tokens":20,"temperature":0}' "$BASE/v1/completions")
CUT=$(awk -v t="$gen_s" 'BEGIN {c = t * 15; if (c > 1) c = 1; if (c < 0.2) c = 0.2; print c}')
echo "20 tokens took ${gen_s}s: clients leave after ${CUT}s"
before=$(metric stagegate_completion_tokens_total)
curl -sN --max-time "$CUT" -H "Authorization: Bearer $DEV" \
    -d '{"model":"slow","prompt":"Hello","max_tokens":1000,"temperature":0,"stream":true}' \
    "$BASE/v1/completions" >"$T/partial" || true
check "the stream had started" grep -q '^data: {' "$T/partial"
check "the stream was cut (no [DONE])" bash -c "! grep -q DONE '$T/partial'"
check "the sequence left the batch" test "$(wait_idle)" = 0
out=$(($(metric stagegate_completion_tokens_total) - before))
check "generation stopped early ($out of 1000 tokens)" test "$out" -lt 1000
steps=$(metric stagegate_decode_steps_total)
sleep 0.3
check "no more decode steps" test "$(metric stagegate_decode_steps_total)" = "$steps"
rem=$(remaining_tokens "$DEV")
# Reserved 1 + 1000; used 1 + $out (the warm-ups used 2 x 21). Without the
# refund the bucket would hold 6000 - 42 - 1001 plus a few seconds of refill
# (100 tokens/s).
check "unused reservation refunded (remaining $rem >= 6000 - 42 - 1 - $out)" test "$rem" -ge $((6000 - 42 - 1 - out))
check "audited as cancelled" bash -c "'$SG_BIN' audit tail --db '$T/db' -n 1 --json | grep -q '\"decision\":\"cancelled\"'"

# ---- disconnect while waiting for a whole completion ----------------------------------
curl -s --max-time "$CUT" -H "Authorization: Bearer $DEV" \
    -d '{"model":"slow","prompt":"Hello","max_tokens":1000,"temperature":0}' "$BASE/v1/completions" >/dev/null || true
check "non-streaming: the sequence left the batch" test "$(wait_idle)" = 0
out2=$(($(metric stagegate_completion_tokens_total) - before - out))
check "non-streaming: generation stopped early ($out2 tokens)" test "$out2" -lt 1000
check "non-streaming: audited as cancelled" bash -c "'$SG_BIN' audit tail --db '$T/db' -n 1 --json | grep -q '\"decision\":\"cancelled\"'"

# ---- per-request timeout (2 s; 20 s in a sanitizer build) -------------------------------
# 8 x 1000 tokens of a 384-wide model: well over 2 s even on a fast machine.
BIGKEY=$(mkkey internal_devs)
code=$(post "$BIGKEY" '{"model":"big","prompt":"Hello","max_tokens":1000,"n":8,"temperature":0}')
check "timeout: 504 (got $code: $(head -c 200 "$T/body"))" test "$code" = 504
check "timeout: error names the limit" test "$(jq -r --arg t "$TIMEOUT" '.error.message | contains("\($t) s")' "$T/body")" = true
check "timeout: the sequences left the batch" test "$(wait_idle)" = 0
check "timeout: audited" bash -c "'$SG_BIN' audit tail --db '$T/db' -n 1 --json | grep -q '\"decision\":\"timeout\"'"

# ---- policy reload ----------------------------------------------------------------------
check "before reload: partner 403" test "$(post "$PARTNER" '{"model":"tiny","max_tokens":1}')" = 403
cp "$T/policy.yaml" "$T/good.yaml"
sed -i 's/^current_stage: .*/current_stage: "No Such Stage"/' "$T/policy.yaml"
kill -HUP "$SERVER_PID"
sleep 0.5
check "broken policy on SIGHUP: refusal logged" grep -q "policy reload refused" "$T/serve.log"
check "broken policy: server still up" test "$(curl -s "$BASE/healthz" | jq -r .stage)" = "Internal Alpha"
check "broken policy: old policy still enforced (dev 200)" test "$(post "$DEV" '{"model":"tiny","max_tokens":1}')" = 200
check "broken policy: old policy still enforced (partner 403)" test "$(post "$PARTNER" '{"model":"tiny","max_tokens":1}')" = 403
if "$SG_BIN" policy apply --db "$T/db" >"$T/apply.out" 2>&1; then
    bad "policy apply accepted a broken policy"
else
    ok "policy apply refuses a broken policy"
fi
check "policy apply names the problem" grep -q "No Such Stage" "$T/apply.out"

# A valid new stage: partners join, 'slow' is no longer released.
sed 's/^current_stage: .*/current_stage: "Limited Beta"/' "$T/good.yaml" >"$T/policy.yaml"
check "policy apply signals the server" "$SG_BIN" policy apply --db "$T/db" "$T/policy.yaml"
for _ in $(seq 40); do
    [ "$(curl -s "$BASE/healthz" | jq -r .stage)" = "Limited Beta" ] && break
    sleep 0.05
done
check "after apply: new stage" test "$(curl -s "$BASE/healthz" | jq -r .stage)" = "Limited Beta"
check "after apply: partner 200" test "$(post "$PARTNER" '{"model":"tiny","max_tokens":1}')" = 200
check "after apply: slow withdrawn (403)" test "$(post "$DEV" '{"model":"slow","max_tokens":1}')" = 403
check "after apply: 403 names the new stage" test "$(jbody '.error.message | contains("Limited Beta")')" = true
models=$(curl -s -H "Authorization: Bearer $DEV" "$BASE/v1/models" | jq -r '[.data[].id] | join(",")')
check "after apply: /v1/models follows" test "$models" = tiny

# ---- graceful shutdown -----------------------------------------------------------------
curl -s -H "Authorization: Bearer $PARTNER" -d '{"model":"tiny","prompt":"Hello","max_tokens":100}' \
    "$BASE/v1/completions" >"$T/inflight" &
cpid=$!
sleep 0.05
check "SIGTERM: clean exit" stop_server
wait "$cpid" || true
check "SIGTERM: the pid file is gone" test ! -e "$T/db.pid"
check "audit chain verifies" "$SG_BIN" audit verify --db "$T/db"
finish
