#!/usr/bin/env python3
"""Calibrate a simulator hardware profile: kernel and NCCL microbenchmarks (`ringlab calibrate` on GPUs) and/or real
run traces (`ringlab run --trace`, source "real"), fitted by `ringlab fit-profile` (calibrate/fit/profile_fit.h).

    # the honest design: kernels, NCCL and the compute/comm slowdown from microbenchmarks; the runs of the
    # calibration part of the grid give only the host's gaps between kernels
    RINGLAB_BIN=build/apps/ringlab .venv/bin/python calibrate/scripts/calibrate.py \
        --microbench calibrate_samples.json --traces 'grid/w*_h8_k2_*.all*.json' --out sim/profiles/h100_cal.json

    # without microbenchmarks: every number from the calibration traces' per-op timings
    .venv/bin/python calibrate/scripts/calibrate.py --traces 'grid/w*_h8_k2_*.all*.json' --out prof.json

What comes from the traces (calibrate/scripts/trace_samples.py): kernel samples (attend ops with the comm stream
idle), same-shape alone/beside-communication pairs, matched send/recv transfer times, all-gathers, merge and prepare
kernels, and the gaps between consecutive compute kernels. With --microbench only the host numbers are taken from the
runs (the gaps between kernels and the ranks' start skew; --runs-give all overrides). The samples from the traces
are written to --samples-out for `ringlab fit-profile`.
The profile's provenance lists the source traces (validate.py marks those points as calibration), the split rule,
the card(s) and commits.
"""
import argparse
import datetime
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import ROOT, git_commit, load_trace, real_traces  # noqa: E402

# `ringlab fit-profile` has no Python binding (the fit is a CLI step): the CLI runs it.
RINGLAB = os.environ.get("RINGLAB_BIN", str(ROOT / "build/apps/ringlab"))
import json_input  # noqa: E402
from displaced_tails import displaced_tail_counts  # noqa: E402
from trace_samples import kernel_first_fractions, relative, samples_from_traces  # noqa: E402

TOOL = "calibrate"


def from_root(path):
    """`path` (relative to the current folder) as the repository root sees it: relative inside it, else absolute."""
    p = pathlib.Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def read_base_name(base):
    """The "name" of the --base profile (a path, or a bundled name in sim/profiles): one line naming it, exit 2, when
    it is neither or has no name (a bad base ended in a traceback)."""
    path = base if pathlib.Path(base).exists() else ROOT / "sim/profiles" / f"{base}.json"
    if not pathlib.Path(path).exists():
        json_input.fail(TOOL, f"--base {base}: no such file, nor a bundled profile (sim/profiles/{base}.json)")
    name = json_input.read_object(str(path), TOOL, "base profile").get("name")
    if not isinstance(name, str) or not name:
        json_input.fail(TOOL, f"{path}: base profile has no \"name\" (a string)")
    return name


def complete(prof, paths, profile_path, tag):
    """Adds to the fitted profile `prof` (written at `profile_path`) the host races counted on the calibration runs
    `paths`: which stream gets the GPU first at a pass start, and NCCL taking SMs from a kernel's last round."""
    if not paths:
        return
    # A host number from the calibration runs: which stream gets the GPU first at a pass start (sim/profile.h).
    fractions, posts = kernel_first_fractions(paths)
    if len(posts) >= 3:
        prof["compute"]["nccl_post_us"] = {
            "value": round(statistics.median(posts), 3),
            "source": f"{tag}: median delay of the first kernel after the first transfer on the ranks that posted "
                      f"the transfer first ({len(posts)} ranks): the host posting the NCCL group before the kernel"}
    for ps, rows in fractions.items():
        prof["compute"][f"{ps}_kernel_first_fraction"] = {
            "by_world": [[w, round(f, 4)] for w, f, _ in rows],
            "source": f"{tag}: fraction of ranks whose first kernel started before their first transfer, per "
                      f"world size ({', '.join(f'W={w}: {k} ranks' for w, _, k in rows)} of {ps} runs)"}
    # Another race counted on the calibration runs: NCCL taking SMs from a kernel's last round (sim/profile.h). The
    # simulator runs from the profile as it is so far.
    json_input.write_json(profile_path, prof, TOOL)
    counts = displaced_tail_counts(paths, profile_path)
    displaced = sum(c[0] for c in counts.values())
    eligible = sum(c[1] for c in counts.values())
    if eligible >= 3:
        prof["compute"]["displaced_tail_fraction"] = {
            "value": round(displaced / eligible, 4),
            "source": f"{tag}: {displaced} of {eligible} full-mask attention kernels that the simulator has a "
                      f"transfer posted before their last round ran one round longer in the calibration runs"}
    for ps, (d, n) in counts.items():
        if n >= 3:
            prof["compute"][f"{ps}_displaced_tail_fraction"] = {
                "value": round(d / n, 4), "source": f"{tag}: {d} of {n} such {ps} kernels"}
    print("calibrate: displaced last rounds " +
          ", ".join(f"{ps} {d} of {n}" for ps, (d, n) in counts.items()) + " eligible kernels")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", nargs="*", default=[], help="globs of real trace JSON files (the calibration part)")
    ap.add_argument("--microbench", default=None, help="samples JSON written by `ringlab calibrate --samples`")
    ap.add_argument("--runs-give", choices=["host", "all"], default=None,
                    help="what the traces contribute: host gaps only (default with --microbench) or everything")
    ap.add_argument("--base", default="h100_sxm", help="profile to start from: bundled name or path")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default=None, help="profile name (default: <base>_calibrated)")
    ap.add_argument("--split", default="", help="the rule that chose the calibration traces (for the provenance)")
    ap.add_argument("--runs-commit", default=None, help="commit the real runs were built at (provenance)")
    ap.add_argument("--samples-out", default=None,
                    help="where the samples taken from the traces go (default out/calibrate/<OUT stem>.samples.json; "
                         "they are rebuilt from the traces, so nothing needs committing)")
    args = ap.parse_args()
    if not args.traces and not args.microbench:
        json_input.fail(TOOL, "give --traces, --microbench or both")
    base_name = read_base_name(args.base)
    paths = real_traces([str(ROOT / t) if not pathlib.Path(t).is_absolute() else t for t in args.traces])
    if args.traces and not paths:
        json_input.fail(TOOL, "--traces: no real traces (ringlab.source == 'real') match " + " ".join(args.traces))
    runs_give = args.runs_give or ("host" if args.microbench else "all")

    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sample_files = []
    cards = set()
    if args.microbench:
        sample_files.append(args.microbench)
        mb = json_input.read_samples(args.microbench, TOOL).get("provenance", {})
        cards.add(mb.get("card", "?"))
    today = datetime.date.today().isoformat()
    if paths:
        s = samples_from_traces(paths, host_only=runs_give == "host")
        for p in paths:
            cards.add(load_trace(p)[0].get("hardware", "?"))
        s["provenance"] = {"source_traces": relative(paths, ROOT), "split": args.split, "runs_give": runs_give,
                           "runs_commit": args.runs_commit or "unknown"}
        runs_file = args.samples_out or str(ROOT / "out/calibrate" / (out.stem + ".samples.json"))
        pathlib.Path(runs_file).parent.mkdir(parents=True, exist_ok=True)
        json_input.write_json(runs_file, s, TOOL, indent=0)
        sample_files.append(runs_file)
        print(f"calibrate: {len(paths)} traces -> {len(s['kernels'])} kernel, {len(s['transfers'])} transfer, "
              f"{len(s['memory'])} memory samples, {len(s['launch_gaps_us'])} launch gaps ({runs_give})")
    card = ", ".join(sorted(cards))
    what = ("microbenchmarks" if args.microbench else "") + (" + " if args.microbench and paths else "") + \
           (f"{len(paths)} real traces ({runs_give})" if paths else "")
    tag = f"FIT {today}, commit {git_commit()}, {card}, {what}"
    # transfers from real runs are nearly all beside kernels and wait inside NCCL groups: one line through them
    one_line = ["--one-line"] if paths and runs_give == "all" and not args.microbench else []
    # Run from the repository root with the sample files relative to it: the profile's provenance names them as a
    # clone sees them, never by an absolute path of this machine.
    base = from_root(args.base) if pathlib.Path(args.base).exists() else args.base
    ringlab = str(pathlib.Path(RINGLAB).resolve()) if os.sep in RINGLAB else RINGLAB
    # fit-profile writes beside --out, and --out is replaced only once the host numbers and the provenance are in
    # the profile: it was completed in place, so a failure on the way left fit-profile's half where the old one was.
    try:
        fd, fitted = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".fit.json")
    except OSError as e:
        json_input.fail(TOOL, f"{out}: cannot write ({e.strerror or e})")
    os.close(fd)
    try:
        try:
            fit = subprocess.run([ringlab, "fit-profile", "--samples", *map(from_root, sample_files), "--base", base,
                                 "--out", str(pathlib.Path(fitted).resolve()), "--name",
                                 args.name or f"{base_name}_calibrated", "--tag", tag, *one_line], cwd=ROOT)
        except OSError as e:  # no such binary: a traceback
            json_input.fail(TOOL, f"{ringlab}: cannot run `ringlab fit-profile` ({e.strerror or e}; set RINGLAB_BIN)")
        if fit.returncode != 0:
            sys.exit(fit.returncode)  # ringlab's one-line error says why (exit 2: bad samples or base)
        prof = json_input.read_object(fitted, TOOL, f"profile `{ringlab} fit-profile` wrote")
        complete(prof, paths, fitted, tag)
        pv = prof.setdefault("provenance", {})
        pv.update({"card": card, "date": today, "commit": git_commit(), "tool": "calibrate/scripts/calibrate.py",
                   "command": shlex.join(["calibrate.py", *sys.argv[1:]])})
        pv.setdefault("source_traces", [])
        prof["gpu"] = f"{card}; calibrated ({what})"
        json_input.write_json(str(out), prof, TOOL)
    finally:
        os.unlink(fitted)
    print(f"calibrate: wrote {out}")


if __name__ == "__main__":
    main()
