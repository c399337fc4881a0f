# server_concurrency.sh — exact rate limits under concurrency, and the
# bounded queue: N parallel requests against a bucket of capacity K admit
# exactly K (for the request bucket and for the token bucket, reserving
# prompt + max_tokens up front); requests share decode steps (continuous
# batching); a full queue answers 503 with retry-after.
source "$SG_ROOT/tests/lib/server.sh"

make_model "$T/m1"
make_model "$T/m2" 1024
make_model "$T/m3" 1024 384 # several ms per token: requests that last
write_policy "$T/policy.yaml" "Internal Alpha" "max_batch: 16" "queue_size: 64"
start_server "$T/policy.yaml"

N=24
# burst KEY JSON: N requests at once; prints the sorted status codes, one per line.
burst() {
    local i
    for i in $(seq "$N"); do
        curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $1" --data-binary "$2" \
            "$BASE/v1/completions" &
    done >"$T/codes"
    wait
    sort "$T/codes" | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' '
}

# Requests per minute: capacity 5.
RPM_KEY=$(mkkey internal_devs --rpm 5)
got=$(burst "$RPM_KEY" '{"model":"tiny","prompt":"Hello","max_tokens":4,"temperature":0}')
check "rpm 5: $N parallel requests admit exactly 5 ($got)" test "$got" = "200x5 429x$((N - 5)) "

# Tokens per minute: each request reserves 1 + 50 = 51 tokens; capacity 4 x 51 + 30.
TPM_KEY=$(mkkey internal_devs --tpm 234)
got=$(burst "$TPM_KEY" '{"model":"tiny","prompt":"Hello","max_tokens":50,"temperature":0}')
check "tpm 234 (4 x 51 + 30): $N parallel requests admit exactly 4 ($got)" test "$got" = "200x4 429x$((N - 4)) "
check "the bucket never went negative" test "$(curl -s -D - -o /dev/null -H "Authorization: Bearer $TPM_KEY" "$BASE/v1/models" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "x-ratelimit-remaining-tokens" {print ($2 >= 0)}')" = 1

# Continuous batching: concurrent requests share decode steps.
DEV=$(mkkey internal_devs)
steps0=$(metric stagegate_decode_steps_total)
seqs0=$(metric stagegate_decode_step_sequences_total)
got=$(N=8 burst "$DEV" '{"model":"slow","prompt":"Hello","max_tokens":20,"temperature":0}')
check "8 concurrent requests all succeed ($got)" test "$got" = "200x8 "
steps=$(($(metric stagegate_decode_steps_total) - steps0))
seqs=$(($(metric stagegate_decode_step_sequences_total) - seqs0))
check "decode steps were shared ($seqs sequence-steps in $steps steps)" test "$seqs" -ge $((steps * 2))

stop_server

# A full queue: one sequence at a time, one waiting; the rest get 503. The
# clients give up after 4 s (the server cancels their sequences), so that the
# 1000-token completions of a 384-wide model never run to the end.
write_policy "$T/policy.yaml" "Internal Alpha" "max_batch: 1" "queue_size: 1" "request_timeout_s: 900"
start_server "$T/policy.yaml"
check "warm-up" test "$(post "$DEV" '{"model":"big","prompt":"Hello","max_tokens":1}')" = 200
LONG='{"model":"big","prompt":"Hello","max_tokens":1000,"temperature":0}'
for i in $(seq 6); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 4 -H "Authorization: Bearer $DEV" --data-binary "$LONG" \
        "$BASE/v1/completions" &
done >"$T/codes"
sleep 1
code=$(post "$DEV" '{"model":"big","prompt":"Hello","max_tokens":1}')
check "503 when the queue is full" test "$code" = 503
check "503 has retry-after" test -n "$(header retry-after)"
check "503 OpenAI error shape" test "$(jbody .error.code)" = overloaded
wait $(jobs -p | grep -v "^$SERVER_PID\$") 2>/dev/null || true
got=$(sort "$T/codes" | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
# The running and the queued request are cut by the client (000), or finish (200).
check "burst on a full queue: exactly 4 x 503 ($got)" test "$(grep -c '^503$' "$T/codes")" = 4
check "burst on a full queue: no other errors ($got)" test "$(grep -cE '^(000|200|503)$' "$T/codes")" = 6
stop_server
check "audit chain verifies" "$SG_BIN" audit verify --db "$T/db"
finish
