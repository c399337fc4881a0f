# checkpoint_compat.sh — runs checkpoint_compat.py: HF-layout files loaded by
# stagegate, conversions checked bit for bit against NumPy and PyTorch.
set -euo pipefail
: "${SG_BIN:?}" "${SG_ROOT:?}"
T=$(mktemp -d /tmp/sg_ckpt_compat.XXXXXX)
trap 'rm -rf "$T"' EXIT
/usr/bin/python3 "$SG_ROOT/tests/reference/checkpoint_compat.py" "$SG_BIN" "$T"
