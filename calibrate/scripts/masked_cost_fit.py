"""Fits the masked kernels' terms of a profile's CTA cost form (sim/wave_model.h CtaCost, JSON wave.cost.masked) on
measured masked kernels, through the simulator itself, and checks them on held-out ones.

  python3 calibrate/scripts/masked_cost_fit.py --ringlab build/apps/ringlab \\
      --profile sim/profiles/h100_sxm_calibrated.json \\
      --train bench/results/mask_kernels_h100.json:coverage_2026_12_07 \\
      --heldout bench/results/mask_kernels_h100.json:heldout_2026_12_07 \\
      [--write sim/profiles/h100_sxm_calibrated.json] [--md OUT.md]

(FILE: one mask_peer_bench.py result; FILE:KEY: every result under the file's KEY.runs.)

Each result file is a bench/kernels/mask_peer_bench.py output with ours: masked cases (exact document boundaries and a
causal window) and our dense causal kernel at one shape, timed in one run on one card. Every case is simulated at
W = 1 (`ringlab sim --mask causal+cu-seqlens:FILE+window:W,0`, forward and backward).

Target: the simulator's dense causal time at that shape times the measured masked / dense ratio. The harness times
short bursts, whose clock state differs from the sustained coverage the dense tables were fitted on (our dense kernel
comes out 2-15% faster there than the validated tables say); the ratio carries what the masked kernels cost against
the dense kernel measured beside them. The absolute error is printed beside it.

Parameters, per pass: masked "cta_us" = a * cta_us, "tile_us" = m * tile_us and "edge_tile_us" = e * tile_us in every
D = 64 and D = 128 table of the profile's cost form (a, m, e dimensionless, shared by head dims, masks and forward
modes: the masked kernels are the dense ones with a range lookup per CTA and a register mask per partly visible tile);
forward tables are marked "persistent" (our masked forward: one CTA per SM taking query tiles from a counter,
kernels/cuda/attention_forward_ws.cu), where a is the cost of each further query tile a CTA walks, its first paying
cta_us. Chosen on a grid, refined by coordinate steps, minimising the mean squared relative error on the training
files. Tables of other head dims keep no masked terms (their masked blocks stay counted as extrapolated) unless
--transfer PASS:D names them (e.g. backward:256): that pass's factors fitted at D = 64/128 are then applied to the
D tables' own dense terms too (check them with held-out results at that head dim; the terms' source says they were
transferred).
Exit 2 on bad input.
"""
import argparse
import copy
import itertools
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import json_input

FITTED_DIMS = (64, 128)
PASSES = ("forward", "backward")
TOOL = "masked_cost_fit"  # the name errors carry (bench/kernels/mask_sim_check.py reuses this module)


def fail(message):
    print(f"{TOOL}: {message}", file=sys.stderr)
    sys.exit(2)


def parse_transfer(text):
    """'PASS:D' of --transfer as (pass, head dim)."""
    p, _, d = text.partition(":")
    if p not in PASSES or not d.isdigit() or int(d) <= 0 or int(d) in FITTED_DIMS:
        fail(f"--transfer {text!r}: PASS:D with PASS one of {', '.join(PASSES)} and D a head dim other than "
             f"{' and '.join(map(str, FITTED_DIMS))}, e.g. backward:256")
    return p, int(d)


def result_files(paths):
    """(label, result) of each path: FILE (one result) or FILE:KEY (every result in the file's KEY.runs, as
    bench/results/mask_kernels_h100.json keeps its coverage and held-out calls, or KEY itself when it is one result,
    as that file keeps its D = 256 tables)."""
    for path in paths:
        file, _, key = path.partition(":") if not os.path.exists(path) else (path, "", "")
        data = json_input.read_json(file, TOOL, "mask_peer_bench.py result")
        try:
            if not key:
                yield os.path.basename(file), data
                continue
            if "runs" not in data[key] and "ours" in data[key]:
                yield key, data[key]
                continue
            for name, r in data[key]["runs"].items():
                yield name, r
        except (KeyError, TypeError, AttributeError) as e:
            fail(f"{path}: not a mask_peer_bench.py result (or FILE:KEY of a file with KEY.runs or one result at KEY) "
                 f"({type(e).__name__}: {e})")


def load_results(paths):
    """[(label, seq, heads, dim, [(case name, docs, window, fwd ms, bwd ms, dense (fwd ms, bwd ms))], dense (fwd ms,
    bwd ms))]. A case's dense pair is the dense kernel timed right before it where the run had --dense-each (the card's
    clock drifts over a run), else the run's one dense timing."""
    out = []
    for path, r in result_files(paths):
        try:
            ours, seq, heads, dim = r["ours"], int(r["seq"]), int(r["heads"]), int(r["dim"])
            dense = ours["dense_causal"]
            whole = (dense["fwd_ms"], dense["fwdbwd_ms"] - dense["fwd_ms"])
            cases = []
            for c in r["cases"]:
                m = ours["cases"][c["name"]]
                near = (m["dense_fwd_ms"], m["dense_fwdbwd_ms"] - m["dense_fwd_ms"]) if "dense_fwd_ms" in m else whole
                cases.append((c["name"], c["docs"], int(c.get("window", -1)), m["fwd_ms"],
                              m["fwdbwd_ms"] - m["fwd_ms"], near))
            out.append((path, seq, heads, dim, cases, whole))
        except (OSError, ValueError, KeyError, TypeError) as e:
            fail(f"{path}: not a mask_peer_bench.py result with ours ({type(e).__name__}: {e})")
    return out


def with_masked_terms(profile, factors, transfer=()):
    """A copy of `profile` whose D = 64/128 cost forms, and those of the (pass, head dim) pairs in `transfer`, carry
    masked terms: factors[pass] = (a, m, e)."""
    p = copy.deepcopy(profile)
    for t in p["compute"]["attention"]:
        cost = t.get("wave", {}).get("cost")
        if cost is None or (t["head_dim"] not in FITTED_DIMS and (t["pass"], t["head_dim"]) not in transfer):
            continue
        a, m, e = factors[t["pass"]]
        cost["masked"] = {"cta_us": round(a * cost["cta_us"], 4), "tile_us": round(m * cost["tile_us"], 4),
                          "edge_tile_us": round(e * cost["tile_us"], 4), "persistent": t["pass"] == "forward"}
    return p


class Simulator:
    """ringlab sim at W = 1 for the cases of the result files (and each file's dense causal kernel)."""

    def __init__(self, ringlab, results, tmp):
        self.ringlab, self.tmp, self.jobs = ringlab, tmp, []
        for i, (label, seq, heads, dim, cases, _) in enumerate(results):
            self.jobs.append((i, "dense causal", self.args(seq, heads, dim, "causal")))
            for j, (name, docs, window, _, _, _) in enumerate(cases):
                mask = "causal"
                if len(docs) > 2:
                    path = os.path.join(tmp, f"docs_{i}_{j}.txt")  # no '+' in the path: it joins mask terms
                    with open(path, "w") as f:
                        f.write(" ".join(str(d) for d in docs) + "\n")
                    mask += "+cu-seqlens:" + path
                if window >= 0:
                    mask += f"+window:{window},0"
                self.jobs.append((i, name, self.args(seq, heads, dim, mask)))

    def args(self, seq, heads, dim, mask):
        return ["sim", "--world", "1", "--seq", str(seq), "--heads", str(heads), "--kv-heads", str(heads), "--dim",
                str(dim), "--mask", mask, "--sharding", "contiguous", "--pass", "both", "--json", "-", "-q"]

    def run(self, profile):
        """{(file index, case name): (fwd ms, bwd ms, extrapolated share fwd, bwd)} under `profile`: a profile JSON
        object, or a bundled name or file as `ringlab sim --profile` takes it."""
        path = profile
        if not isinstance(profile, str):
            path = os.path.join(self.tmp, "profile.json")
            with open(path, "w") as f:
                json.dump(profile, f)
        out = {}
        for i, name, args in self.jobs:
            run = subprocess.run([self.ringlab] + args + ["--profile", path], capture_output=True, text=True)
            if run.returncode != 0:
                fail(f"ringlab {' '.join(args)} failed: {run.stderr.strip()[:300]}")
            runs = {r["config"]["pass"]: r for r in json.loads(run.stdout)["runs"]}
            share = lambda r: r.get("extrapolation", {}).get("share", 0.0)
            times = tuple(runs[p]["step_time_us"] / 1e3 for p in PASSES)
            out[(i, name)] = times + tuple(share(runs[p]) for p in PASSES)
        return out


def errors(results, sim, pass_index):
    """Per masked case: (file label, case, measured ms, target ms, simulated ms, ratio error, absolute error)."""
    rows = []
    for i, (label, _, _, _, cases, _) in enumerate(results):
        dense_sim = sim[(i, "dense causal")][pass_index]
        for name, _, _, fwd, bwd, dense in cases:
            measured = (fwd, bwd)[pass_index]
            target = dense_sim * measured / dense[pass_index]
            got = sim[(i, name)][pass_index]
            rows.append((label, name, measured, target, got, got / target - 1, got / measured - 1))
    return rows


def describe(f):
    return f"masked cta_us = {f[0]} x cta_us, tile_us = {f[1]} x tile_us, edge_tile_us = {f[2]} x tile_us"


def score(rows):
    return float(np.mean([r[5] ** 2 for r in rows]))


def fit_pass(simulator, profile, results, pass_index, factors):
    """(a, m, e) of one pass: a coarse grid, then coordinate steps halving to 1/64 of the grid step."""
    name = PASSES[pass_index]

    def cost(x):
        return score(errors(results, simulator.run(with_masked_terms(profile, dict(factors, **{name: x}))),
                            pass_index))

    best, x = min((cost(x), x) for x in itertools.product((0.25, 0.75, 1.5), (0.9, 1.0, 1.1), (0.0, 0.5, 1.0)))
    scale = (1, 0.4, 1)  # a step in each parameter's own units
    step = 0.25
    while step >= 0.25 / 64:
        moved = False
        for k, sign in itertools.product(range(3), (1, -1)):
            y = tuple(v + (sign * step * scale[k] if i == k else 0) for i, v in enumerate(x))
            if min(y) < 0 or y[1] <= 0:
                continue
            c = cost(y)
            if c < best:
                best, x, moved = c, y, True
        if not moved:
            step /= 2
    return tuple(round(v, 4) for v in x)


def table(title, rows):
    lines = [f"**{title}**", "",
             "| shape | case | measured ms | target ms | simulated ms | error vs target | vs measured |",
             "|---|---|---|---|---|---|---|"]
    for label, name, measured, target, got, rel, ab in rows:
        lines.append(f"| {label} | {name} | {measured:.3f} | {target:.3f} | {got:.3f} | {100 * rel:+.1f}% | "
                     f"{100 * ab:+.1f}% |")
    rel = np.abs([r[5] for r in rows])
    ab = np.abs([r[6] for r in rows])
    lines += ["", f"n = {len(rows)}: |error| vs target median {100 * np.median(rel):.1f}%, "
              f"worst {100 * rel.max():.1f}%; vs measured median {100 * np.median(ab):.1f}%, "
              f"worst {100 * ab.max():.1f}%", ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringlab", required=True, help="a build's ringlab binary")
    ap.add_argument("--profile", required=True, help="the profile JSON to fit (its masked terms are replaced)")
    ap.add_argument("--train", nargs="+", required=True,
                    help="mask_peer_bench.py results the fit uses (FILE or FILE:KEY, KEY.runs)")
    ap.add_argument("--heldout", nargs="*", default=[], help="results it does not use, to check it on (same forms)")
    ap.add_argument("--write", default="", help="write the fitted profile here (whole or not at all)")
    ap.add_argument("--md", default="", help="write the tables here as markdown")
    ap.add_argument("--source", default="", help="provenance text for the masked terms' 'source'")
    ap.add_argument("--transfer", nargs="*", default=[], metavar="PASS:D",
                    help="tables of head dim D (not 64/128) that get PASS's fitted factors too, e.g. backward:256")
    a = ap.parse_args()
    transfer = tuple(parse_transfer(x) for x in a.transfer)
    if not os.access(a.ringlab, os.X_OK):
        fail(f"--ringlab {a.ringlab}: not an executable")
    profile = json_input.read_json(a.profile, TOOL, "profile")
    try:
        tables = profile["compute"]["attention"]
        if not all(isinstance(t, dict) for t in tables):
            raise TypeError("compute.attention has an entry that is not an object")
    except (KeyError, TypeError) as e:
        fail(f"--profile {a.profile}: not a profile JSON with compute.attention ({type(e).__name__}: {e})")
    if not any(t.get("wave", {}).get("cost") and t.get("head_dim") in FITTED_DIMS for t in tables):
        fail(f"--profile {a.profile}: no D = 64/128 table with a CTA cost form to fit")
    for t in tables:
        t.get("wave", {}).get("cost", {}).pop("masked", None)
    train, heldout = load_results(a.train), load_results(a.heldout)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(tmp + "/h")
        sim_train = Simulator(a.ringlab, train, tmp)
        sim_held = Simulator(a.ringlab, heldout, tmp + "/h") if heldout else None
        factors = {p: (1.0, 1.0, 0.0) for p in PASSES}
        before = {"train": sim_train.run(profile), "heldout": sim_held.run(profile) if heldout else {}}
        for k in range(len(PASSES)):
            factors[PASSES[k]] = fit_pass(sim_train, profile, train, k, factors)
            print(f"masked_cost_fit: {PASSES[k]}: {describe(factors[PASSES[k]])}", file=sys.stderr)
        fitted = with_masked_terms(profile, factors, transfer)
        after = {"train": sim_train.run(fitted), "heldout": sim_held.run(fitted) if heldout else {}}
    out.append("Factors: " + "; ".join(f"{p}: {describe(f)}" for p, f in factors.items()) + "\n")
    for k, p in enumerate(PASSES):
        for split, results in (("train", train), ("heldout", heldout)):
            if not results:
                continue
            out.append(table(f"{p}, {split}, before (no masked terms)", errors(results, before[split], k)))
            out.append(table(f"{p}, {split}, fitted", errors(results, after[split], k)))
    text = "\n".join(out)
    print(text)
    if a.md:
        json_input.write_text(a.md, text + "\n", TOOL)
    if a.write:
        source = a.source or "masked_cost_fit.py on " + ", ".join(os.path.basename(t) for t in a.train)
        for t in fitted["compute"]["attention"]:
            if "masked" in t.get("wave", {}).get("cost", {}):
                transferred = t["head_dim"] not in FITTED_DIMS
                t["wave"]["cost"]["masked"]["source"] = source + (
                    f" (D = {t['head_dim']}: the factors fitted at D = 64/128 applied to this table's dense terms)"
                    if transferred else "")
        # Whole or not at all, and no temporary left behind when writing fails (path.tmp was).
        json_input.write_json(a.write, fitted, TOOL)


if __name__ == "__main__":
    main()
