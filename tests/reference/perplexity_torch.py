"""Held-out loss of a committed GPT-2 checkpoint, computed independently with
PyTorch (float64) from its model.safetensors (F32, F16 or BF16) and config.json.

    perplexity_torch.py MODEL_DIR IDS_FILE

IDS_FILE holds one line of token ids per document (`stagegate tokenize -m DIR
FILES...`). The documents are joined with end-of-text after each, as the
trainer's dataset does; the stream is cut into consecutive windows of n_ctx
tokens (each predicting the next n_ctx), the remainder in one shorter window,
so every token after the first is scored. Prints {"loss", "tokens", "nats"}.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch


def load_weights(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[base + b:base + e]
        if info["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif info["dtype"] == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif info["dtype"] == "BF16":  # the top 16 bits of a float32
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"{name}: unsupported dtype {info['dtype']}")
        name = name[len("transformer."):] if name.startswith("transformer.") else name
        if name.endswith("attn.bias") and len(info["shape"]) == 4:
            continue
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).astype(np.float64))
    return out


def forward(w, cfg, x):
    """x: [B, T] ids -> logits [B, T, V]: pre-LN blocks, GELU (tanh), tied head."""
    L, H, C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    eps, hs = cfg.get("layer_norm_epsilon", 1e-5), C // H
    B, T = x.shape
    ln = lambda h, p: torch.nn.functional.layer_norm(h, (C,), w[p + ".weight"], w[p + ".bias"], eps)
    h = w["wte.weight"][x] + w["wpe.weight"][:T]
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(L):
        p = f"h.{i}."
        a = ln(h, p + "ln_1") @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (t.view(B, T, H, hs).transpose(1, 2) for t in a.split(C, dim=2))
        att = (q @ k.transpose(2, 3)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        h = h + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = ln(h, p + "ln_2") @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
        h = h + torch.nn.functional.gelu(m, approximate="tanh") @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    return ln(h, "ln_f") @ w["wte.weight"].T


def main():
    model, ids_file = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    with open(os.path.join(model, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(model, "vocab.json")) as f:
        eot = json.load(f)["<|endoftext|>"]
    w = load_weights(os.path.join(model, "model.safetensors"))
    stream = []
    with open(ids_file) as f:
        for line in f:
            doc = [int(t) for t in line.split()]
            if doc:
                stream += doc + [eot]
    s = torch.tensor(stream)
    T = cfg["n_ctx"]
    n = len(stream)
    windows = (n - 1) // T
    spans = [(i * T, T) for i in range(windows)]
    if n - 1 > windows * T:
        spans.append((windows * T, n - 1 - windows * T))
    nats, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(spans), 16):
            group = spans[start:start + 16]
            for length in sorted({l for _, l in group}):
                batch = [b for b, l in group if l == length]
                x = torch.stack([s[b:b + length] for b in batch])
                y = torch.stack([s[b + 1:b + 1 + length] for b in batch])
                logp = forward(w, cfg, x).log_softmax(dim=-1)
                nats -= logp.gather(2, y.unsqueeze(2)).sum().item()
                count += y.numel()
    print(json.dumps({"loss": nats / count, "tokens": count, "nats": nats}))


if __name__ == "__main__":
    main()
