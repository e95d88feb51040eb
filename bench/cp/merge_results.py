#!/usr/bin/env python3
"""Merges our `ringlab run --json` records with bench/peer/peer_bench.py cp records into one JSON and a
Markdown table: per (W, S, method) forward and forward+backward ms, TFLOP/s per GPU, ours/peer time ratio, peak GPU
memory per rank; and the scaling efficiency T(1 GPU) / (W * T(W GPUs)) of our W=1 schedule with the same kernels.

    merge_results.py --ours ours.json [...] --peer peer.json [...] --json cp.json --md cp.md [--note TEXT]
"""
import argparse, json, sys

ap = argparse.ArgumentParser()
ap.add_argument("--ours", nargs="+", required=True)
ap.add_argument("--peer", nargs="+", required=True)
ap.add_argument("--json", required=True)
ap.add_argument("--md", required=True)
ap.add_argument("--note", default="")
a = ap.parse_args()


def load(paths):
    rows = []
    for p in paths:
        try:
            x = json.load(open(p))
        except Exception as ex:  # a missing or broken file is reported, not fatal
            print(f"merge_results: skipping {p}: {ex}", file=sys.stderr)
            continue
        rows += x if isinstance(x, list) else [x]
    return rows


ours = [r for r in load(a.ours) if r.get("kind") == "ringlab_run"]
peer = [r for r in load(a.peer) if r.get("kind") == "cp_sdpa" and "error" not in r]
peer_err = [r for r in load(a.peer) if "error" in r]
gib = lambda b: b / 2**30
rows = []
for o in sorted(ours, key=lambda r: (r["world"], r["S"], r["method"])):
    p = next((r for r in peer if r["world"] == o["world"] and r["S"] == o["S"] and r["method"] == o["method"]), None)
    for pas, key in (("fwd", "fwd_ms"), ("fwd+bwd", "fwdbwd_ms")):
        if key not in o:
            continue
        tkey = "fwd_tflops_per_gpu" if pas == "fwd" else "fwdbwd_tflops_per_gpu"
        row = dict(W=o["world"], S=o["S"], method=o["method"], pass_=pas, ours_ms=o[key], ours_tflops=o[tkey],
                   ours_buffers_gib=gib(max(o["buffer_bytes_per_rank"])),
                   ours_device_used_gib=gib(max(o["device_used_bytes_per_rank"])), gpu=o.get("gpu"))
        if p and key in p:
            row.update(peer_ms=p[key], peer_tflops=p[tkey], ratio=o[key] / p[key],
                       peer_alloc_gib=gib(p.get("peak_mem_allocated_bytes", 0)),
                       peer_reserved_gib=gib(p.get("peak_mem_reserved_bytes", 0)))
        rows.append(row)
# Scaling efficiency: T1 from any record of the same S that timed the W=1 schedule.
single = {}
for o in ours:
    if "single_fwd_ms" in o:
        single[o["S"]] = (o["single_fwd_ms"], o.get("single_fwdbwd_ms"))
scaling = []
for o in sorted(ours, key=lambda r: (r["world"], r["S"], r["method"])):
    if o["S"] in single:
        t1f, t1b = single[o["S"]]
        scaling.append(dict(W=o["world"], S=o["S"], method=o["method"], t1_fwd_ms=t1f, t1_fwdbwd_ms=t1b,
                            eff_fwd=t1f / (o["world"] * o["fwd_ms"]),
                            eff_fwdbwd=(t1b / (o["world"] * o["fwdbwd_ms"])) if t1b and "fwdbwd_ms" in o else None))
json.dump(dict(rows=[{k.rstrip("_"): v for k, v in r.items()} for r in rows], scaling=scaling, ours=ours, peer=peer,
               peer_errors=peer_err, note=a.note), open(a.json, "w"), indent=1)

L = []
gpu = next((r["gpu"] for r in rows if r.get("gpu")), "?")
L.append(f"# ringlab run vs PyTorch Context Parallel (bench/peer/peer_bench.py cp), same machine, same run\n")
L.append(f"{gpu}; B=1 H=32 Hkv=32 D=128 bf16 causal, head-tail sharding (PyTorch load balancing on). "
         "Times: per-rank median of 10 iterations after 3 warm-up, slowest rank. {}\n".format(a.note))
L.append("| W | S | method | pass | ours ms | ours TFLOP/s/GPU | peer ms | peer TFLOP/s/GPU | ours/peer | ours GiB (buffers / device) | peer GiB (alloc / reserved) |")
L.append("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    pm = f"{r['peer_ms']:.2f}" if "peer_ms" in r else "-"
    pt = f"{r['peer_tflops']:.0f}" if "peer_tflops" in r else "-"
    ra = f"**{r['ratio']:.2f}**" if "ratio" in r else "-"
    pg = f"{r['peer_alloc_gib']:.1f} / {r['peer_reserved_gib']:.1f}" if "peer_alloc_gib" in r else "-"
    L.append(f"| {r['W']} | {r['S']} | {r['method']} | {r['pass_']} | {r['ours_ms']:.2f} | {r['ours_tflops']:.0f} | {pm} | "
             f"{pt} | {ra} | {r['ours_buffers_gib']:.1f} / {r['ours_device_used_gib']:.1f} | {pg} |")
L.append("\nours/peer < 1: ours is faster. Peer memory is rank 0's torch.cuda.max_memory_allocated/reserved over the "
         "row's fwd and fwd+bwd runs (no CUDA context, no NCCL); ours: the schedule's buffers (max over ranks) and the "
         "device memory in use after the run (context and NCCL included).")
if scaling:
    L.append("\n## Scaling efficiency T(1 GPU) / (W * T(W GPUs)), same kernels (W=1 schedule on one GPU)\n")
    L.append("| W | S | method | T1 fwd ms | eff fwd | T1 fwd+bwd ms | eff fwd+bwd |")
    L.append("|---|---|---|---|---|---|---|")
    for s in scaling:
        eb = f"{s['eff_fwdbwd']:.2f}" if s["eff_fwdbwd"] is not None else "-"
        tb = f"{s['t1_fwdbwd_ms']:.1f}" if s["t1_fwdbwd_ms"] else "-"
        L.append(f"| {s['W']} | {s['S']} | {s['method']} | {s['t1_fwd_ms']:.1f} | {s['eff_fwd']:.2f} | {tb} | {eb} |")
if peer_err:
    L.append("\nPeer errors: " + "; ".join(f"W={r.get('world')} S={r.get('S')} {r.get('method')}: {r['error'][:120]}"
                                           for r in peer_err))
open(a.md, "w").write("\n".join(L) + "\n")
print("\n".join(L))
