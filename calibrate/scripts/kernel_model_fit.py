"""Fits the CTA cost model (cta_model.py, sim/wave_model.h's `cost` form) of a profile's attention tables from
single-GPU kernel samples, and writes it into the profile.

Per (pass, head dim, forward mode) one fit over both masks (full and causal share the kernel; causal CTAs loop over
fewer tiles and some diagonal ones), choosing the CTAs per SM (1, 2, 3) and the partial-round throughput of a lone CTA
(0.6, 0.8, 1) with the least mean squared relative error (each with its own clock terms, below), on the launch geometry of that head dim (the samples'
geometry_by_head_dim, else their geometry). Every attention table of that (pass, head dim) and mode gets the fitted
`wave.cost` (its round table is dropped) and `measured` ranges (CTAs, tiles per CTA, batch x heads) of the samples of
its mask; a head dim the profile has no table of gets new ones (calibrate/scripts/merge_head_dim.py); a mode without
samples takes the other mode's fit (PyTorch's SDPA writes its output afresh: one mode). The simulator adds the
profile's launch_us to every attend op, so the fit is of each sample less launch_us; with --backward-has-prepare
(PyTorch's backward time holds FlashAttention's preprocess kernel, which the simulator models as its own prepare op,
launch + bytes / copy_gbps) that op's time is taken off backward samples too. Each group also gets the load clock
(cta_model.py LOAD: a launch that keeps more of the slots busy runs slower) and the power cap (CAP: the busy time past
capped_after_us runs capped_slowdown slower) of cta_model.clock_grid() where they lower the group's mean squared
relative error; the cap was chosen over the form without it by leave-one-(batch, heads)-out cross-validation on the
2026-12-06 same-call coverage, the load clock beside it the same way on the sustained coverage
(bench/results/kernel_model_heldout.md). Held-out shapes (bench/kernels/heldout_shapes.txt) are refused: they must not be in the samples.

  python3 calibrate/scripts/kernel_model_fit.py SAMPLES.json --profile sim/profiles/NAME.json --tag "FIT ..."
"""
import argparse
import collections
import datetime
import math
import os
import shlex
import subprocess
import sys

import numpy as np

import cta_model as cm
import json_input
from heldout_shapes import held_out

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OCCUPANCY = [(1, 1.0), (2, 0.6), (2, 0.8), (2, 1.0), (3, 0.6), (3, 0.8), (3, 1.0)]


def launch_shape(geom, s):
    """(CTAs, tiles per CTA) as sim/wave_model.cc counts them (WaveModel::Ctas, TilesPerCta)."""
    fill = s["pairs"] / (s["q"] * s["kv"])
    group = s["heads"] / s["kv_heads"]
    if geom["grid"] == "q":
        return s["batch"] * s["heads"] * math.ceil(s["q"] / geom["tile_q"]), math.ceil(s["kv"] / geom["tile_kv"]) * fill
    return s["batch"] * s["kv_heads"] * math.ceil(s["kv"] / geom["tile_kv"]), \
        math.ceil(s["q"] / geom["tile_q"]) * group * fill


def value(x):
    return x["value"] if isinstance(x, dict) else x


def kernel_only(samples, compute, memory, has_prepare):
    """The samples less what the simulator adds around an attend op: launch_us (and the prepare op, see above)."""
    launch = value(compute.get("launch_us", 0))
    out = []
    for s in samples:
        us = s["us"] - launch
        if has_prepare and s["pass"] == "backward":
            rows = s.get("batch", 1) * s["heads"] * s["q"]
            prepare_bytes = rows * s["head_dim"] * 2 + rows * 4 * s["head_dim"] + rows * 4  # core AppendPrepare, bf16
            us -= launch + prepare_bytes / (value(memory["copy_gbps"]) * 1e3)
        if us > 0:
            out.append(dict(s, us=us, batch=s.get("batch", 1)))  # batch 1 where absent, as calibrate/samples.cc
    return out


def fit_group(geom, samples, sms, clock=True):
    """The CTAs per SM and lone-CTA throughput (OCCUPANCY) of least mean squared relative error, each occupancy scored
    with (clock) its own load clock and power cap (cta_model.fit_clocked). Scored without the clocks, one CTA per SM
    won for PyTorch's FlashAttention-2 forward, whose 4-warp CTAs fit two per SM: the clocks then absorbed part of the
    tail that two co-resident CTAs explain, and a causal launch of a few heads came out 6-12% fast (B=1 H=8 S=4096-8192,
    kernel_model_heldout.md)."""
    best = None
    meas = [s["us"] for s in samples]
    for k, theta in OCCUPANCY:
        models = [cm.features(geom, s, sms, k, theta) for s in samples]
        p, load, cap = cm.fit(models, meas), cm.NONE, cm.NONE
        score = float(np.mean(cm.errors(models, meas, p) ** 2))
        if clock:
            pc, lc, cc, sc = cm.fit_clocked(models, meas, p)
            if sc < score:
                p, load, cap, score = pc, lc, cc, sc
        if best is None or score < best["score"]:
            err = np.abs(cm.errors(models, meas, p, load, cap))
            best = {"score": score, "k": k, "theta": theta, "params": p, "load": load, "cap": cap,
                    "median": float(np.median(err)), "worst": float(err.max())}
    return best


def geometry_of(data, pass_, head_dim):
    """The launch geometry of `pass_`'s kernel at `head_dim`: the samples' geometry_by_head_dim entry if any (our ws
    kernels and FlashAttention-2 take smaller tiles at D=256), else their geometry (calibrate/samples.h GeometryOf)."""
    return data.get("geometry_by_head_dim", {}).get(str(head_dim), {}).get(pass_) or data["geometry"][pass_]


def add_missing_tables(prof, groups):
    """A fitted (pass, head dim, mode) group whose (pass, mask, head dim) has no table at all gets one per mask of its
    samples (a head dim new to the profile, e.g. D=256 by merge_head_dim.py): with the group's mode where the samples
    have both forward modes (ours), without one where they have a single mode (PyTorch's SDPA: either mode's table)."""
    tables = prof["compute"]["attention"]
    have = {(t["pass"], t["mask"], t["head_dim"]) for t in tables}
    modes = collections.defaultdict(set)
    for pass_, d, mode in groups:
        modes[(pass_, d)].add(mode)
    added = []
    for (pass_, d, mode), ss in sorted(groups.items()):
        for mask in sorted({s["mask"] for s in ss}):
            if (pass_, mask, d) in have:
                continue
            t = {"pass": pass_, "mask": mask, "head_dim": d}
            if mode and len(modes[(pass_, d)]) > 1:
                t["mode"] = mode
            added.append(t)
    tables.extend(added)
    return len(added)


def fit_into_profile(data, prof, samples_name, tag, has_prepare=False, log=sys.stderr):
    """Fits every (pass, head dim, mode) group of data["kernels"] and writes the fits into prof's attention tables of
    the same (pass, head dim) (adding tables for a head dim the profile lacks). Returns the number of tables updated,
    or None when a held-out shape is among the samples."""
    kernels = kernel_only(data["kernels"], prof["compute"], prof["memory"], has_prepare)
    sms = data.get("sms", 132)  # calibrate/samples.cc's default
    skip = held_out()
    groups = collections.defaultdict(list)
    for s in kernels:
        if (s["batch"], s["heads"], s["q"], s["head_dim"], s["mask"] == "causal", s["kv_heads"]) in skip \
                and s["q"] == s["kv"]:
            print(f"kernel_model_fit: a held-out shape is in {samples_name}: {s}", file=log)
            return None
        groups[(s["pass"], s["head_dim"], s.get("mode", ""))].append(s)
    fits = {}
    for (pass_, d, mode), ss in sorted(groups.items()):
        fits[(pass_, d, mode)] = f = fit_group(geometry_of(data, pass_, d), ss, sms)
        print(f"kernel_model_fit: {pass_} D={d} {mode or '-'}: {len(ss)} samples, {f['k']} CTA(s)/SM, theta "
              f"{f['theta']}, {dict(zip(cm.PARAMS, np.round(f['params'], 3)))}, load clock {f['load']}, power cap {f['cap']}, |error| median "
              f"{100 * f['median']:.1f}% worst {100 * f['worst']:.1f}%", file=log)
    added = add_missing_tables(prof, groups)
    if added:
        print(f"kernel_model_fit: {added} attention tables added (head dims new to the profile)", file=log)
    updated = 0
    for t in prof["compute"]["attention"]:
        pass_, d, mode, mask = t["pass"], t["head_dim"], t.get("mode", ""), t["mask"]
        key = next((k for k in [(pass_, d, mode), (pass_, d, "overwrite"), (pass_, d, "merge"), (pass_, d, "")]
                    if k in fits), None)
        if key is None:
            continue
        f, geom = fits[key], geometry_of(data, pass_, d)
        own = [s for s in groups[key] if s["mask"] == mask] or groups[key]
        cost = {p: round(float(v), 4) for p, v in zip(cm.PARAMS, f["params"])}
        if f["load"][1] > 0:
            cost.update(zip(cm.LOAD, (float(f["load"][0]), float(f["load"][1]))))
        if f["cap"][1] > 0:
            cost.update(zip(cm.CAP, (float(f["cap"][0]), float(f["cap"][1]))))
        before = t.get("wave", {})
        if "masked" in before.get("cost", {}):  # the masked kernels' terms (masked_cost_fit.py): fitted apart, kept
            cost["masked"] = before["cost"]["masked"]
        t["wave"] = {"grid": geom["grid"], "tile_q": geom["tile_q"], "tile_kv": geom["tile_kv"], "sms": sms,
                     "ctas_per_sm": f["k"], "single_resident_throughput": f["theta"], "cost": cost}
        if geom.get("order", "heavy_first") != "heavy_first":
            t["wave"]["order"] = geom["order"]
        for flag in ("split_group", "expand_group"):
            if geom.get(flag):
                t["wave"][flag] = True
            elif before.get(flag):
                # The fit counted CTAs without the flag (the samples' kernel geometry lacks it: samples of a kernel
                # without it, or written before the field existed), so the table must drop it too, and say so.
                print(f"kernel_model_fit: {pass_} D={d} {mask}: the table had wave.{flag}, the samples' geometry "
                      "does not: dropped (the fit and the simulator must count the same CTAs)", file=log)
        tile_multiple = (t.get("measured") or {}).get("tile_multiple")  # the kernel's, not the samples': kept
        t["measured"] = dict(ranges(geom, own), source=f"the {len(own)} {mask} samples of {samples_name}")
        if tile_multiple:
            t["measured"]["tile_multiple"] = tile_multiple
        t["source"] = (f"{tag}: CTA cost model (calibrate/scripts/kernel_model_fit.py) fitted on {len(groups[key])} "
                       f"{key[0]} D={d} samples{' (' + key[2] + ')' if key[2] else ''}, both masks; |error| on them "
                       f"median {100 * f['median']:.1f}%, worst {100 * f['worst']:.1f}%")
        t.pop("points", None)
        updated += 1
    return updated


def ranges(geom, samples):
    shapes = [launch_shape(geom, s) for s in samples]
    bh = [s["batch"] * s["heads"] for s in samples]
    return {"batch_heads": [float(min(bh)), float(max(bh))],
            "ctas": [float(min(c for c, _ in shapes)), float(max(c for c, _ in shapes))],
            "tiles_per_cta": [round(min(n for _, n in shapes), 3), round(max(n for _, n in shapes), 3)]}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples", help="kernel samples (ringlab calibrate --samples, or peer_sdpa_fit.py --samples)")
    ap.add_argument("--profile", required=True, help="the profile to update in place")
    ap.add_argument("--tag", required=True, help="prefix of every fitted number's source (card, date, commit)")
    ap.add_argument("--backward-has-prepare", action="store_true",
                    help="backward samples include the preprocess the simulator models as a prepare op")
    ap.add_argument("--provenance-key", default="kernel_model",
                    help="the profile's provenance entry this fit writes (e.g. head_dim_256 for a fit of one head dim "
                         "beside tables fitted from other samples, whose entry stays)")
    a = ap.parse_args(argv)
    data = json_input.read_samples(a.samples, "kernel_model_fit")
    if not data.get("kernels"):
        json_input.fail("kernel_model_fit", f"{a.samples}: no kernel samples")
    geometry = data.get("geometry")
    if not (isinstance(geometry, dict) and all(isinstance(geometry.get(p), dict) for p in ("forward", "backward"))):
        json_input.fail("kernel_model_fit", f"{a.samples}: geometry must be an object with the forward and backward "
                                            "launch geometries (grid, tile_q, tile_kv), as `ringlab calibrate` writes")
    prof = json_input.read_object(a.profile, "kernel_model_fit", "profile")
    updated = fit_into_profile(data, prof, a.samples, a.tag, a.backward_has_prepare)
    if updated is None:
        return 2
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    rel = [os.path.relpath(os.path.abspath(x), ROOT) if os.path.exists(x) else x for x in argv]
    prof.setdefault("provenance", {})[a.provenance_key] = {
        "data": os.path.relpath(os.path.abspath(a.samples), ROOT), "date": datetime.date.today().isoformat(),
        "commit": commit, "tool": "calibrate/scripts/kernel_model_fit.py",
        "command": shlex.join(["kernel_model_fit.py", *rel])}
    # Whole or not at all: written in place, a failure part way left a truncated profile where the old one was.
    json_input.write_json(a.profile, prof, "kernel_model_fit")
    print(f"kernel_model_fit: {updated} attention tables of {a.profile} updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
