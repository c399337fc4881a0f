#!/usr/bin/python3
"""fp_tamper.py — what a leaker might do to a checkpoint's weights, for
bench/fingerprint_eval.sh: add Gaussian noise, or average two copies.

  fp_tamper.py noise SRC_DIR DST_DIR SIGMA SEED   w += N(0, (SIGMA * rms(w))^2) per tensor
  fp_tamper.py average A_DIR B_DIR DST_DIR        w = (a + b) / 2

F32 checkpoints only; the other files of the (first) source are copied."""
import json, os, shutil, struct, sys

import numpy as np


def load(d):
    b = open(os.path.join(d, "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    data = b[8 + n:]
    tensors = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", f"{d}: {k} is {v['dtype']}, only F32 is handled"
        s, e = v["data_offsets"]
        tensors[k] = np.frombuffer(data[s:e], dtype="<f4").copy()
    return b[:8 + n], header, tensors


def save(src, dst, head, header, tensors):
    os.makedirs(dst, exist_ok=True)
    for f in os.listdir(src):
        if f != "model.safetensors" and os.path.isfile(os.path.join(src, f)):
            shutil.copy(os.path.join(src, f), os.path.join(dst, f))
    order = sorted((v["data_offsets"][0], k) for k, v in header.items() if k != "__metadata__")
    with open(os.path.join(dst, "model.safetensors"), "wb") as out:
        out.write(head)
        for _, k in order:
            out.write(tensors[k].astype("<f4").tobytes())


def main():
    if sys.argv[1] == "noise":
        src, dst, sigma, seed = sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
        head, header, t = load(src)
        rng = np.random.default_rng(seed)
        for k, w in t.items():
            rms = float(np.sqrt(np.mean(w.astype(np.float64) ** 2))) or 1e-3
            t[k] = (w + rng.normal(0, sigma * rms, w.shape)).astype(np.float32)
        save(src, dst, head, header, t)
    elif sys.argv[1] == "average":
        a, b, dst = sys.argv[2], sys.argv[3], sys.argv[4]
        head, header, ta = load(a)
        _, _, tb = load(b)
        save(a, dst, head, header, {k: (ta[k] + tb[k]) / 2 for k in ta})
    else:
        sys.exit(__doc__)


main()
