# server_crash.sh — an acknowledged request is in the audit log: clients send
# completions with unique prompts under load, the server is killed with
# SIGKILL mid-stream, and every prompt a client got a 200 for must be in an
# "allowed" record (matched by its BLAKE2b digest, the policy's audit text
# mode being "hashed"); the chain still verifies.
source "$SG_ROOT/tests/lib/server.sh"

make_model "$T/m1"
write_policy "$T/policy.yaml" "Internal Alpha" "max_batch: 8"
start_server "$T/policy.yaml"
DEV=$(mkkey internal_devs)

client() { # client ID: requests until the server is gone; logs acknowledged prompts
    local i=0 prompt code
    while :; do
        prompt="client $1 request $i"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $DEV" \
            --data-binary "{\"model\":\"tiny\",\"prompt\":\"$prompt\",\"max_tokens\":3}" "$BASE/v1/completions") || true
        [ "$code" = 200 ] && echo "$prompt" >>"$T/acked.$1"
        [ "$code" = 000 ] && break
        i=$((i + 1))
    done
}
for c in 1 2 3 4; do client "$c" & done
# Kill once the clients are well under way (a condition, not a fixed sleep: a
# loaded machine may take seconds to load the model).
for _ in $(seq 600); do
    [ "$(cat "$T"/acked.* 2>/dev/null | wc -l)" -ge 20 ] && break
    sleep 0.1
done
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
wait
cat "$T"/acked.* >"$T/acked"
n=$(wc -l <"$T/acked")
check "load ran ($n acknowledged requests)" test "$n" -ge 4

"$SG_BIN" audit tail --db "$T/db" -n 1000000 --json |
    jq -r 'select(.decision == "allowed") | .prompt_digest' | sort >"$T/recorded"
missing=0
while read -r prompt; do
    d=$(printf '%s' "$prompt" | b2sum -l 256 | cut -d' ' -f1)
    grep -qx "$d" "$T/recorded" || { echo "not in the audit log: $prompt"; missing=$((missing + 1)); }
done <"$T/acked"
check "every acknowledged request is in the audit log ($missing of $n missing)" test "$missing" = 0
check "audit chain verifies after kill -9" "$SG_BIN" audit verify --db "$T/db"
finish
