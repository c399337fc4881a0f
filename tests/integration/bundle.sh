#!/usr/bin/env bash
# bundle.sh — downloadable releases end to end: licensee and release keys,
# pack (policy-gated, license recorded in the audit log), unpack, verify (file
# and directory), trace (copies, conversions, never-issued models), and every
# tamper case refused with its reason and nothing partial left behind.
set -euo pipefail
SG_BIN=${SG_BIN:?SG_BIN must point at the stagegate binary}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
sg() { "$SG_BIN" "$@"; }
# expect_fail EXIT_CODE TEXT CMD... : the command fails with that code and its stderr contains TEXT.
expect_fail() {
  local code=$1 text=$2; shift 2
  set +e; local msg; msg=$("$@" 2>&1 >/dev/null); local rc=$?; set -e
  [[ $rc == "$code" ]] || fail "'$*' exited $rc (expected $code): $msg"
  [[ $msg == *"$text"* ]] || fail "'$*' said: $msg (expected: $text)"
}
no_partial() { # nothing named DIR or DIR.partial-* may exist
  [[ ! -e $1 ]] || fail "$1 exists after a refused unpack"
  compgen -G "$1.partial-*" >/dev/null && fail "a partial directory of $1 was left behind"
  return 0
}

sg checkpoint init --layers 2 --heads 2 --embd 64 --vocab 512 --ctx 64 --seed 7 -o model >/dev/null
printf '# model card\nA test model.\n' > model/README.md
printf '{"v": 1}\n' > model/vocab.json
printf '#version: 0.2\n' > model/merges.txt
printf 'Use restrictions: none of the bad things.\n' > LICENSE.txt

# ---- keys ----------------------------------------------------------------------------
sg licensee keygen -o alice >/dev/null
sg licensee keygen -o bob >/dev/null
[[ $(stat -c %a alice.key) == 600 ]] || fail "alice.key mode $(stat -c %a alice.key)"
grep -q '^stagegate-licensee-public-v1 [0-9a-f]\{64\}$' alice.pub || fail "alice.pub format"
expect_fail 1 "exists already" sg licensee keygen -o alice
sg licensee add --db db --name alice --public-key alice.pub | grep -q "licensee 1 alice added" || fail "add alice"
sg licensee add --db db --name bob --public-key bob.pub >/dev/null
expect_fail 1 "exists already" sg licensee add --db db --name bob --public-key bob.pub
expect_fail 1 "expected a 'stagegate-licensee-public-v1' line, found a licensee secret key" \
  sg licensee add --db db --name carol --public-key alice.key
expect_fail 2 "needs --name" sg licensee add --db db --public-key alice.pub
sg licensee list --db db | grep -Eq '^2 +bob +[0-9a-f]{16} .* active$' || fail "list"
expect_fail 1 "no release key" sg pack --db db -m model --to alice -o x.sgb --license LICENSE.txt
sg release keygen --db db -o release.pub | grep -q "release key [0-9a-f]\{16\}" || fail "release keygen"
expect_fail 1 "has a release key already" sg release keygen --db db -o again.pub
grep -q '^stagegate-release-public-v1 [0-9a-f]\{64\}$' release.pub || fail "release.pub format"
[[ $(stat -c %a db.key) == 600 ]] || fail "db.key mode"
# the signing secret is stored sealed: its public half is there, no 64-byte plain secret
$PY - db <<'EOF' || fail "release key storage"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
pk, sealed = c.execute("select public_key, sealed_secret from release_keys").fetchone()
assert len(pk) == 32 and len(sealed) == 24 + 16 + 64
EOF
sg licensee keygen -o rogue >/dev/null
sg release keygen --db other.db -o other.pub >/dev/null

# ---- pack: policy gate, license, audit ------------------------------------------------
cat > policy.yaml <<'EOF'
model_name: "test"
deployment_strategy: "staged_release"
license: "LICENSE.txt"
release_stages:
  - name: "Hosted"
    audience: "partners"
    access: "api"
  - name: "Download"
    audience: "researchers"
    access: "downloadable"
EOF
expect_fail 1 "does not release the model as a download" sg pack --db db -m model --to alice -o x.sgb --policy policy.yaml
expect_fail 1 "no license text" sg pack --db db -m model --to alice -o x.sgb
expect_fail 1 "no licensee named 'zed'" sg pack --db db -m model --to zed -o x.sgb --license LICENSE.txt
[[ ! -e x.sgb ]] || fail "refused pack left a file"
sg pack --db db -m model --to alice -o alice.sgb --policy policy.yaml --stage Download --name tiny >/dev/null
sg pack --db db -m model --to bob -o bob.sgb --license LICENSE.txt --name tiny >/dev/null
sg audit verify --db db >/dev/null || fail "audit chain after packing"
lic_sha=$(sha256sum LICENSE.txt | cut -d' ' -f1)
sg audit tail --db db --json -n 2 | $PY -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
a = rows[0]
assert a["decision"] == "license-accepted" and a["model"] == "tiny" and a["stage"] == "Download", a
assert "licensee=alice" in a["reason"] and "license_sha256=" + sys.argv[1] in a["reason"], a
assert "licensee=bob" in rows[1]["reason"], rows[1]
' "$lic_sha" || fail "audit records of the issues"
# the original weights are not in the bundle in the clear
$PY - model/model.safetensors alice.sgb <<'EOF' || fail "bundle holds plaintext"
import sys
w = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
assert b[:8] == b"SGBUNDLE"
assert w[200:264] not in b and b"model card" not in b and b"Use restrictions" not in b
EOF

# ---- unpack and verify ------------------------------------------------------------------
sg verify alice.sgb --release-key release.pub | grep -q "^OK alice.sgb: .*licensee alice" || fail "verify file"
sg unpack alice.sgb --key alice.key -o A --release-key release.pub >/dev/null
for f in config.json vocab.json merges.txt README.md; do cmp -s "model/$f" "A/$f" || fail "A/$f differs"; done
cmp -s LICENSE.txt A/LICENSE || fail "A/LICENSE"
[[ -f A/manifest.dsse.json ]] || fail "no manifest.dsse.json"
cmp -s model/model.safetensors A/model.safetensors && fail "weights were not fingerprinted"
[[ $(stat -c %s model/model.safetensors) == $(stat -c %s A/model.safetensors) ]] || fail "weights size"
sg checkpoint info A --check >/dev/null || fail "unpacked checkpoint does not load"
sg verify A --release-key release.pub | grep -q "^OK A: " || fail "verify dir"
$PY - A/manifest.dsse.json <<'EOF' || fail "manifest shape"
import base64, json, sys
env = json.load(open(sys.argv[1]))
assert env["payloadType"] == "application/vnd.in-toto+json" and len(env["signatures"]) == 1
st = json.loads(base64.b64decode(env["payload"]))
assert st["_type"] == "https://in-toto.io/Statement/v1"
names = sorted(s["name"] for s in st["subject"])
assert names == ["LICENSE", "README.md", "config.json", "merges.txt", "model.safetensors", "vocab.json"], names
assert all(len(s["digest"]["sha256"]) == 64 and s["annotations"]["size"] >= 0 for s in st["subject"])
p = st["predicate"]
assert p["model"] == "tiny" and p["stage"] == "Download" and p["licensee"] == "alice" and p["issued"].endswith("Z")
EOF
sg unpack bob.sgb --key bob.key -o B >/dev/null

# ---- refusals -----------------------------------------------------------------------------
expect_fail 1 "issued to another licensee" sg unpack alice.sgb --key bob.key -o X; no_partial X
expect_fail 1 "issued to another licensee" sg unpack alice.sgb --key rogue.key -o X; no_partial X
expect_fail 1 "bad signature" sg verify alice.sgb --release-key other.pub
expect_fail 1 "bad signature" sg verify A --release-key other.pub
expect_fail 1 "bad signature" sg unpack alice.sgb --key alice.key -o X --release-key other.pub; no_partial X
expect_fail 1 "exists already" sg unpack alice.sgb --key alice.key -o A
chmod 644 alice.key
expect_fail 1 "accessible to group or others" sg unpack alice.sgb --key alice.key -o X
chmod 600 alice.key

size=$(stat -c %s alice.sgb)
# truncated anywhere
for cut in 100 181 $((size / 2)) $((size - 1)); do
  head -c "$cut" alice.sgb > cut.sgb
  expect_fail 1 "truncated" sg unpack cut.sgb --key alice.key -o X; no_partial X
  expect_fail 1 "truncated" sg verify cut.sgb --release-key release.pub
done
# one flipped byte anywhere: in the magic, version, recipient, release key, sealed key,
# stream header, the first chunk's length, chunks, the manifest, its length, the end magic
for off in 0 9 20 50 100 170 180 186 2000 $((size / 3)) $((size / 2)) $((size - 900)) $((size - 300)) $((size - 12)) $((size - 1)); do
  cp alice.sgb flip.sgb
  $PY -c 'import sys; f = open(sys.argv[1], "r+b"); o = int(sys.argv[2]); f.seek(o); b = f.read(1); f.seek(o); f.write(bytes([b[0] ^ 0x20]))' flip.sgb "$off"
  set +e; msg=$(sg unpack flip.sgb --key alice.key -o X 2>&1); rc=$?; set -e
  [[ $rc == 1 ]] || fail "flip at $off: unpack exited $rc: $msg"
  [[ $msg =~ altered|truncated|bad\ signature|not\ a\ stagegate\ bundle|another\ licensee|unsupported\ bundle\ version|malformed ]] \
    || fail "flip at $off: unclear reason: $msg"
  no_partial X
  set +e; msg=$(sg verify flip.sgb --release-key release.pub 2>&1); rc=$?; set -e
  [[ $rc == 1 ]] || fail "flip at $off: verify exited $rc: $msg"
done
# chunks swapped (their length prefixes with them): the stream's order is authenticated
$PY - alice.sgb swap.sgb <<'EOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
tail_len = struct.unpack("<Q", b[-16:-8])[0]
end = len(b) - 16 - tail_len
pos, chunks = 180, []
while pos < end:
    n = struct.unpack("<I", b[pos:pos + 4])[0]
    chunks.append(b[pos:pos + 4 + n]); pos += 4 + n
assert pos == end and len(chunks) >= 6, len(chunks)
chunks[1], chunks[3] = chunks[3], chunks[1]
open(sys.argv[2], "wb").write(b[:180] + b"".join(chunks) + b[end:])
EOF
expect_fail 1 "chunk 1 fails authentication" sg unpack swap.sgb --key alice.key -o X; no_partial X
expect_fail 1 "altered: the encrypted content does not match" sg verify swap.sgb --release-key release.pub
# bob's signed manifest attached to alice's chunks
$PY - alice.sgb bob.sgb mix.sgb <<'EOF'
import struct, sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
ta = struct.unpack("<Q", a[-16:-8])[0]; tb = struct.unpack("<Q", b[-16:-8])[0]
open(sys.argv[3], "wb").write(a[:len(a) - 16 - ta] + b[len(b) - 16 - tb:])
EOF
expect_fail 1 "altered" sg unpack mix.sgb --key alice.key -o X; no_partial X
expect_fail 1 "altered" sg verify mix.sgb --release-key release.pub
# an unpacked directory changed afterwards
cp -r A A2
printf 'x' >> A2/LICENSE
expect_fail 1 "LICENSE has" sg verify A2 --release-key release.pub
cp A/LICENSE A2/LICENSE; printf '\x01' | dd of=A2/model.safetensors bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_fail 1 "model.safetensors does not match its SHA-256" sg verify A2 --release-key release.pub
cp A/model.safetensors A2/; touch A2/extra.bin
expect_fail 1 "extra.bin is not listed" sg verify A2 --release-key release.pub
rm A2/extra.bin; sg verify A2 --release-key release.pub >/dev/null || fail "restored A2"

# ---- revocation ----------------------------------------------------------------------------
sg licensee revoke --db db --name bob >/dev/null
expect_fail 1 "revoked" sg pack --db db -m model --to bob -o x.sgb --license LICENSE.txt
expect_fail 1 "no active licensee" sg licensee revoke --db db --name bob

# ---- trace ----------------------------------------------------------------------------------
trace_is() { # DIR NAME|null
  local out; out=$(sg trace --db db -m "$1")
  $PY -c '
import json, sys
r = json.loads(sys.argv[1]); want = None if sys.argv[2] == "null" else sys.argv[2]
assert r["licensee"] == want, r
if want: assert r["confidence"] > 0.999 and r["z"] >= r["threshold"] and len(r["matches"]) == 1, r
else: assert r["confidence"] == 0 and r["matches"] == [], r
' "$out" "$2" || fail "trace $1: $out (expected $2)"
}
trace_is A alice
trace_is B bob
trace_is model null
sg checkpoint convert A --dtype f16 -o A16 >/dev/null; trace_is A16 alice
sg checkpoint convert B --dtype bf16 -o B16 >/dev/null; trace_is B16 bob
sg checkpoint init --layers 2 --heads 2 --embd 64 --vocab 512 --ctx 64 --seed 8 -o stranger >/dev/null
trace_is stranger null
sg checkpoint init --layers 1 --heads 2 --embd 32 --vocab 512 --ctx 64 -o small >/dev/null
out=$(sg trace --db db -m small)
[[ $out == *'"licensee":null'* && $out == *'"note":"the suspect'* ]] || fail "trace of another shape: $out"
echo "bundle: all checks passed"
