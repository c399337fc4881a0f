#!/usr/bin/env bash
# keys_cli.sh — `stagegate keys create|list|show|revoke` against a real database.
set -euo pipefail
SG_BIN=${SG_BIN:?SG_BIN must point at the stagegate binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$tmp/keys.db
fail() { echo "FAIL: $*" >&2; exit 1; }

# create: the secret alone on the last line; only its keyed hash is stored.
out=$("$SG_BIN" keys create --db "$db" --name alice --audience internal_devs --rpm 60 --tpm 9000 --expires 30d)
secret=$(tail -n 1 <<<"$out")
[[ $secret =~ ^sg-[A-Za-z0-9_-]{43}$ ]] || fail "last line is not a secret: $secret"
[[ $out == *'created key 1 "alice" for audience internal_devs (rpm 60, tpm 9000'* ]] || fail "create output: $out"
secret2=$("$SG_BIN" keys create --db "$db" --name=bob --audience=public | tail -n 1)
[[ $secret2 =~ ^sg-[A-Za-z0-9_-]{43}$ && $secret2 != "$secret" ]] || fail "second secret: $secret2"
[[ $(stat -c %a "$db.key") == 600 ]] || fail "hashing key file is not mode 600"
[[ $(stat -c %a "$db") == 600 ]] || fail "database is not mode 600"
[[ $(stat -c %s "$db.key") == 32 ]] || fail "hashing key file is not 32 bytes"
for f in "$db" "$db-wal"; do
  [[ -f $f ]] || continue
  if grep -q -F -- "${secret:3}" "$f" || grep -q -F -- "${secret2:3}" "$f"; then fail "secret stored in $f"; fi
done

# list: both keys, active, with the last four characters of the secret.
list=$("$SG_BIN" keys list --db "$db")
grep -Eq "^1 +alice +internal_devs +60 +9000 .* active +sg-\.\.\.${secret: -4}\$" <<<"$list" || fail "list row 1: $list"
grep -Eq "^2 +bob +public +policy +policy .* never +active +sg-\.\.\.${secret2: -4}\$" <<<"$list" || fail "list row 2: $list"

# show by id and by secret (from stdin); usage starts at zero.
show=$("$SG_BIN" keys show --db "$db" 1)
grep -q '^name: *alice$' <<<"$show" || fail "show 1: $show"
grep -q '^requests: *0$' <<<"$show" || fail "show usage: $show"
grep -q '^completion tokens: *0$' <<<"$show" || fail "show usage: $show"
show2=$("$SG_BIN" keys show --db "$db" - <<<"$secret2")
grep -q '^id: *2$' <<<"$show2" || fail "show by secret: $show2"

# revoke by secret, then by id; a second revoke says so; unknown ids fail.
[[ $("$SG_BIN" keys revoke --db "$db" "$secret") == 'key 1 "alice" revoked' ]] || fail "revoke by secret"
[[ $("$SG_BIN" keys revoke --db "$db" 1) == 'key 1 "alice" was already revoked' ]] || fail "revoke again"
"$SG_BIN" keys list --db "$db" | grep -Eq '^1 +alice .* revoked ' || fail "list after revoke"
"$SG_BIN" keys list --db "$db" | grep -Eq '^2 +bob .* active ' || fail "bob must stay active"
set +e
err=$("$SG_BIN" keys revoke --db "$db" 77 2>&1); rc=$?
set -e
[[ $rc == 1 && $err == "stagegate keys: no key with id 77" ]] || fail "revoke unknown: rc=$rc $err"

# creations and revocations are on the audit trail, which verifies.
trail=$("$SG_BIN" audit tail --db "$db")
grep -q 'operator key-created .*key 1 "alice" created (rpm 60, tpm 9000' <<<"$trail" || fail "audit trail: $trail"
grep -q 'operator key-revoked .*key 1 "alice" revoked$' <<<"$trail" || fail "audit trail: $trail"
[[ $(grep -c key-revoked <<<"$trail") == 1 ]] || fail "a repeated revoke must not be recorded again"
"$SG_BIN" audit verify --db "$db" >/dev/null || fail "audit verify"
"$SG_BIN" keys show --db "$db" 1 | grep -q '^requests: *0$' || fail "admin events must not count as usage"

# expiry shows up without any restart or cache.
"$SG_BIN" keys create --db "$db" --name brief --audience internal_devs --expires 1s >/dev/null
sleep 1.2
"$SG_BIN" keys list --db "$db" | grep -Eq '^3 +brief .* expired ' || fail "key 3 should be expired"

# usage errors exit 2, --help exits 0.
expect_rc() { local want=$1; shift; set +e; "$@" >/dev/null 2>&1; local rc=$?; set -e
  [[ $rc == "$want" ]] || fail "expected exit $want, got $rc: $*"; }
expect_rc 2 "$SG_BIN" keys create --db "$db" --name x
expect_rc 2 "$SG_BIN" keys create --db "$db" --name x --audience a --rpm ten
expect_rc 2 "$SG_BIN" keys create --db "$db" --name x --audience a --expires 3y
expect_rc 2 "$SG_BIN" keys create --db "$db" --name x --audience a --colour blue
expect_rc 2 "$SG_BIN" keys frobnicate --db "$db"
expect_rc 2 "$SG_BIN" keys
expect_rc 0 "$SG_BIN" keys --help
expect_rc 0 "$SG_BIN" keys create --help
expect_rc 1 "$SG_BIN" keys show --db "$db" 42
[[ $("$SG_BIN" keys list --db "$db" | wc -l) == 4 ]] || fail "failed creates must not add keys"
echo "keys_cli: ok"
