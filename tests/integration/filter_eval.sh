#!/usr/bin/env bash
# The content filter's evaluation suite meets its targets: false positives on
# held-out State of the Union sentences < 0.5%, recall on generated evasions
# >= 95%, and every category is measured. Also checks that the suite is real:
# a policy with fewer terms must score lower recall on the same set.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$SG_BIN" filter-eval --data "$SG_ROOT/tests/data/filter_eval" --heldout "$SG_ROOT/data/sotu/heldout" \
    --out "$tmp/filter.json" >"$tmp/table.txt"
cat "$tmp/table.txt"

/usr/bin/python3 - "$tmp/filter.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["metrics"]
assert r["suite"] == "filter", r["suite"]
assert r["clean"]["sentences"] > 2000, r["clean"]["sentences"]
assert r["violating"] >= 100 and r["evasions"] >= 1000, (r["violating"], r["evasions"])
assert m["false_positive_rate"] < 0.005, m["false_positive_rate"]
assert m["recall_evasions"] >= 0.95, m["recall_evasions"]
for kind, v in r["evasion_recall_by_kind"].items():
    assert v >= 0.9, (kind, v)
cats = r["categories"]
for name in ["violence", "hate", "harassment", "self-harm", "sexual", "illicit", "spam/phishing", "pii"]:
    c = cats[name]
    assert c["n"] >= 10, (name, c)
    assert c["recall"] >= 0.9 and c["precision"] >= 0.8, (name, c)
print("filter targets met: fp %.4f%%, evasion recall %.4f" % (100 * m["false_positive_rate"], m["recall_evasions"]))
PY

# A policy with a handful of terms per category recalls less: the suite measures the rules.
cat >"$tmp/small.yaml" <<'YAML'
model_name: "m"
version: "1"
deployment_strategy: "staged_release"
release_stages:
  - name: "Alpha"
    audience: "internal_devs"
    duration_days: 7
    risk_assessment_status: "completed"
    safety_protocols_enabled: ["content_filter"]
content_filter:
  categories:
    - name: "violence"
      terms: ["i will kill you"]
      action: "block"
YAML
"$SG_BIN" filter-eval --policy "$tmp/small.yaml" --data "$SG_ROOT/tests/data/filter_eval" \
    --heldout "$SG_ROOT/data/sotu/heldout" --json >"$tmp/small.json"
/usr/bin/python3 - "$tmp/small.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
v = r["categories"]["violence"]
assert v["n"] == 16 and v["tp"] < 4, v
assert r["metrics"]["recall"] < 0.1, r["metrics"]
PY

# Errors are clear and exit 1.
if "$SG_BIN" filter-eval --data "$tmp/nowhere" 2>"$tmp/err"; then echo "expected failure"; exit 1; fi
grep -q "violating.tsv" "$tmp/err"
echo ok
