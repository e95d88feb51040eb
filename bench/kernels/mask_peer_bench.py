#!/usr/bin/env python3
"""PyTorch's own paths for document (packed, varlen) and sliding-window masks, the peers of ringlab's masked
kernels (issue 19): SDPA with an explicit boolean mask and FlexAttention with a BlockMask, forward and
forward+backward, on one GPU. TFLOP/s are counted on the visible (unmasked) pairs, 4·B·H·D per pair forward (the
diagonal of causal masks counted half, FlashAttention's convention) and 2.5× that backward; the dense-equivalent
rate is printed beside it.

    python3 bench/kernels/mask_peer_bench.py --seq 16384 --docs lognormal --window 4096 --json out/mask_peer.json

Documents are drawn like core/mask_documents.h's named distributions (not bit-identical: numpy's generator).
"""
import argparse
import json
import math

import numpy as np
import torch
import torch.nn.functional as F


def documents(name, seq, seed):
    rng = np.random.default_rng(seed)
    cu = [0]
    while cu[-1] < seq:
        if name == "uniform":
            n = int(rng.integers(128, 8193))
        elif name == "lognormal":
            n = max(16, int(round(2048 * math.exp(1.2 * rng.standard_normal()))))
        elif name == "pretrain-mix":
            u = rng.random()
            median, sigma = (300, 1.0) if u < 0.6 else (4000, 0.8) if u < 0.9 else (40000, 1.0)
            n = max(16, int(round(median * math.exp(sigma * rng.standard_normal()))))
        elif name == "none":
            n = seq
        else:
            raise SystemExit(f"--docs {name}: allowed uniform | lognormal | pretrain-mix | none")
        cu.append(min(seq, cu[-1] + n))
    return cu


def visible_pairs(doc_id, window, causal):
    q = torch.arange(doc_id.numel(), device=doc_id.device)
    total, diag = 0, 0
    for start in range(0, q.numel(), 4096):  # row blocks: the dense mask of S = 64K would not fit
        rows = q[start:start + 4096, None]
        m = doc_id[rows] == doc_id[None, :]
        if causal:
            m &= q[None, :] <= rows
        if window >= 0:
            m &= rows - q[None, :] <= window
        total += int(m.sum())
        diag += int(m[torch.arange(rows.numel()), rows[:, 0]].sum())
    return total - (0.5 * diag if causal else 0)


def time_ms(fn, iters):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iters


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq", type=int, default=16384)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--dtype", choices=["bf16", "fp16"], default="bf16")
    ap.add_argument("--docs", default="lognormal")
    ap.add_argument("--window", type=int, default=-1, help="causal sliding window (keys q-W..q); -1: none")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    dev, dt = "cuda", torch.bfloat16 if a.dtype == "bf16" else torch.float16
    cu = documents(a.docs, a.seq, a.seed)
    doc_id = torch.zeros(a.seq, dtype=torch.int32, device=dev)
    for i in range(1, len(cu) - 1):
        doc_id[cu[i]:] += 1
    pairs = visible_pairs(doc_id, a.window, True)
    flops_fwd = 4.0 * a.heads * a.dim * pairs
    dense_fwd = 4.0 * a.heads * a.dim * a.seq * a.seq / 2
    q = torch.randn(1, a.heads, a.seq, a.dim, device=dev, dtype=dt, requires_grad=True)
    k = torch.randn(1, a.kv_heads, a.seq, a.dim, device=dev, dtype=dt, requires_grad=True)
    v = torch.randn_like(k, requires_grad=True)
    rows = []

    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    def mask_mod(b, h, qi, ki):
        ok = (doc_id[qi] == doc_id[ki]) & (ki <= qi)
        return ok & (qi - ki <= a.window) if a.window >= 0 else ok

    block_mask = create_block_mask(mask_mod, 1, 1, a.seq, a.seq, device=dev)
    flex = torch.compile(flex_attention)
    impls = {"flex_blockmask": lambda: flex(q, k, v, block_mask=block_mask, enable_gqa=True)}
    if a.seq <= 32768:  # an explicit S×S boolean mask
        qi = torch.arange(a.seq, device=dev)
        dense = (doc_id[:, None] == doc_id[None, :]) & (qi[None, :] <= qi[:, None])
        if a.window >= 0:
            dense &= qi[:, None] - qi[None, :] <= a.window
        impls["sdpa_explicit_mask"] = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=dense, enable_gqa=True)
    for name, fn in impls.items():
        with torch.no_grad():
            fwd = time_ms(fn, a.iters)
        out = fn()
        grad = torch.randn_like(out)
        both = time_ms(lambda: torch.autograd.grad(fn(), (q, k, v), grad), a.iters)
        row = {"impl": name, "fwd_ms": fwd, "fwd_bwd_ms": both,
               "fwd_tflops_visible": flops_fwd / fwd / 1e9, "fwd_bwd_tflops_visible": 3.5 * flops_fwd / both / 1e9,
               "fwd_tflops_dense_equiv": dense_fwd / fwd / 1e9}
        rows.append(row)
        print(f"{name:20s} fwd {fwd:8.3f} ms {row['fwd_tflops_visible']:7.1f} TFLOP/s (visible)"
              f"  fwd+bwd {both:8.3f} ms {row['fwd_bwd_tflops_visible']:7.1f} TFLOP/s")
    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "seq": a.seq, "heads": a.heads,
              "kv_heads": a.kv_heads, "dim": a.dim, "dtype": a.dtype, "docs": a.docs, "documents": len(cu) - 1,
              "window": a.window, "visible_pairs": pairs, "rows": rows}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
