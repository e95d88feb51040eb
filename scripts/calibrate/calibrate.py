#!/usr/bin/env python3
"""Fit a simulator hardware profile from real traces written by `ringlab run --trace` (source "real").

    .venv/bin/python scripts/calibrate/calibrate.py --traces 'bench/results/cp_traces/bench_w2_*.json' \
        --base h100_sxm --out bench/results/calibrated_h100.json

What is fitted, from which ops (everything else is copied from the base profile with its source):
  attention tables   per (pass, mask, head dim): attend ops that ran with the rank's comm stream idle; rate =
                     flops / (dur - launch); median per block size (sqrt(q_tokens * kv_tokens), log2 bins of 1/2).
  comm_slowdown      attend ops that ran beside communication: median(dur / predicted alone) - 1.
  nvlink_gbps        send/recv within a node: bytes / fastest duration per message size (a send's duration also
                     holds the wait for its peer, so the fastest instance is the transfer itself).
  nvlink_latency_us  intercept of a line through (bytes, fastest duration) when two or more sizes exist.
  nic_gbps/latency   same for pairs on different nodes (--gpus-per-node), when any exist.
  merge/copy_gbps    merge / copy and prepare ops: median bytes / (dur - launch).
  launch_us          kept from the base (needs tiny ops to fit; none in a context-parallel trace).
The output carries provenance: card, date, commit, source traces, op counts per fitted number.
"""
import argparse
import collections
import copy
import datetime
import json
import math
import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import ROOT, git_commit, load_trace, real_traces, schedule_ops  # noqa: E402

COMM = {"send", "recv", "all-gather", "reduce-scatter"}


def overlap(a0, a1, b0, b1):
    return max(0.0, min(a1, b1) - max(a0, b0))


def fit_line(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx


def sourced(value, source):
    return {"value": round(value, 4), "source": source}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", nargs="+", required=True, help="globs of real trace JSON files (calibration subset)")
    ap.add_argument("--base", default="h100_sxm", help="profile to start from: bundled name or path")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default=None, help="profile name (default: <base>_calibrated)")
    ap.add_argument("--gpus-per-node", type=int, default=None)
    args = ap.parse_args()

    paths = real_traces([str(ROOT / t) if not pathlib.Path(t).is_absolute() else t for t in args.traces])
    if not paths:
        sys.exit("calibrate: no real traces (ringlab.source == 'real') match " + " ".join(args.traces))
    base_path = pathlib.Path(args.base)
    if not base_path.exists():
        base_path = ROOT / "sim/profiles" / f"{args.base}.json"
    base = json.load(open(base_path))
    prof = copy.deepcopy(base)
    launch = base["compute"]["launch_us"]["value"]
    gpn = args.gpus_per_node or base["network"]["gpus_per_node"]["value"]

    alone = collections.defaultdict(list)      # (pass, mask, D) -> [(tokens, tflops)]
    beside = []                                # (key, tokens, dur_us, flops)
    links = {"nvlink": collections.defaultdict(list), "nic": collections.defaultdict(list)}
    mem = {"merge": [], "copy": []}
    cards = set()
    counts = collections.Counter()
    for p in paths:
        meta, events = load_trace(p)
        cards.add(meta.get("hardware", "?"))
        ops = schedule_ops(meta)
        by_rank = collections.defaultdict(list)
        for e in events:
            by_rank[e["pid"]].append(e)
        for rank, evs in by_rank.items():
            comm = [(e["ts"], e["ts"] + e["dur"]) for e in evs if e["cat"] in COMM]
            for e in evs:
                kind, dur = e["cat"], e["dur"]
                op = ops.get((rank, e["args"]["op"]))
                if op is None or op["kind"] != kind:
                    sys.exit(f"calibrate: {p}: rank {rank} op {e['args']['op']} does not match the schedule")
                counts[kind] += 1
                if kind == "attend":
                    b = op["block"]
                    q, kv = b["q"][1] - b["q"][0], b["kv"][1] - b["kv"][0]
                    key = (meta["pass"], "causal" if b["causal"] else "full", meta["problem"]["head_dim"])
                    tokens = math.sqrt(q * kv)
                    shared = sum(overlap(e["ts"], e["ts"] + dur, c0, c1) for c0, c1 in comm)
                    if shared < 0.02 * dur:
                        alone[key].append((tokens, e["args"]["flops"] / max(dur - launch, 1e-3) / 1e6))
                    elif shared > 0.8 * dur:
                        beside.append((key, tokens, dur, e["args"]["flops"]))
                elif kind in ("send", "recv") and e["args"].get("peer", -1) >= 0:
                    link = "nvlink" if rank // gpn == e["args"]["peer"] // gpn else "nic"
                    links[link][e["args"]["bytes"]].append(dur)
                elif kind == "merge":
                    mem["merge"].append(e["args"]["bytes"] / max(dur - launch, 1e-3) / 1e3)
                elif kind in ("copy", "prepare") and e["args"]["bytes"] > 0:
                    mem["copy"].append(e["args"]["bytes"] / max(dur - launch, 1e-3) / 1e3)

    today = datetime.date.today().isoformat()
    commit = git_commit()
    card = ", ".join(sorted(cards))
    tag = f"FIT {today}, commit {commit}, {card}, {len(paths)} real traces"
    fitted = {}

    # attention tables
    tables = {(t["pass"], t["mask"], t["head_dim"]): t for t in prof["compute"]["attention"]}
    for key, pts in sorted(alone.items()):
        bins = collections.defaultdict(list)
        for tokens, rate in pts:
            bins[round(2 * math.log2(tokens)) / 2].append(rate)
        points = [[round(2 ** b), round(statistics.median(r), 1)] for b, r in sorted(bins.items())]
        tables[key] = {"pass": key[0], "mask": key[1], "head_dim": key[2], "points": points,
                       "source": f"{tag}: median TFLOP/s of {len(pts)} attend ops with the comm stream idle"}
        fitted[f"attention {key}"] = {"points": points, "ops": len(pts)}
    # a pass/mask that was never measured alone keeps the base table; a missing mask borrows the measured one
    for (ps, mask, d), t in list(tables.items()):
        other = (ps, "full" if mask == "causal" else "causal", d)
        if (ps, mask, d) not in alone and other in alone:
            tables[(ps, mask, d)] = dict(tables[other], mask=mask,
                                         source=tables[other]["source"] + f"; ASSUMPTION: {mask} blocks not measured alone, the {other[1]} rate is used")
    prof["compute"]["attention"] = list(tables.values())

    def predict(key, tokens, flops):
        t = tables.get(key)
        if not t:
            return None
        xs = [math.log2(p[0]) for p in t["points"]]
        ys = [p[1] for p in t["points"]]
        x = min(max(math.log2(tokens), xs[0]), xs[-1])
        for i in range(len(xs) - 1):
            if xs[i] <= x <= xs[i + 1]:
                f = (x - xs[i]) / (xs[i + 1] - xs[i]) if xs[i + 1] > xs[i] else 0
                rate = ys[i] + f * (ys[i + 1] - ys[i])
                break
        else:
            rate = ys[0]
        return launch + flops / (rate * 1e6)

    ratios = [dur / p for key, tok, dur, fl in beside if (p := predict(key, tok, fl))]
    if len(ratios) >= 3:
        sd = max(0.0, statistics.median(ratios) - 1)
        prof["compute"]["comm_slowdown"] = sourced(sd, f"{tag}: median slowdown of {len(ratios)} attend ops running beside communication")
        fitted["comm_slowdown"] = {"value": sd, "ops": len(ratios)}

    for link, field in (("nvlink", "nvlink"), ("nic", "nic")):
        sizes = links[link]
        if not sizes:
            continue
        fastest = {b: min(d) for b, d in sizes.items() if b > 0}
        n_ops = sum(len(d) for d in sizes.values())
        line = fit_line(list(fastest), list(fastest.values())) if len(fastest) >= 2 else None
        if line and line[0] > 0 and line[1] >= 0:
            gbps, lat = 1e-3 / line[0], line[1]
            prof["network"][f"{field}_latency_us"] = sourced(lat, f"{tag}: intercept of fastest duration vs bytes over {len(fastest)} sizes, {n_ops} ops")
        else:
            gbps = statistics.median(b / d / 1e3 for b, d in fastest.items())
        prof["network"][f"{field}_gbps"] = sourced(gbps, f"{tag}: bytes / fastest duration per message size ({len(fastest)} sizes, {n_ops} send/recv ops)")
        fitted[f"{field}_gbps"] = {"value": gbps, "ops": n_ops}
    for k, vals in mem.items():
        if len(vals) >= 3:
            v = statistics.median(vals)
            prof["memory"][f"{k}_gbps"] = sourced(v, f"{tag}: median bytes / duration of {len(vals)} {k} ops")
            fitted[f"{k}_gbps"] = {"value": v, "ops": len(vals)}

    prof["name"] = args.name or f"{base['name']}_calibrated"
    prof["gpu"] = f"{base['gpu']}; calibrated on {card}"
    prof["provenance"] = {"card": card, "date": today, "commit": commit, "base_profile": base["name"],
                          "source_traces": [str(pathlib.Path(p).resolve().relative_to(ROOT)) if str(p).startswith(str(ROOT)) else p for p in paths],
                          "op_counts": dict(counts), "fitted": {k: v for k, v in fitted.items()},
                          "tool": "scripts/calibrate/calibrate.py"}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    json.dump(prof, open(out, "w"), indent=1)
    print(f"calibrate: {len(paths)} traces ({card}), {sum(counts.values())} ops -> {out}")
    for k, v in fitted.items():
        print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
