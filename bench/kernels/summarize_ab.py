#!/usr/bin/env python3
"""Summary of bench/kernels/device_kernels.sh: one row per shape with the ws and wgmma forward kernels side by side
and the peer (PyTorch SDPA FLASH, CUDNN) from the same call.

    python3 bench/kernels/summarize_ab.py WORKDIR OUTDIR COMMIT

Reads WORKDIR/ours_<tag>_<fwd>.json (ringlab_attention_bench records; several runs of one shape and kernel are
averaged) and WORKDIR/peer_*.json (bench/peer/peer_bench.py sdpa records). Writes OUTDIR/ours.json and
OUTDIR/peer.json (every record, the run's tag added) and OUTDIR/summary.md. Ratios are TFLOP/s ours / peer."""
import glob
import json
import os
import statistics
import sys


def load(pattern):
    rows = []
    for path in sorted(glob.glob(pattern)):
        tag = os.path.basename(path)[:-5]
        try:
            with open(path) as f:
                rows += [dict(r, run=tag) for r in json.load(f)]
        except (OSError, ValueError) as ex:
            print(f"summarize_ab: skipping {path}: {ex}", file=sys.stderr)
    return rows


def shape_key(r):
    return (r["B"], r["H"], r["S"], r["D"], r["causal"])


def collect(work, out, kernel_field):
    """Reads one call's records, copies them to OUTDIR/ours.json and peer.json, and groups them: our runs by
    (shape, the kernel named in kernel_field), the peer's by (shape, backend), failed peer runs left out."""
    ours, peer = load(f"{work}/ours_*.json"), load(f"{work}/peer_*.json")
    for name, rows in (("ours", ours), ("peer", peer)):
        with open(f"{out}/{name}.json", "w") as f:
            json.dump(rows, f, indent=1)
    runs = {}
    for r in ours:
        runs.setdefault((shape_key(r), r[kernel_field]), []).append(r)
    peers = {(shape_key(r), r["backend"]): r for r in peer if "error" not in r}
    return ours, runs, peers


def mean(rs, field):
    vals = [r[field] for r in rs if r.get(field)]
    return statistics.mean(vals) if vals else 0.0


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


def shape_order(k):
    """B1 H32 rows first, then by head dim, causal before full, length, batch."""
    return (k[0] * k[1] != 32, k[3], not k[4], k[2], k[0])


def main(work, out, commit):
    ours, runs, peers = collect(work, out, "fwd_kernel")
    shapes = sorted({k for k, _ in runs}, key=shape_order)
    card = ours[0]["gpu"] if ours else "?"
    lines = [f"# Attention kernels, ws vs wgmma forward, vs PyTorch SDPA (same call)\n",
             f"card: {card}, commit: {commit}, bf16, medians of the bench's iterations (grid: mean of 2 runs each); "
             "TFLOP/s ratios ours/peer (of ws, or wgmma where ws did not run); fwd+bwd = ws forward + wgmma backward, "
             "old fwd+bwd = wgmma forward + wgmma backward (D256: forward only)\n",
             "| B | H | S | D | mask | ws fwd TF | wgmma fwd TF | ws/wgmma | /FLASH | /CUDNN | fwd+bwd TF | /FLASH | "
             "/CUDNN | old fwd+bwd TF |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for k in shapes:
        ws, wg = runs.get((k, "ws"), []), runs.get((k, "wgmma"), [])
        fl, cu = peers.get((k, "FLASH_ATTENTION"), {}), peers.get((k, "CUDNN_ATTENTION"), {})
        ws_f, wg_f = mean(ws, "fwd_tflops"), mean(wg, "fwd_tflops")
        fb, fb_old = mean(ws or wg, "fwdbwd_tflops"), mean(wg, "fwdbwd_tflops")
        lines.append(
            f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {'causal' if k[4] else 'full'} | {ws_f:.1f} | {wg_f:.1f} | "
            f"{ratio(ws_f, wg_f)} | {ratio(ws_f or wg_f, fl.get('fwd_tflops'))} | "
            f"{ratio(ws_f or wg_f, cu.get('fwd_tflops'))} | {fb:.1f} | {ratio(fb, fl.get('fwdbwd_tflops'))} | "
            f"{ratio(fb, cu.get('fwdbwd_tflops'))} | {fb_old:.1f} |")
    with open(f"{out}/summary.md", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: summarize_ab.py WORKDIR OUTDIR COMMIT")
    main(*sys.argv[1:])
