#!/usr/bin/python3
"""PyTorch peer for bench/bench_engine.sh: GPT-2 inference in float32 with a
KV cache, on the same checkpoint directory as the C engine.

  engine_torch.py DIR --threads N
prints one line: prefill_tok_s decode1_tok_s decode8_tok_s
  prefill: one forward pass over 512 tokens;
  decode1: 128 greedy tokens after a 16-token prompt, batch 1;
  decode8: the same for 8 sequences at once (aggregate tokens/s).
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch


def load(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(d, "model.safetensors"), "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    w = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{name}: dtype {info['dtype']}, this peer reads F32 only")
        key = name[len("transformer."):] if name.startswith("transformer.") else name
        if key.split(".")[-2:] in (["attn", "bias"], ["attn", "masked_bias"]):
            continue
        b, e = info["data_offsets"]
        arr = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=8 + n + b).reshape(info["shape"])
        w[key] = torch.from_numpy(arr.copy())
    del data
    return cfg, w


class GPT2:
    def __init__(self, cfg, w):
        self.L, self.H, self.C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.w = w

    def forward(self, ids, cache):
        """ids [B, n] new tokens; cache: per layer (k, v) [B, H, T, hs] or None. Last logits [B, V]."""
        w, C, H = self.w, self.C, self.H
        hs = C // H
        B, n = ids.shape
        past = 0 if cache[0] is None else cache[0][0].shape[2]
        x = w["wte.weight"][ids] + w["wpe.weight"][past:past + n]
        F = torch.nn.functional
        for i in range(self.L):
            p = f"h.{i}."
            h = F.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], self.eps)
            qkv = torch.addmm(w[p + "attn.c_attn.bias"], h.view(-1, C), w[p + "attn.c_attn.weight"])
            q, k, v = qkv.view(B, n, 3 * C).split(C, dim=2)
            q = q.view(B, n, H, hs).transpose(1, 2)
            k = k.view(B, n, H, hs).transpose(1, 2)
            v = v.view(B, n, H, hs).transpose(1, 2)
            if cache[i] is not None:
                k = torch.cat([cache[i][0], k], dim=2)
                v = torch.cat([cache[i][1], v], dim=2)
            cache[i] = (k, v)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
            if n > 1:
                mask = torch.ones(n, past + n, dtype=torch.bool).tril(diagonal=past)
                att = att.masked_fill(~mask, float("-inf"))
            y = att.softmax(dim=-1) @ v
            y = y.transpose(1, 2).reshape(B * n, C)
            x = x + torch.addmm(w[p + "attn.c_proj.bias"], y, w[p + "attn.c_proj.weight"]).view(B, n, C)
            h = F.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], self.eps)
            h = F.gelu(torch.addmm(w[p + "mlp.c_fc.bias"], h.view(-1, C), w[p + "mlp.c_fc.weight"]),
                       approximate="tanh")
            x = x + torch.addmm(w[p + "mlp.c_proj.bias"], h, w[p + "mlp.c_proj.weight"]).view(B, n, C)
        x = F.layer_norm(x[:, -1], (C,), w["ln_f.weight"], w["ln_f.bias"], self.eps)
        return x @ w["wte.weight"].T


def decode_rate(m, batch, prompt_len=16, steps=128):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 50000, (batch, prompt_len), generator=g)
    cache = [None] * m.L
    logits = m.forward(ids, cache)
    t0 = time.perf_counter()
    for _ in range(steps):
        nxt = logits.argmax(dim=-1, keepdim=True)
        logits = m.forward(nxt, cache)
    return batch * steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prefill", type=int, default=512)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg, w = load(a.dir)
    m = GPT2(cfg, w)
    with torch.inference_mode():
        ids = torch.randint(0, 50000, (1, a.prefill), generator=torch.Generator().manual_seed(0))
        m.forward(ids[:, :32], [None] * m.L)  # warm up
        best = 0.0
        for _ in range(2):
            t0 = time.perf_counter()
            m.forward(ids, [None] * m.L)
            best = max(best, a.prefill / (time.perf_counter() - t0))
        d1 = decode_rate(m, 1)
        d8 = decode_rate(m, 8)
    print(f"{best:.2f} {d1:.2f} {d8:.2f}")


if __name__ == "__main__":
    main()
