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


# The kernels' launch geometry (kernels/cuda/attention_forward.cu, attention_backward_v5.cu): forward CTAs cover
# 128 query rows of one head and loop over 64-key tiles, 2 CTAs per SM; backward (v5) CTAs cover 128 keys of one kv
# head and loop over 64-row query tiles of every query head of its group, 1 CTA per SM. 132 SMs on H100 SXM.
KERNEL = {"forward": {"grid": "q", "tile_q": 128, "tile_kv": 64, "sms": 132, "ctas_per_sm": 2},
          "backward": {"grid": "kv", "tile_q": 64, "tile_kv": 128, "sms": 132, "ctas_per_sm": 1}}


def block_geometry(meta, b, flops):
    p = meta["problem"]
    q, kv = b["q"][1] - b["q"][0], b["kv"][1] - b["kv"][0]
    mult = 1.0 if meta["pass"] == "forward" else 2.5
    heads = p["heads"] / (meta["world"] if meta["method"] == "alltoall" else 1)  # alltoall: H/W heads per rank
    pairs = flops / (4 * p["head_dim"] * mult * p["batch"] * heads)
    return {"q": q, "kv": kv, "causal": b["causal"], "heads": heads, "pairs": pairs, "B": p["batch"],
            "group": p["heads"] / p["kv_heads"]}


def wave_us(w, g):
    """Mirror of sim/profile.cc WaveModel::KernelUs."""
    q, kv = g["q"], g["kv"]
    pairs, heads = g["pairs"], g["heads"]
    fill = pairs / (q * kv)
    tq, tkv = math.ceil(q / w["tile_q"]), math.ceil(kv / w["tile_kv"])
    if w["grid"] == "kv":
        ctas = max(1, round(g["B"] * heads / g["group"])) * tkv
        n = tq * g["group"] * fill
    else:
        ctas = max(1, round(g["B"] * heads)) * tq
        n = tkv * fill
    wk = n + w["cta_overhead_tiles"]
    k = w["ctas_per_sm"]
    slots = w["sms"] * k
    full = ctas // slots
    r = ctas - full * slots
    t = full * k * wk
    if r > 0:
        m = math.ceil(r / w["sms"])
        a = w["single_resident_throughput"]
        theta = 1.0 if (m >= k or k <= 1) else a + (1 - a) * (m - 1) / (k - 1)
        t += m * wk / theta
    return t * w["tile_us"]


def fit_waves(alone_ops, launch, tag):
    """Per pass: grid search over cta_overhead_tiles and single_resident_throughput (shared by head dims and masks),
    tile_us per (pass, mask, D) = median of measured / modelled kernel time; minimises the median |error|."""
    out = {}
    for ps in ("forward", "backward"):
        keys = [k for k in alone_ops if k[0] == ps]
        if not keys:
            continue
        best = None
        alphas = [1.0] if KERNEL[ps]["ctas_per_sm"] == 1 else [x / 20 for x in range(8, 21)]
        for c0 in [x / 2 for x in range(0, 81)]:
            for a in alphas:
                errs, waves = [], {}
                for k in keys:
                    w = dict(KERNEL[ps], tile_us=1.0, cta_overhead_tiles=c0, single_resident_throughput=a)
                    rat = [(d - launch) / wave_us(w, g) for g, d in alone_ops[k]]
                    w["tile_us"] = statistics.median(rat)
                    waves[k] = w
                    errs += [(launch + wave_us(w, g)) / d - 1 for g, d in alone_ops[k]]
                score = statistics.median(abs(e) for e in errs) + 0.25 * statistics.mean(abs(e) for e in errs)
                if best is None or score < best[0]:
                    best = (score, waves)
        for k, w in best[1].items():
            errs = [abs((launch + wave_us(w, g)) / d - 1) for g, d in alone_ops[k]]
            w = {kk: (round(v, 6) if isinstance(v, float) else v) for kk, v in w.items()}
            out[k] = (w, len(errs), statistics.median(errs))
    return out


def fit_launch(prof, paths, out, tag, fitted):
    """launch_us from the step structure: the per-op fixed cost (launch, host sync between steps) that makes the
    simulated steps of the calibration runs match their summary medians (fwd_ms, fwdbwd_ms) best."""
    import subprocess
    from common import RINGLAB, config_flags
    runs = collections.defaultdict(dict)
    for p in paths:
        meta, _ = load_trace(p)
        pp = pathlib.Path(p)
        sj = pp.parent / (pp.name.split(".")[0] + ".summary.json")
        if not sj.exists():
            continue
        row = next((r for r in json.load(open(sj)) if r["method"] == meta["method"]), None)
        if row:
            runs[(sj, meta["method"])][meta["pass"]] = (meta, row)
    if not runs:
        return
    best = None
    for launch in (0, 5, 10, 15, 20, 30, 40, 60, 80):
        prof["compute"]["launch_us"] = sourced(launch, "trial")
        json.dump(prof, open(out, "w"), indent=1)
        errs = []
        for r in runs.values():
            sims = {}
            for ps, (meta, row) in r.items():
                o = subprocess.run([RINGLAB, "sim", "--profile", str(out), *config_flags(meta), "--json", "-"],
                                   check=True, capture_output=True, text=True).stdout
                sims[ps] = json.loads(o[o.index("{"):])["runs"][0]["step_time_us"] / 1e3
            row = next(iter(r.values()))[1]
            if "forward" in sims:
                errs.append(sims["forward"] / row["fwd_ms"] - 1)
            if "forward" in sims and "backward" in sims:
                errs.append((sims["forward"] + sims["backward"]) / row["fwdbwd_ms"] - 1)
        score = statistics.median(abs(e) for e in errs)
        if best is None or score < best[0]:
            best = (score, launch, len(errs))
    prof["compute"]["launch_us"] = sourced(best[1], f"{tag}: per-op fixed cost that best matches the summary medians "
                                                    f"of the calibration runs ({best[2]} step times, median |error| {best[0] * 100:.1f}%)")
    fitted["launch_us"] = {"value": best[1], "median_abs_error": round(best[0], 4)}
    json.dump(prof, open(out, "w"), indent=1)
    print(f"  launch_us: {best[1]} (calibration median |error| {best[0] * 100:.1f}%)")


def sourced(value, source):
    return {"value": round(value, 4), "source": source}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", nargs="+", required=True, help="globs of real trace JSON files (calibration subset)")
    ap.add_argument("--base", default="h100_sxm", help="profile to start from: bundled name or path")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default=None, help="profile name (default: <base>_calibrated)")
    ap.add_argument("--gpus-per-node", type=int, default=None)
    ap.add_argument("--fit-launch", action="store_true", help="fit launch_us to the calibration runs' summary medians")
    ap.add_argument("--runs-commit", default=None, help="commit the real runs were built at (provenance)")
    ap.add_argument("--model", choices=["wave", "table"], default="wave",
                    help="attention cost: kernel wave model (default) or rate-vs-block-size tables")
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
    alone_ops = collections.defaultdict(list)  # (pass, mask, D) -> [(geometry, dur_us)]
    beside_ops = []                            # (key, geometry, dur_us, method, pass)
    near_ops = collections.defaultdict(list)   # attend ops that overlapped communication at all
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
                    geo = block_geometry(meta, b, e["args"]["flops"])
                    if shared < 0.02 * dur:
                        alone[key].append((tokens, e["args"]["flops"] / max(dur - launch, 1e-3) / 1e6))
                        alone_ops[key].append((geo, dur))
                    else:
                        near_ops[key].append((geo, dur))
                    if shared > 0.8 * dur:
                        beside.append((key, tokens, dur, e["args"]["flops"]))
                        beside_ops.append((key, geo, dur, meta["method"], meta["pass"]))
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
    if args.model == "wave":
        # a (pass, mask, D) with under 3 ops alone borrows the ops that ran beside communication (ASSUMPTION: their
        # slowdown is small next to the kernel's own variation; it is then also in comm_slowdown's reference)
        fit_ops = {k: (alone_ops[k] if len(alone_ops[k]) >= 3 else alone_ops[k] + near_ops[k])
                   for k in set(alone_ops) | set(near_ops)}
        waves = fit_waves(fit_ops, launch, tag)
        for key, (wave, ops_n, err) in waves.items():
            t = tables.setdefault(key, {"pass": key[0], "mask": key[1], "head_dim": key[2]})
            t.pop("points", None)
            t["wave"] = wave
            t["source"] = (f"{tag}: kernel wave model (tiles and CTAs/SM from kernels/cuda), tile_us / "
                           f"cta_overhead_tiles / single_resident_throughput fitted to {ops_n} attend ops with the comm "
                           f"stream idle (median |error| {err * 100:.1f}%)")
            fitted[f"wave {key}"] = dict(wave, ops=ops_n, median_abs_error=round(err, 4))
        prof["compute"]["attention"] = [t for t in tables.values() if "wave" in t or (t["pass"], t["mask"], t["head_dim"]) not in waves]

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

    if args.model == "wave":
        wv = {k: v[0] for k, v in waves.items()}
        ratios = [dur / (launch + wave_us(wv[k], g)) for k, g, dur, _, _ in beside_ops if k in wv]
    else:
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
    prof["provenance"] = {"card": card, "date": today, "commit": commit, "runs_commit": args.runs_commit or commit, "base_profile": base["name"],
                          "source_traces": [str(pathlib.Path(p).resolve().relative_to(ROOT)) if str(p).startswith(str(ROOT)) else p for p in paths],
                          "op_counts": dict(counts), "fitted": {k: v for k, v in fitted.items()},
                          "tool": "scripts/calibrate/calibrate.py"}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    json.dump(prof, open(out, "w"), indent=1)
    if args.fit_launch:
        fit_launch(prof, paths, out, tag, fitted)
    print(f"calibrate: {len(paths)} traces ({card}), {sum(counts.values())} ops -> {out}")
    for k, v in fitted.items():
        print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
