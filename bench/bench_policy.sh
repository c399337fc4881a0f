#!/usr/bin/env bash
# bench_policy.sh — loading + validating examples/release.yaml (what a policy
# reload costs) against its peer, PyYAML's libyaml-backed CSafeLoader parsing
# the same text without any validation; and the per-request access decision.
# LOADS (default 2000), DECISIONS (default 2000000).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SG_BUILD:-$PWD/build}
[[ -x $BUILD/policy_bench ]] || { echo "bench_policy: build first (make)" >&2; exit 1; }
policy=examples/release.yaml
loads=${LOADS:-2000}
ours=$("$BUILD/policy_bench" "$policy" "$loads" "${DECISIONS:-2000000}")
echo "$ours"
ours_us=$(awk '/^policy_load_us/ {print $2}' <<<"$ours")
if /usr/bin/python3 -c 'import yaml; yaml.CSafeLoader' 2>/dev/null; then
  peer_us=$(/usr/bin/python3 - "$policy" "$loads" <<'PY'
import sys, time, yaml
text = open(sys.argv[1]).read(); n = int(sys.argv[2])
t = time.perf_counter()
for _ in range(n): yaml.load(text, Loader=yaml.CSafeLoader)
print("%.1f" % ((time.perf_counter() - t) / n * 1e6))
PY
)
  echo "peer_pyyaml_csafeloader_us $peer_us (parse only, no validation)"
  awk -v a="$ours_us" -v b="$peer_us" 'BEGIN {printf "ratio peer/stagegate %.2fx\n", b / a}'
else
  echo "peer: PyYAML with libyaml not available, skipped"
fi
