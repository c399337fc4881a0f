#!/usr/bin/python3
"""A GPT-2 written for stagegate's reference tests (PyTorch + numpy only).

  gpt2_ref.py make DIR --layers L --heads H --embd C --vocab V --ctx T [--seed S]
              [--std X] [--prefix] [--attn-bias]
      writes a random-weight HF-layout checkpoint: config.json and a
      model.safetensors written by hand (8-byte little-endian header length,
      JSON header, raw little-endian F32 data). LayerNorm weights and all
      biases are random too, so a kernel that drops one is caught.
  gpt2_ref.py logits DIR --ids "1 2 3" -o FILE [-n N]
      float64 logits at every position, [n, V] little-endian float32 rows;
      with -n, also prints N greedy tokens (one model load for both;
      --greedy-fp32 computes those in float32, a third of the time on 124M).
  gpt2_ref.py greedy DIR --ids "1 2 3" -n N
      N greedy tokens (float64, KV cache), printed space-separated.
  gpt2_ref.py compare REF.bin OURS.bin --vocab V [--ref-rows r0,r1,..]
      max relative error (per position: max |a-b| / max |ref|) over rows.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

torch = None  # imported on first use: `make` and `compare` do not need it


def tensor_specs(L, C, V, T, NI):
    specs = [("wte.weight", [V, C]), ("wpe.weight", [T, C])]
    for i in range(L):
        p = f"h.{i}."
        specs += [
            (p + "ln_1.weight", [C]), (p + "ln_1.bias", [C]),
            (p + "attn.c_attn.weight", [C, 3 * C]), (p + "attn.c_attn.bias", [3 * C]),
            (p + "attn.c_proj.weight", [C, C]), (p + "attn.c_proj.bias", [C]),
            (p + "ln_2.weight", [C]), (p + "ln_2.bias", [C]),
            (p + "mlp.c_fc.weight", [C, NI]), (p + "mlp.c_fc.bias", [NI]),
            (p + "mlp.c_proj.weight", [NI, C]), (p + "mlp.c_proj.bias", [C]),
        ]
    specs += [("ln_f.weight", [C]), ("ln_f.bias", [C])]
    return specs


def write_safetensors(path, tensors, metadata=None):
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for name, arr in tensors:
        n = arr.nbytes
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + n]}
        offset += n
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * (-len(hjson) % 8)  # keep the data 8-byte aligned, as HF does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for _, arr in tensors:
            f.write(np.ascontiguousarray(arr, dtype="<f4").tobytes())


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=base + b).reshape(info["shape"])
    return out


def cmd_make(a):
    L, H, C, V, T = a.layers, a.heads, a.embd, a.vocab, a.ctx
    NI = 4 * C
    rng = np.random.default_rng(a.seed)
    tensors = []
    prefix = "transformer." if a.prefix else ""
    for name, shape in tensor_specs(L, C, V, T, NI):
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            arr = 1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)
        elif name.endswith("c_proj.weight"):
            arr = (a.std / math.sqrt(2 * L)) * rng.standard_normal(shape, dtype=np.float32)
        else:
            arr = a.std * rng.standard_normal(shape, dtype=np.float32)
        tensors.append((prefix + name, arr.astype(np.float32)))
        if a.attn_bias and name.endswith("ln_1.bias"):
            i = name.split(".")[1]
            mask = np.tril(np.ones((T, T), dtype=np.float32)).reshape(1, 1, T, T)
            tensors.append((f"{prefix}h.{i}.attn.bias", mask))
    os.makedirs(a.dir, exist_ok=True)
    write_safetensors(os.path.join(a.dir, "model.safetensors"), tensors, {"format": "pt"})
    config = {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "n_layer": L, "n_head": H, "n_embd": C, "n_positions": T, "n_ctx": T, "vocab_size": V,
        "layer_norm_epsilon": 1e-5, "n_inner": None, "bos_token_id": V - 1, "eos_token_id": V - 1,
    }
    with open(os.path.join(a.dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


class GPT2:
    """GPT-2 inference (float64 unless told): pre-LN blocks, GELU tanh, tied head."""

    def __init__(self, d, dtype=np.float64):
        global torch
        import torch
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        self.L, self.H, self.C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        raw = read_safetensors(os.path.join(d, "model.safetensors"))
        self.w = {}
        for k, v in raw.items():
            k = k[len("transformer."):] if k.startswith("transformer.") else k
            if k.endswith("attn.bias") and v.ndim == 4:
                continue
            self.w[k] = torch.from_numpy(v.astype(dtype))

    def ln(self, x, p):
        return torch.nn.functional.layer_norm(x, (self.C,), self.w[p + ".weight"], self.w[p + ".bias"], self.eps)

    def forward(self, ids, cache):
        """ids: new tokens; cache: list of (k, v) per layer, extended in place. Logits [n, V]."""
        w, C, H = self.w, self.C, self.H
        hs = C // H
        past = cache[0][0].shape[1] if cache[0] is not None else 0
        n = len(ids)
        x = w["wte.weight"][torch.tensor(ids)] + w["wpe.weight"][past:past + n]
        for i in range(self.L):
            p = f"h.{i}."
            h = self.ln(x, p + "ln_1")
            qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
            q, k, v = qkv.split(C, dim=1)
            q = q.view(n, H, hs).transpose(0, 1)
            k = k.view(n, H, hs).transpose(0, 1)
            v = v.view(n, H, hs).transpose(0, 1)
            if cache[i] is not None:
                k = torch.cat([cache[i][0], k], dim=1)
                v = torch.cat([cache[i][1], v], dim=1)
            cache[i] = (k, v)
            att = (q @ k.transpose(1, 2)) / math.sqrt(hs)
            mask = torch.ones(n, past + n, dtype=torch.bool).tril(diagonal=past)
            att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(0, 1).reshape(n, C)
            x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            h = self.ln(x, p + "ln_2")
            h = torch.nn.functional.gelu(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate="tanh")
            x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        x = self.ln(x, "ln_f")
        return x @ w["wte.weight"].T


def parse_ids(s):
    return [int(t) for t in s.split()]


def greedy(m, ids, n):
    cache = [None] * m.L
    out = []
    with torch.no_grad():
        logits = m.forward(ids, cache)[-1]
        for step in range(n):
            t = int(torch.argmax(logits))
            out.append(t)
            if step + 1 < n:
                logits = m.forward([t], cache)[-1]
    return out


def cmd_logits(a):
    m = GPT2(a.dir)
    with torch.no_grad():
        logits = m.forward(parse_ids(a.ids), [None] * m.L)
    logits.numpy().astype("<f4").tofile(a.o)
    if a.n:
        if a.greedy_fp32:
            m = GPT2(a.dir, np.float32)
        print(" ".join(map(str, greedy(m, parse_ids(a.ids), a.n))))


def cmd_greedy(a):
    m = GPT2(a.dir)
    print(" ".join(map(str, greedy(m, parse_ids(a.ids), a.n))))


def cmd_compare(a):
    ref = np.fromfile(a.ref, dtype="<f4").reshape(-1, a.vocab)
    ours = np.fromfile(a.ours, dtype="<f4").reshape(-1, a.vocab)
    rows = [int(r) for r in a.ref_rows.split(",")] if a.ref_rows else list(range(ref.shape[0]))
    if len(rows) != ours.shape[0]:
        sys.exit(f"compare: {ours.shape[0]} rows in {a.ours}, expected {len(rows)}")
    worst = 0.0
    for j, r in enumerate(rows):
        t, o = ref[r].astype(np.float64), ours[j].astype(np.float64)
        if not np.all(np.isfinite(o)):
            sys.exit(f"compare: non-finite logits at position {r}")
        err = np.max(np.abs(t - o)) / np.max(np.abs(t))
        worst = max(worst, err)
    print(f"{worst:.3e}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make")
    mk.add_argument("dir")
    for k in ("layers", "heads", "embd", "vocab", "ctx"):
        mk.add_argument("--" + k, type=int, required=True)
    mk.add_argument("--seed", type=int, default=0)
    mk.add_argument("--std", type=float, default=0.02, help="weight scale (larger = less repetitive greedy text)")
    mk.add_argument("--prefix", action="store_true")
    mk.add_argument("--attn-bias", action="store_true")
    lg = sub.add_parser("logits")
    lg.add_argument("dir")
    lg.add_argument("--ids", required=True)
    lg.add_argument("-o", required=True)
    lg.add_argument("-n", type=int, default=0, help="also print N greedy tokens")
    lg.add_argument("--greedy-fp32", action="store_true", help="the greedy tokens in float32 (faster on big shapes)")
    gr = sub.add_parser("greedy")
    gr.add_argument("dir")
    gr.add_argument("--ids", required=True)
    gr.add_argument("-n", type=int, default=64)
    cp = sub.add_parser("compare")
    cp.add_argument("ref")
    cp.add_argument("ours")
    cp.add_argument("--vocab", type=int, required=True)
    cp.add_argument("--ref-rows")
    a = ap.parse_args()
    {"make": cmd_make, "logits": cmd_logits, "greedy": cmd_greedy, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
