#!/usr/bin/env bash
# audit_crash.sh — a record acknowledged by the audit log survives kill -9:
# concurrent writers (2 processes x 3 threads, sharing the file like the
# server and the CLI do) append and print each sequence number once it is
# committed; they are killed mid-flight (twice, restarting on the same
# database); every acknowledged record must be there with its writer's
# content and the chain must verify. Then `audit verify` must catch tampering.
set -euo pipefail
SG_BIN=${SG_BIN:?SG_BIN must point at the stagegate binary}
PY=/usr/bin/python3
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
db=$tmp/audit.db
fail() { echo "FAIL: $*" >&2; cat "$tmp"/err-*.txt >&2 2>/dev/null; exit 1; }
WRITERS=2

for round in 1 2; do
  pids=()
  for w in $(seq 1 $WRITERS); do
    "$SG_BIN" audit record --db "$db" --decision load --reason "r$round-w$w" --count 1000000 --threads 3 \
      >"$tmp/ack-$round-$w.txt" 2>"$tmp/err-$round-$w.txt" &
    pids+=($!)
  done
  # Let them run until 50 records are acknowledged (at most ~10 s), then a bit more.
  for _ in $(seq 1 100); do
    (($(cat "$tmp"/ack-$round-*.txt | wc -l) >= 50)) && break
    sleep 0.1
  done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  (($(cat "$tmp"/ack-$round-*.txt | wc -l) >= 50)) || fail "round $round: fewer than 50 records acknowledged"
done

"$SG_BIN" audit verify --db "$db" >"$tmp/verify.txt" || fail "chain broken after kill -9: $(cat "$tmp/verify.txt")"
"$SG_BIN" audit tail --db "$db" --json -n 100000000 >"$tmp/log.jsonl"

"$PY" - "$tmp" "$WRITERS" <<'PYEOF'
import json, re, sys, glob, os
tmp, writers = sys.argv[1], int(sys.argv[2])
log = {}
for line in open(os.path.join(tmp, "log.jsonl")):
    r = json.loads(line)
    log[r["seq"]] = r
seqs = sorted(log)
assert seqs == list(range(1, len(seqs) + 1)), "sequence numbers are not contiguous"
acked = 0
for path in glob.glob(os.path.join(tmp, "ack-*-*.txt")):
    rnd, w = re.search(r"ack-(\d+)-(\d+)\.txt$", path).groups()
    want = f"r{rnd}-w{w}"
    for line in open(path):
        m = re.fullmatch(r"seq (\d+)\n", line)
        if not m:
            continue  # a line cut short by the kill was never an acknowledgement
        seq = int(m.group(1))
        acked += 1
        assert seq in log, f"acknowledged record {seq} ({want}) is missing"
        assert log[seq]["reason"] == want, f"record {seq} is {log[seq]['reason']}, acknowledged as {want}"
        assert log[seq]["decision"] == "load"
print(f"audit_crash: {acked} acknowledged records present of {len(seqs)} in the log")
assert acked >= 100
PYEOF

# Tampering behind the program's back is caught and named.
n=$(wc -l <"$tmp/log.jsonl")
mid=$((n / 2))
"$PY" -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE audit SET reason=? WHERE seq=?', ('edited', int(sys.argv[2]))); c.commit()" "$db" "$mid"
set +e
msg=$("$SG_BIN" audit verify --db "$db" 2>&1); rc=$?
set -e
[[ $rc == 1 ]] || fail "verify of a tampered log exited $rc"
[[ $msg == *"audit log damaged at record $mid: record $mid has been changed"* ]] || fail "verify message: $msg"
echo "audit_crash: ok ($(head -c 60 "$tmp/verify.txt"))"
