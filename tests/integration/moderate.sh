#!/usr/bin/env bash
# `stagegate moderate` prints the /v1/moderations shape for stdin, with the
# built-in categories or a policy's content_filter.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'I will k1ll y0u\nthe weather is nice today\nmail me: ann@example.org\n' |
    "$SG_BIN" moderate --lines >"$tmp/lines.json"
/usr/bin/python3 - "$tmp/lines.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["id"].startswith("modr-") and r["model"], r
res = r["results"]
assert len(res) == 3, res
assert res[0]["flagged"] and res[0]["categories"]["violence"] is True
assert res[0]["category_scores"]["violence"] == 1.0
assert not res[1]["flagged"] and not any(res[1]["categories"].values())
assert res[2]["flagged"] and res[2]["categories"]["pii"] and not res[2]["categories"]["violence"]
for x in res:
    assert set(x) == {"flagged", "categories", "category_scores"}, x
    assert set(x["categories"]) == set(x["category_scores"])
PY

# With a policy: only its categories appear.
cat >"$tmp/p.yaml" <<'YAML'
model_name: "m"
version: "1"
deployment_strategy: "staged_release"
release_stages:
  - name: "Alpha"
    audience: "internal_devs"
    duration_days: 7
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["content_filter", "moderation_api"]
content_filter:
  categories:
    - name: "spam"
      terms: ["cheap pills"]
      action: "flag"
YAML
echo 'Buy CHEAP p!llz... er, cheap p1lls' | "$SG_BIN" moderate --policy "$tmp/p.yaml" >"$tmp/p.json"
/usr/bin/python3 - "$tmp/p.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert list(r["results"][0]["categories"]) == ["spam"], r
assert r["results"][0]["flagged"] is True
PY

# Usage and policy errors.
set +e
"$SG_BIN" moderate --bogus </dev/null 2>/dev/null; [[ $? == 2 ]] || { echo "usage error should exit 2"; exit 1; }
echo x | "$SG_BIN" moderate --policy "$tmp/missing.yaml" 2>"$tmp/err"; [[ $? == 1 ]] || { echo "missing policy should exit 1"; exit 1; }
set -e
grep -q "stagegate moderate:" "$tmp/err"
echo ok
