"""checkpoint_compat.py — stagegate's checkpoints against independent references.

A checkpoint is written here the way Hugging Face lays GPT-2 out (its own
tensor order, unpadded header, causal-mask buffers, a tied lm_head, the
"transformer." prefix in one variant, extra config fields), with values
spread over the whole float range. stagegate must load it and convert it;
the results are read back with a separate Python reader and compared bit for
bit with NumPy's float16 and PyTorch's bfloat16 conversions (both round to
nearest even). Usage: checkpoint_compat.py STAGEGATE_BINARY WORKDIR
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch

np.seterr(over="ignore")  # float16 overflow to infinity is what is being tested

SG, WORK = sys.argv[1], sys.argv[2]
L, H, C, V, T = 2, 2, 16, 50, 8
I = 4 * C
DT = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "BOOL": np.uint8}
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def write_st(path, tensors, metadata=None, pad=False):
    """tensors: list of (name, dtype string, numpy array) in file order."""
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, arr in tensors:
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_st(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    data = buf[8 + n :]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        out[name] = (info["dtype"], np.frombuffer(data[b:e], dtype=DT[info["dtype"]]).reshape(info["shape"]))
    order = sorted(header, key=lambda k: header[k]["data_offsets"][0])
    return n, meta, out, order, header, len(data)


def canonical_names():
    names = ["wte.weight", "wpe.weight"]
    for i in range(L):
        for part in ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                     "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                     "mlp.c_proj.weight", "mlp.c_proj.bias"]:
            names.append(f"h.{i}.{part}")
    return names + ["ln_f.weight", "ln_f.bias"]


def shape_of(name):
    last = name.split(".", 2)[-1] if name.startswith("h.") else name
    return {"wte.weight": (V, C), "wpe.weight": (T, C), "ln_f.weight": (C,), "ln_f.bias": (C,),
            "ln_1.weight": (C,), "ln_1.bias": (C,), "ln_2.weight": (C,), "ln_2.bias": (C,),
            "attn.c_attn.weight": (C, 3 * C), "attn.c_attn.bias": (3 * C,), "attn.c_proj.weight": (C, C),
            "attn.c_proj.bias": (C,), "mlp.c_fc.weight": (C, I), "mlp.c_fc.bias": (I,),
            "mlp.c_proj.weight": (I, C), "mlp.c_proj.bias": (C,)}[last]


rng = np.random.default_rng(1234)
values = {}
for name in canonical_names():
    shp = shape_of(name)
    x = (rng.standard_normal(shp) * np.exp2(rng.uniform(-30, 18, shp))).astype(np.float32)
    values[name] = x
# Edge cases for the half conversions: ties, overflow, subnormals, signed zero.
edge = np.array([0.0, -0.0, 65504, 65519, 65520, -65520, 1e38, 2.0**-24, 2.0**-25, 1.5 * 2.0**-25, 2.0**-14,
                 1 + 2.0**-11, 1 + 3 * 2.0**-11, 1 + 2.0**-8, 1 + 3 * 2.0**-8, np.inf, -np.inf, 3.0e-39], np.float32)
values["wte.weight"].reshape(-1)[: len(edge)] = edge

config = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
          "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
          "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": T, "n_embd": C, "n_head": H, "n_layer": L,
          "n_positions": T, "resid_pdrop": 0.1, "summary_activation": None, "summary_first_dropout": 0.1,
          "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
          "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
          "vocab_size": V}


def hf_dir(path, prefix, dtype):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    mask = np.tril(np.ones((T, T), np.float32)).reshape(1, 1, T, T)
    # HF's order: alphabetical-ish, masks interleaved, lm_head at the end.
    tensors = []
    for name in sorted(canonical_names()):
        x = values[name]
        arr = x.astype(np.float16) if dtype == "F16" else x
        tensors.append((prefix + name, dtype, arr))
        if name.endswith("ln_1.bias"):
            tensors.append((prefix + name.replace("ln_1.bias", "attn.bias"), "F32", mask))
            tensors.append((prefix + name.replace("ln_1.bias", "attn.masked_bias"), "F32", np.array(-1e4, np.float32)))
    tensors.append(("lm_head.weight", dtype, values["wte.weight"].astype(np.float16 if dtype == "F16" else np.float32)))
    write_st(os.path.join(path, "model.safetensors"), tensors, {"format": "pt"})


def sg(*args):
    r = subprocess.run([SG, "checkpoint", *args], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
    return r


def bits_f16(x):
    return x.astype(np.float16).view(np.uint16)


def bits_bf16(x):
    return torch.from_numpy(np.ascontiguousarray(x)).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)


def same(a, b):
    return a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))


hf = os.path.join(WORK, "hf")
hf_dir(hf, "", "F32")
r = sg("info", hf)
check(r.returncode == 0 and f"params      {sum(v.size for v in values.values())} " in r.stdout, "HF F32 layout loads")

for dt in ["f32", "f16", "bf16"]:
    out = os.path.join(WORK, "out_" + dt)
    r = sg("convert", hf, "--dtype", dt, "-o", out)
    check(r.returncode == 0, f"convert HF -> {dt}")
    n, meta, tensors, order, header, data_len = read_st(os.path.join(out, "model.safetensors"))
    check((8 + n) % 8 == 0, f"{dt}: data region 8-byte aligned")
    check(order == canonical_names(), f"{dt}: canonical tensor order, no masks, no lm_head")
    ends = [header[k]["data_offsets"] for k in order]
    check(ends[0][0] == 0 and all(a[1] == b[0] for a, b in zip(ends, ends[1:])) and ends[-1][1] == data_len,
          f"{dt}: offsets contiguous and cover the data region")
    check(meta.get("format") == "pt" and meta.get("converted_from") == "F32", f"{dt}: metadata")
    ok = True
    for name in canonical_names():
        dtype, arr = tensors[name]
        want = {"f32": lambda x: x, "f16": bits_f16, "bf16": bits_bf16}[dt](values[name])
        ok &= dtype == dt.upper() and same(arr, want)
    check(ok, f"{dt}: every value bit-identical to the {'NumPy' if dt == 'f16' else 'PyTorch' if dt == 'bf16' else 'input'} conversion")
    with open(os.path.join(out, "config.json")) as f:
        cfg = json.load(f)
    check(cfg["model_type"] == "gpt2" and cfg["architectures"] == ["GPT2LMHeadModel"] and cfg["n_layer"] == L
          and cfg["n_positions"] == T and cfg["n_ctx"] == T and cfg["n_inner"] is None and cfg["vocab_size"] == V
          and cfg["bos_token_id"] == V - 1 and cfg["layer_norm_epsilon"] == 1e-05, f"{dt}: config.json in HF shape")

# Reading halves: stagegate's f16/bf16 -> f32 must equal the references' upcasts.
for dt in ["f16", "bf16"]:
    back = os.path.join(WORK, f"back_{dt}")
    r = sg("convert", os.path.join(WORK, "out_" + dt), "--dtype", "f32", "-o", back)
    _, _, tensors, _, _, _ = read_st(os.path.join(back, "model.safetensors"))
    ok = r.returncode == 0
    for name in canonical_names():
        if dt == "f16":
            want = values[name].astype(np.float16).astype(np.float32)
        else:
            want = torch.from_numpy(values[name]).to(torch.bfloat16).to(torch.float32).numpy()
        ok &= same(tensors[name][1], want)
    check(ok, f"{dt} -> f32 on load equals the reference upcast")

# An F16 file with the "transformer." prefix, as some exports write it.
hf16 = os.path.join(WORK, "hf16")
hf_dir(hf16, "transformer.", "F16")
r = sg("convert", hf16, "--dtype", "f32", "-o", os.path.join(WORK, "hf16_32"))
_, _, tensors, _, _, _ = read_st(os.path.join(WORK, "hf16_32", "model.safetensors"))
check(r.returncode == 0 and all(same(tensors[n][1], values[n].astype(np.float16).astype(np.float32))
                                for n in canonical_names()), "HF F16 with transformer. prefix loads exactly")

# stagegate's own random init: GPT-2's distribution.
rnd = os.path.join(WORK, "rnd")
r = subprocess.run([SG, "checkpoint", "init", "--layers", "4", "--heads", "4", "--embd", "256", "--vocab", "2000",
                    "--ctx", "64", "--seed", "11", "-o", rnd], capture_output=True, text=True)
_, meta, tensors, _, _, _ = read_st(os.path.join(rnd, "model.safetensors"))
wte = tensors["wte.weight"][1]
proj = np.concatenate([tensors[f"h.{i}.mlp.c_proj.weight"][1].ravel() for i in range(4)])
check(r.returncode == 0 and abs(wte.std() - 0.02) < 4e-4 and abs(wte.mean()) < 2e-4, "init: wte ~ N(0, 0.02)")
check(abs(proj.std() - 0.02 / np.sqrt(8)) < 2e-4, "init: residual projections ~ N(0, 0.02/sqrt(2L))")
# Normality: the fraction within one standard deviation is 68.27%.
frac = float(np.mean(np.abs(wte) < 0.02))
check(abs(frac - 0.6827) < 0.005, f"init: {frac:.4f} of wte within 1 sd (normal: 0.6827)")
check(np.all(tensors["h.0.ln_1.weight"][1] == 1) and np.all(tensors["h.3.mlp.c_fc.bias"][1] == 0)
      and meta.get("seed") == "11", "init: LayerNorm 1/0, biases 0, seed recorded")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
