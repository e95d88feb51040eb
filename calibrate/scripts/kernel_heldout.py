"""The simulator's single-GPU attention prediction against the held-out kernel measurements.

bench/results/kernel_heldout_sustained_h100.json holds 14 single-GPU shapes (bench/kernels/heldout_shapes.txt, fixed before they
were measured and never used by any fit) timed on one H100: our kernels and PyTorch SDPA (FLASH, CUDNN) in the same
call. This script runs `ringlab sim --world 1` at each shape, forward and backward, and compares

  ours : profile h100_sxm_calibrated (default) against our kernels' forward and forward+backward times;
  peer : profile h100_pytorch_peer against SDPA FLASH (the peer profile models FlashAttention-2).

Writes OUT.md and OUT.json (default bench/results/kernel_model_heldout): per shape predicted vs measured, signed error,
and per (model, pass) the median and worst |error|. The W=1 simulation of a pass is its step time: launch + kernel
(+ the backward's preprocess and the fixed costs the profile models), what a CUDA-event timing of the pass measures.

  .venv/bin/python calibrate/scripts/kernel_heldout.py [--out PREFIX]

A record with "Hkv" < "H" is a GQA shape (bench/kernels/heldout_shapes_gqa.txt); the measured file's "peer" list may be
absent (the peer is not run with GQA).

With $RINGLAB_BIN set, each shape is simulated by that `ringlab` CLI (e.g. a CPU build of this tree, with
RINGLAB_PROFILE_DIR=$PWD/sim/profiles) instead of the installed ringlab module.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import json_input

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def simulate_cli(binary, profile, shape):
    """simulate() through a `ringlab` CLI binary (a CPU build of this tree) instead of the installed module."""
    b, h, s, d, causal, kv = shape
    cmd = [binary, "sim", "--world", "1", "--batch", str(b), "--heads", str(h), "--kv-heads", str(kv), "--dim", str(d),
           "--seq", str(s), "--mask", "causal" if causal else "full", "--sharding", "contiguous", "--method",
           "alltoall", "--pass", "both", "--profile", profile, "--json", "-", "-q"]
    runs = {r["config"]["pass"]: r for r in json.loads(subprocess.run(cmd, capture_output=True, text=True,
                                                                      check=True).stdout)["runs"]}
    fwd, bwd = runs["forward"], runs["backward"]
    return (fwd["step_time_us"] / 1e3, (fwd["step_time_us"] + bwd["step_time_us"]) / 1e3,
            fwd.get("extrapolation", {}).get("share", 0.0), bwd.get("extrapolation", {}).get("share", 0.0))


def simulate(profile, shape):
    """(forward ms, forward+backward ms, extrapolated share of forward, of backward) of one shape at W=1."""
    if os.environ.get("RINGLAB_BIN"):
        return simulate_cli(os.environ["RINGLAB_BIN"], profile, shape)
    import ringlab  # the installed module (its bundled profiles unless RINGLAB_PROFILE_DIR is set)
    b, h, s, d, causal, kv = shape
    cfg = ringlab.Config(world=1, batch=b, heads=h, kv_heads=kv, dim=d, seq=s, causal=causal, sharding="contiguous",
                         method="alltoall", pass_="both")
    runs = {r["config"]["pass"]: r for r in ringlab.simulate(cfg, profile).runs}
    fwd, bwd = runs["forward"], runs["backward"]
    return (fwd["step_time_us"] / 1e3, (fwd["step_time_us"] + bwd["step_time_us"]) / 1e3,
            fwd.get("extrapolation", {}).get("share", 0.0), bwd.get("extrapolation", {}).get("share", 0.0))


def compare(model, profile, records):
    rows = []
    for r in records:
        shape = (r["B"], r["H"], r["S"], r["D"], r["causal"], r.get("Hkv", r["H"]))  # Hkv < H: GQA
        fwd, fwdbwd, xf, xb = simulate(profile, shape)
        rows.append({"model": model, "profile": profile, "B": r["B"], "H": r["H"], "Hkv": shape[5], "S": r["S"],
                     "D": r["D"],
                     "mask": "causal" if r["causal"] else "full",
                     "fwd_ms_measured": r["fwd_ms"], "fwd_ms_predicted": fwd,
                     "fwd_error": fwd / r["fwd_ms"] - 1,
                     "fwdbwd_ms_measured": r["fwdbwd_ms"], "fwdbwd_ms_predicted": fwdbwd,
                     "fwdbwd_error": fwdbwd / r["fwdbwd_ms"] - 1,
                     "extrapolated_share_fwd": xf, "extrapolated_share_bwd": xb})
    return rows


def stats(rows, key):
    errs = [abs(r[key]) for r in rows]
    return {"median_abs_error": statistics.median(errs), "worst_abs_error": max(errs), "n": len(errs)}


def read_before(path):
    """An earlier output JSON of this script (--before): its summary, {model: {profile, forward, forward+backward}}
    with the median and worst errors the table shows."""
    before = json_input.read_object(path, "kernel_heldout", "earlier output (--before)")
    summary = before.get("summary")
    errors = ("median_abs_error", "worst_abs_error")
    if not (isinstance(summary, dict) and all(
            isinstance(s, dict) and "profile" in s and
            all(isinstance(s.get(p), dict) and all(json_input.NON_NEGATIVE[1](s[p].get(e)) for e in errors)
                for p in ("forward", "forward+backward")) for s in summary.values())):
        json_input.fail("kernel_heldout", f"{path}: summary must map each model to its profile and the forward and "
                                          "forward+backward median_abs_error and worst_abs_error (this script's output)")
    return before


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--measured", default=os.path.join(ROOT, "bench/results/kernel_heldout_sustained_h100.json"))
    ap.add_argument("--ours-profile", default="h100_sxm_calibrated")
    ap.add_argument("--peer-profile", default="h100_pytorch_peer")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/kernel_model_heldout"))
    ap.add_argument("--before", default="", help="an earlier output JSON: its summary is shown beside this one")
    ap.add_argument("--label", default="", help="a line saying which profiles these are (e.g. 'before the coverage fit')")
    ap.add_argument("--notes", default="", help="a markdown file appended to OUT.md (what the numbers mean)")
    a = ap.parse_args(argv)
    m = json_input.read_object(a.measured, "kernel_heldout", "held-out measurements", lists=("ours", "peer"))
    if "ours" not in m:
        json_input.fail("kernel_heldout", f"{a.measured}: no \"ours\" records (the held-out measurements' list)")
    flash = lambda r: r.get("backend") == "FLASH_ATTENTION" and "error" not in r  # noqa: E731
    for where, applies in (("ours", None), ("peer", flash)):
        json_input.check_entries("kernel_heldout", a.measured, where, m.get(where, []),
                                 json_input.SDPA_RECORD_REQUIRED, json_input.SDPA_RECORD_OPTIONAL, applies)
    # The inputs besides the measurements, read before anything is simulated or written: a bad --before or --notes
    # ended in a traceback after OUT.json was written.
    before = read_before(a.before) if a.before else None
    notes = json_input.read_text(a.notes, "kernel_heldout", "notes").rstrip() if a.notes else None
    peer = [r for r in m.get("peer", []) if flash(r)]
    rows = compare("ours", a.ours_profile, m["ours"]) + compare("peer FLASH", a.peer_profile, peer)
    models = [model for model in ("ours", "peer FLASH") if any(r["model"] == model for r in rows)]
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    summary = {}
    for model in models:
        sel = [r for r in rows if r["model"] == model]
        summary[model] = {"profile": sel[0]["profile"], "forward": stats(sel, "fwd_error"),
                          "forward+backward": stats(sel, "fwdbwd_error")}
    result = {"what": "simulator W=1 attention prediction vs single-GPU kernels at the held-out shapes",
              "measured": os.path.relpath(a.measured, ROOT), "card": m.get("card"), "measured_date": m.get("date"),
              "simulator_commit": commit, "label": a.label, "summary": summary, "rows": rows}
    lines = [f"# Kernel cost model vs held-out single-GPU kernels ({m.get('card')})", "",
             f"Simulator at commit {commit} (`ringlab sim --world 1`, pass forward and backward), against "
             f"`{os.path.relpath(a.measured, ROOT)}` (measured {m.get('date')}; shapes fixed before measuring, never "
             "fit on). Ours: our kernels with the `ours` profile; peer: PyTorch SDPA FLASH with the peer profile. "
             "Error = predicted / measured - 1. Regenerate: `calibrate/scripts/kernel_heldout.py`.", ""]
    if a.label:
        lines += [a.label, ""]
    if before:
        result["before"] = {"file": os.path.relpath(os.path.abspath(a.before), ROOT), "label": before.get("label", ""),
                            "simulator_commit": before.get("simulator_commit"), "summary": before["summary"]}
        lines += [f"{before.get('label', '')} (simulator {before.get('simulator_commit')}, "
                  f"`{result['before']['file']}`).", ""]
    lines += ["| model | profiles | forward median abs | forward worst | fwd+bwd median abs | fwd+bwd worst |",
              "|---|---|---|---|---|---|"]
    for model, s in list((before or {}).get("summary", {}).items()):
        lines.append(f"| {model} (before) | {s['profile']} | {100 * s['forward']['median_abs_error']:.1f}% | "
                     f"{100 * s['forward']['worst_abs_error']:.1f}% | "
                     f"{100 * s['forward+backward']['median_abs_error']:.1f}% | "
                     f"{100 * s['forward+backward']['worst_abs_error']:.1f}% |")
    for model, s in summary.items():
        lines.append(f"| {model}{' (after)' if before else ''} | {s['profile']} | "
                     f"{100 * s['forward']['median_abs_error']:.1f}% | "
                     f"{100 * s['forward']['worst_abs_error']:.1f}% | "
                     f"{100 * s['forward+backward']['median_abs_error']:.1f}% | "
                     f"{100 * s['forward+backward']['worst_abs_error']:.1f}% |")
    lines += ["", "| model | B | H | Hkv | S | D | mask | fwd ms measured | predicted | error | fwd+bwd ms measured | "
              "predicted | error | extrapolated (fwd/bwd) |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['B']} | {r['H']} | {r['Hkv']} | {r['S']} | {r['D']} | {r['mask']} | "
                     f"{r['fwd_ms_measured']:.3f} | {r['fwd_ms_predicted']:.3f} | {100 * r['fwd_error']:+.1f}% | "
                     f"{r['fwdbwd_ms_measured']:.3f} | {r['fwdbwd_ms_predicted']:.3f} | "
                     f"{100 * r['fwdbwd_error']:+.1f}% | "
                     f"{100 * r['extrapolated_share_fwd']:.0f}% / {100 * r['extrapolated_share_bwd']:.0f}% |")
    if notes is not None:
        lines += ["", notes]
    # Each whole or not at all (they were written in place, the JSON twice).
    json_input.write_json(a.out + ".json", result, "kernel_heldout")
    json_input.write_text(a.out + ".md", "\n".join(lines) + "\n", "kernel_heldout")
    for model, s in summary.items():
        print(f"{model:10s} forward median {100 * s['forward']['median_abs_error']:.1f}% worst "
              f"{100 * s['forward']['worst_abs_error']:.1f}%; fwd+bwd median "
              f"{100 * s['forward+backward']['median_abs_error']:.1f}% worst "
              f"{100 * s['forward+backward']['worst_abs_error']:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
