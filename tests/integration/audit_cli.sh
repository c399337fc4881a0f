#!/usr/bin/env bash
# audit_cli.sh — `stagegate audit verify|tail|record|purge` on a real database:
# anchors, tampering (change, delete, reorder, truncate), exit codes.
set -euo pipefail
SG_BIN=${SG_BIN:?SG_BIN must point at the stagegate binary}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$tmp/audit.db
fail() { echo "FAIL: $*" >&2; exit 1; }
sql() { "$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()' "$db" "$1"; }
verify_fails_at() { # SEQ TEXT [ARGS...]
  local seq=$1 text=$2; shift 2
  set +e; local msg; msg=$("$SG_BIN" audit verify --db "$db" "$@" 2>&1); local rc=$?; set -e
  [[ $rc == 1 ]] || fail "verify exited $rc on a damaged log: $msg"
  [[ $msg == *"audit log damaged at record $seq: "*"$text"* ]] || fail "verify message: $msg"
}

# An empty log verifies.
[[ $("$SG_BIN" audit verify --db "$db") == "audit log intact: 0 records" ]] || fail "empty log"

# Records, acknowledged one by one, and the anchor of the last one.
acks=$("$SG_BIN" audit record --db "$db" --decision stage-change --reason "to stage 2" --count 6)
[[ $acks == $'seq 1\nseq 2\nseq 3\nseq 4\nseq 5\nseq 6' ]] || fail "acks: $acks"
out=$("$SG_BIN" audit verify --db "$db")
[[ $out =~ ^audit\ log\ intact:\ 6\ records\;\ anchor\ (6:[0-9a-f]{64})$ ]] || fail "verify output: $out"
anchor=${BASH_REMATCH[1]}
"$SG_BIN" audit verify --db "$db" --anchor "$anchor" >/dev/null || fail "anchored verify"

# tail: text and JSON.
[[ $("$SG_BIN" audit tail --db "$db" -n 2 | wc -l) == 2 ]] || fail "tail -n 2"
"$SG_BIN" audit tail --db "$db" | grep -Eq '^ +6 [0-9T:.-]+Z key=0 - - operator stage-change .*to stage 2$' || fail "tail text"
"$SG_BIN" audit tail --db "$db" --json -n 1 | "$PY" -c '
import json, sys
r = json.loads(sys.stdin.read())
assert r["seq"] == 6 and r["decision"] == "stage-change" and r["reason"] == "to stage 2", r
assert len(r["hash"]) == 64
' || fail "tail json"

# purge keeps the chain (operator events carry no text).
[[ $("$SG_BIN" audit purge --db "$db" --older-than 1s) == "dropped the texts of 0 records" ]] || fail "purge"
"$SG_BIN" audit verify --db "$db" >/dev/null || fail "verify after purge"

# Tampering, each on a fresh copy.
cp "$db" "$tmp/pristine.db"
restore() { rm -f "$db" "$db-wal" "$db-shm"; cp "$tmp/pristine.db" "$db"; }
sql "UPDATE audit SET reason = 'to stage 3' WHERE seq = 4"
verify_fails_at 4 "record 4 has been changed"
restore; sql "DELETE FROM audit WHERE seq = 2"
verify_fails_at 2 "record 2 has been removed"
restore; sql "UPDATE audit SET seq = -5 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = -5"
verify_fails_at 3 "record 3 does not follow record 2"
restore; sql "DELETE FROM audit WHERE seq >= 5"
"$SG_BIN" audit verify --db "$db" >/dev/null || fail "a truncated log still chains"
verify_fails_at 5 "records 5 to 6 have been removed" --anchor "$anchor"

# Usage errors exit 2; --help exits 0.
expect_rc() { local want=$1; shift; set +e; "$@" >/dev/null 2>&1; local rc=$?; set -e
  [[ $rc == "$want" ]] || fail "expected exit $want, got $rc: $*"; }
expect_rc 2 "$SG_BIN" audit
expect_rc 2 "$SG_BIN" audit verify --db "$db" --anchor nonsense
expect_rc 2 "$SG_BIN" audit record --db "$db"
expect_rc 2 "$SG_BIN" audit tail --db "$db" -n 0
expect_rc 2 "$SG_BIN" audit purge --db "$db" --older-than forever
expect_rc 2 "$SG_BIN" audit rewrite --db "$db"
expect_rc 0 "$SG_BIN" audit --help
expect_rc 0 "$SG_BIN" audit verify --help
echo "audit_cli: ok"
