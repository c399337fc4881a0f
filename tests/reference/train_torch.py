"""PyTorch reference for the C trainer (tests/reference/train_torch.sh).

  make DIR     a random small GPT-2 in DIR/model (HF config.json + F32
               model.safetensors), token batches DIR/batches.i32 [STEPS, B, T+1]
               and DIR/hparams.json
  check DIR    runs the same model in float64 autograd: gradients of batch 0
               against DIR/c/grads.f32 (canonical tensor order) and the losses
               of STEPS AdamW steps (clip, warm-up + cosine) against
               DIR/c/losses.txt; exits 1 on any mismatch.
"""
import json
import math
import struct
import sys

import numpy as np
import torch

L, NH, C, V, NCTX, B, T, STEPS = 2, 2, 32, 97, 24, 3, 16, 20
HP = dict(lr=3e-3, warmup=5, total=STEPS, floor=0.1, beta1=0.9, beta2=0.95, eps=1e-8,
          weight_decay=0.1, clip=1.0)


def names():
    out = [("wte.weight", (V, C)), ("wpe.weight", (NCTX, C))]
    for i in range(L):
        p = f"h.{i}."
        out += [(p + "ln_1.weight", (C,)), (p + "ln_1.bias", (C,)),
                (p + "attn.c_attn.weight", (C, 3 * C)), (p + "attn.c_attn.bias", (3 * C,)),
                (p + "attn.c_proj.weight", (C, C)), (p + "attn.c_proj.bias", (C,)),
                (p + "ln_2.weight", (C,)), (p + "ln_2.bias", (C,)),
                (p + "mlp.c_fc.weight", (C, 4 * C)), (p + "mlp.c_fc.bias", (4 * C,)),
                (p + "mlp.c_proj.weight", (4 * C, C)), (p + "mlp.c_proj.bias", (C,))]
    out += [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors:
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"])
    return out


def make(d):
    import os
    rng = np.random.default_rng(1234)
    os.makedirs(d + "/model", exist_ok=True)
    tensors = []
    for name, shape in names():
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            a = 1.0 + 0.1 * rng.standard_normal(shape)
        elif name.endswith("bias"):
            a = 0.02 * rng.standard_normal(shape)
        else:
            a = 0.1 * rng.standard_normal(shape)
        tensors.append((name, a.astype(np.float32)))
    write_safetensors(d + "/model/model.safetensors", tensors)
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": L, "n_head": NH,
           "n_embd": C, "n_positions": NCTX, "n_ctx": NCTX, "vocab_size": V, "n_inner": None,
           "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
           "bos_token_id": V - 1, "eos_token_id": V - 1}
    json.dump(cfg, open(d + "/model/config.json", "w"), indent=2)
    rng.integers(0, V, size=(STEPS, B, T + 1), dtype=np.int32).tofile(d + "/batches.i32")
    json.dump(dict(HP, steps=STEPS, batch=B, context=T), open(d + "/hparams.json", "w"))


def forward(P, tok):
    x = P["wte.weight"][tok[:, :-1].long()] + P["wpe.weight"][:T]
    hs = C // NH
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(L):
        p = lambda n: P[f"h.{i}.{n}"]
        h = torch.nn.functional.layer_norm(x, (C,), p("ln_1.weight"), p("ln_1.bias"), 1e-5)
        qkv = h @ p("attn.c_attn.weight") + p("attn.c_attn.bias")
        q, k, v = qkv.split(C, dim=2)
        q, k, v = (t.view(B, T, NH, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        h = torch.nn.functional.layer_norm(x, (C,), p("ln_2.weight"), p("ln_2.bias"), 1e-5)
        h = torch.nn.functional.gelu(h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"), approximate="tanh")
        x = x + h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = torch.nn.functional.layer_norm(x, (C,), P["ln_f.weight"], P["ln_f.bias"], 1e-5)
    logits = x @ P["wte.weight"].T
    return torch.nn.functional.cross_entropy(logits.reshape(-1, V), tok[:, 1:].reshape(-1).long())


def lr_at(step):
    if step < HP["warmup"]:
        return HP["lr"] * (step + 1) / HP["warmup"]
    lo = HP["lr"] * HP["floor"]
    if step >= HP["total"]:
        return lo
    t = (step - HP["warmup"]) / (HP["total"] - HP["warmup"])
    return lo + 0.5 * (1 + math.cos(math.pi * t)) * (HP["lr"] - lo)


def check(d):
    torch.set_default_dtype(torch.float64)
    st = read_safetensors(d + "/model/model.safetensors")
    P = {n: torch.tensor(st[n].astype(np.float64), requires_grad=True) for n, _ in names()}
    batches = torch.tensor(np.fromfile(d + "/batches.i32", dtype=np.int32).reshape(STEPS, B, T + 1))
    cgrads = np.fromfile(d + "/c/grads.f32", dtype=np.float32)
    closses = [float(x) for x in open(d + "/c/losses.txt").read().split()]
    ok = True

    loss = forward(P, batches[0])
    loss.backward()
    off, worst = 0, 0.0
    for name, shape in names():
        ref = P[name].grad.numpy()
        n = ref.size
        got = cgrads[off:off + n].reshape(shape).astype(np.float64)
        off += n
        rel = np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-12)
        worst = max(worst, rel)
        if not rel <= 1e-4:
            print(f"gradient {name}: relative error {rel:.3e} > 1e-4")
            ok = False
    if off != cgrads.size:
        print(f"gradient block has {cgrads.size} floats, expected {off}")
        ok = False
    print(f"gradients: {len(names())} tensors, worst relative error {worst:.2e}")

    for p in P.values():
        p.grad = None
    decay = [P[n] for n, s in names() if len(s) == 2]
    other = [P[n] for n, s in names() if len(s) != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": HP["weight_decay"]},
                             {"params": other, "weight_decay": 0.0}],
                            lr=HP["lr"], betas=(HP["beta1"], HP["beta2"]), eps=HP["eps"])
    if len(closses) != STEPS:
        print(f"C gave {len(closses)} losses, expected {STEPS}")
        return False
    worst = 0.0
    for s in range(STEPS):
        opt.zero_grad()
        loss = forward(P, batches[s])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), HP["clip"])
        for g in opt.param_groups:
            g["lr"] = lr_at(s)
        opt.step()
        diff = abs(loss.item() - closses[s])
        worst = max(worst, diff)
        if not diff <= 1e-4:
            print(f"step {s}: loss C {closses[s]:.6f} vs torch {loss.item():.6f}")
            ok = False
    print(f"losses: {STEPS} AdamW steps, first {closses[0]:.5f} last {closses[-1]:.5f}, worst difference {worst:.2e}")
    return ok


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        sys.exit(0 if check(sys.argv[2]) else 1)
