"""PyTorch peer for bench/bench_train.sh: tokens/s of GPT-2 training steps
(forward, backward, clip, AdamW) on random tokens, and the sgemm rate.

  bench_train.py torch L C V T B THREADS STEPS   -> prints tokens/s
  bench_train.py sgemm THREADS                   -> prints GFLOP/s of float32 matmul
"""
import math
import sys
import time

import torch


def torch_rate(L, C, V, T, B, threads, steps):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    H = C // 64 if C % 64 == 0 else 1
    p = {"wte": torch.randn(V, C) * 0.02, "wpe": torch.randn(T, C) * 0.02,
         "lnf_w": torch.ones(C), "lnf_b": torch.zeros(C)}
    for i in range(L):
        p.update({f"{i}.ln1_w": torch.ones(C), f"{i}.ln1_b": torch.zeros(C),
                  f"{i}.attn_w": torch.randn(C, 3 * C) * 0.02, f"{i}.attn_b": torch.zeros(3 * C),
                  f"{i}.proj_w": torch.randn(C, C) * 0.02, f"{i}.proj_b": torch.zeros(C),
                  f"{i}.ln2_w": torch.ones(C), f"{i}.ln2_b": torch.zeros(C),
                  f"{i}.fc_w": torch.randn(C, 4 * C) * 0.02, f"{i}.fc_b": torch.zeros(4 * C),
                  f"{i}.fcp_w": torch.randn(4 * C, C) * 0.02, f"{i}.fcp_b": torch.zeros(C)})
    for t in p.values():
        t.requires_grad_(True)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    F = torch.nn.functional

    def loss_fn(tok):
        x = p["wte"][tok[:, :-1]] + p["wpe"][:T]
        for i in range(L):
            h = F.layer_norm(x, (C,), p[f"{i}.ln1_w"], p[f"{i}.ln1_b"])
            q, k, v = (h @ p[f"{i}.attn_w"] + p[f"{i}.attn_b"]).split(C, dim=2)
            q, k, v = (z.view(B, T, H, C // H).transpose(1, 2) for z in (q, k, v))
            a = ((q @ k.transpose(-2, -1)) / math.sqrt(C // H)).masked_fill(~mask, float("-inf")).softmax(-1)
            x = x + (a @ v).transpose(1, 2).reshape(B, T, C) @ p[f"{i}.proj_w"] + p[f"{i}.proj_b"]
            h = F.layer_norm(x, (C,), p[f"{i}.ln2_w"], p[f"{i}.ln2_b"])
            x = x + F.gelu(h @ p[f"{i}.fc_w"] + p[f"{i}.fc_b"], approximate="tanh") @ p[f"{i}.fcp_w"] + p[f"{i}.fcp_b"]
        x = F.layer_norm(x, (C,), p["lnf_w"], p["lnf_b"])
        return F.cross_entropy((x @ p["wte"].T).reshape(-1, V), tok[:, 1:].reshape(-1))

    opt = torch.optim.AdamW(list(p.values()), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    times = []
    for s in range(steps + 1):
        tok = torch.randint(0, V, (B, T + 1))
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(tok)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
        opt.step()
        if s > 0:  # the first step warms up
            times.append(time.perf_counter() - t0)
    times.sort()
    return B * T / times[len(times) // 2]


def sgemm_rate(threads):
    torch.set_num_threads(threads)
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = 0.0
    for _ in range(8):
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


if __name__ == "__main__":
    if sys.argv[1] == "torch":
        L, C, V, T, B, threads, steps = map(int, sys.argv[2:9])
        print(f"{torch_rate(L, C, V, T, B, threads, steps):.1f}")
    else:
        print(f"{sgemm_rate(int(sys.argv[2])):.1f}")
