#!/usr/bin/env python3
"""Why PyTorch SDPA FLASH is slower at lengths off the 128-token tile (issue 15's peer model): times the forward at a
list of lengths for one (B, H, D, mask), with and without autograd, and lists the CUDA kernels one call launches
(torch.profiler), so an extra kernel (a copy, a pad) shows apart from a slower attention kernel.

    python3 bench/peer/offtile_probe.py --batch 16 --heads 32 --dim 64 --seqs 1024,1025,1088,1100,1152 --json out.json
"""
import argparse
import json
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def timed_ms(fn, iters=20, warmup=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ev = [torch.cuda.Event(enable_timing=True) for _ in range(iters + 1)]
    ev[0].record()
    for i in range(iters):
        fn()
        ev[i + 1].record()
    torch.cuda.synchronize()
    return sorted(ev[i].elapsed_time(ev[i + 1]) for i in range(iters))[iters // 2]


def kernels(fn):
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    rows = [(e.key[:90], round(getattr(e, "device_time_total", 0.0), 1)) for e in prof.key_averages()]
    return sorted((r for r in rows if r[1] > 0), key=lambda x: -x[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--seqs", required=True, help="comma-separated lengths")
    ap.add_argument("--mask", choices=("causal", "full"), default="causal")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    rows = []
    for s in (int(x) for x in a.seqs.split(",")):
        q, k, v = (torch.randn(a.batch, a.heads, s, a.dim, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        row = {"B": a.batch, "H": a.heads, "S": s, "D": a.dim, "mask": a.mask}
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            for grad in (False, True):
                for t in (q, k, v):
                    t.requires_grad_(grad)
                fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=a.mask == "causal")
                with torch.set_grad_enabled(grad):
                    row["fwd_ms_grad" if grad else "fwd_ms_nograd"] = timed_ms(fn)
                    row["kernels_grad" if grad else "kernels_nograd"] = kernels(fn)
        rows.append(row)
        print(f"S={s:6d} nograd {row['fwd_ms_nograd']:.4f} ms  grad {row['fwd_ms_grad']:.4f} ms  "
              f"kernels: {[n for n, _ in row['kernels_grad']]}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
