#!/usr/bin/env python3
"""Summary of bench/kernels/device_kernels_bwd.sh: one row per shape with two backward kernels side by side (NEW and
OLD, default ws and wgmma, both after the ws forward) and the peer (PyTorch SDPA FLASH, CUDNN) from the same call.

    python3 bench/kernels/summarize_bwd.py WORKDIR OUTDIR COMMIT [NEW [OLD]]

Reads WORKDIR/ours_<tag>_<bwd>.json (ringlab_attention_bench records) and WORKDIR/peer_*.json (bench/peer/peer_bench.py
sdpa records). Writes OUTDIR/ours.json, OUTDIR/peer.json (every record, the run's tag added) and OUTDIR/summary.md.
Backward alone = forward+backward time - forward time (it includes the delta preprocess and zeroing dQ), counted as
2.5 x the forward FLOPs, as the peer counts forward+backward = 3.5 x forward."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize_ab import collect, mean, ratio, shape_order  # noqa: E402  (the same records and table helpers)


def main(work, out, commit, new="ws", old="wgmma"):
    ours, runs, peers = collect(work, out, "bwd_kernel")

    def bwd_tflops(rs):  # backward alone, from forward+backward minus forward
        if not rs or not mean(rs, "fwdbwd_ms"):
            return 0.0
        ms = mean(rs, "fwdbwd_ms") - mean(rs, "fwd_ms")
        return mean(rs, "fwd_tflops") * mean(rs, "fwd_ms") * 2.5 / ms if ms > 0 else 0.0

    shapes = sorted({k for k, _ in runs}, key=shape_order)
    card = ours[0]["gpu"] if ours else "?"
    lines = [f"# Attention backward, {new} vs {old} (both after the ws forward), vs PyTorch SDPA (same call)\n",
             f"card: {card}, commit: {commit}, bf16, medians of the bench's iterations; TFLOP/s; ratios ours/peer; "
             f"fwd+bwd = ws forward + {new} (or {old}) backward; bwd = fwd+bwd - fwd (incl. delta preprocess, dQ "
             "zeroing); D256: ws/ws1 only (the other backwards refuse it)\n",
             f"| B | H | S | D | mask | fwd TF | fwd+bwd TF ({new}) | /FLASH | /CUDNN | fwd+bwd TF ({old}) | /FLASH | "
             f"/CUDNN | bwd TF {new} | bwd TF {old} | {new}/{old} |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for k in shapes:
        ws, wg = runs.get((k, new), []), runs.get((k, old), [])
        fl, cu = peers.get((k, "FLASH_ATTENTION"), {}), peers.get((k, "CUDNN_ATTENTION"), {})
        fb_ws, fb_wg = mean(ws, "fwdbwd_tflops"), mean(wg, "fwdbwd_tflops")
        b_ws, b_wg = bwd_tflops(ws), bwd_tflops(wg)
        lines.append(
            f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {'causal' if k[4] else 'full'} | {mean(ws or wg, 'fwd_tflops'):.1f} | "
            f"{fb_ws:.1f} | {ratio(fb_ws, fl.get('fwdbwd_tflops'))} | {ratio(fb_ws, cu.get('fwdbwd_tflops'))} | "
            f"{fb_wg:.1f} | {ratio(fb_wg, fl.get('fwdbwd_tflops'))} | {ratio(fb_wg, cu.get('fwdbwd_tflops'))} | "
            f"{b_ws:.1f} | {b_wg:.1f} | {ratio(b_ws, b_wg)} |")
    with open(f"{out}/summary.md", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if not 4 <= len(sys.argv) <= 6:
        sys.exit("usage: summarize_bwd.py WORKDIR OUTDIR COMMIT [NEW [OLD]]")
    main(*sys.argv[1:])
