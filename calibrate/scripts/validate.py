#!/usr/bin/env python3
"""Simulate held-out real traces from a calibrated profile and report the error.

    .venv/bin/python calibrate/scripts/validate.py --profile bench/results/calibrated_h100.json \
        --traces 'bench/results/cp_traces/bench_w4_*.json' --out bench/results/sim_validation

For each held-out trace: `ringlab sim --profile P <the trace's config> --json - --trace T`; step-time error =
sim / measured - 1 (measured step = last op end - first op start over all ranks); per-op error by kind, matching
ops by (rank, schedule op id). Writes OUT.json and OUT.md (median and worst |error|).
"""
import argparse
import collections
import os
import pathlib
import shlex
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import ROOT, git_commit, load_trace, real_traces, simulate as simulate_config, step_time_us  # noqa: E402
import json_input  # noqa: E402
import ringlab  # noqa: E402

TOOL = "validate"
# The fields of a run summary row (bench/cp/...summary.json) that the table reads, beside "method".
SUMMARY_ROW = {"fwd_ms": json_input.POSITIVE, "fwdbwd_ms": json_input.POSITIVE}


def summary_for(trace_path, meta):
    """The run's summary row (median step times) for a grid trace <point>.<method>[.backward].json, or None."""
    p = pathlib.Path(trace_path)
    point = p.name.split(".")[0]
    sj = p.parent / f"{point}.summary.json"
    if not sj.exists():
        return None, None
    rows = json_input.read_json(str(sj), TOOL, "run summary")
    if not (isinstance(rows, list) and all(isinstance(r, dict) for r in rows)):
        json_input.fail(TOOL, f"{sj}: run summary must be a JSON array of objects (one row per method)")
    json_input.check_entries(TOOL, str(sj), "rows", rows, SUMMARY_ROW,
                             applies=lambda r: r.get("method") == meta["method"])
    for row in rows:
        if row.get("method") == meta["method"]:
            return point, row
    return point, None


def simulate(profile, meta):
    """(simulated step time, the simulated trace's events keyed like a real trace's) of the trace's configuration."""
    sim = simulate_config(profile, meta, trace=True)
    t = sim.trace
    sim_events = [{"pid": r, "cat": k, "ts": ts, "dur": d, "args": {"op": op}}
                  for r, k, ts, d, op in zip(t["rank"], t["kind"], t["ts_us"], t["dur_us"], t["op"])]
    return sim.runs[0]["step_time_us"], sim_events


def stats(errs):
    a = [abs(e) for e in errs] or [float("nan")]
    return {"count": len(errs), "median_abs_error": statistics.median(a), "worst_abs_error": max(a)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--traces", nargs="+", required=True, help="globs of real traces (calibration ones are marked)")
    ap.add_argument("--out", default=str(ROOT / "bench/results/sim_validation"), help="output path without suffix")
    ap.add_argument("--notes", default=None, help="a markdown file appended to OUT.md (hand-written findings)")
    args = ap.parse_args()
    # The profile and the notes, checked before anything is simulated or written: a bad one ended in a traceback
    # (the notes' after OUT.json was written).
    prof = json_input.read_object(args.profile, TOOL, "profile")
    try:
        ringlab.load_profile(args.profile)  # the simulator's checks, which simulate() would fail on
    except ValueError as e:
        json_input.fail(TOOL, str(e) if args.profile in str(e) else f"{args.profile}: {e}")
    notes = json_input.read_text(args.notes, TOOL, "notes").rstrip() if args.notes else None
    paths = real_traces([str(ROOT / t) if not pathlib.Path(t).is_absolute() else t for t in args.traces])
    # One trace per run and pass: the median iteration's (<point>.<method>[.backward].json); the per-iteration traces
    # (.iter<k>.json, since 5226c97) feed calibration's host numbers, not this table.
    paths = [p for p in paths if ".iter" not in pathlib.Path(p).name]
    if not paths:
        json_input.fail(TOOL, "--traces: no real traces (ringlab.source == 'real') match " + " ".join(args.traces))
    calib = set(prof.get("provenance", {}).get("source_traces", []))
    calib_points = {pathlib.Path(c).name.split(".")[0] for c in calib}
    traces, per_kind, runs = [], collections.defaultdict(list), {}
    for p in paths:
        rp = pathlib.Path(p).resolve()
        rel = str(rp.relative_to(ROOT)) if str(rp).startswith(str(ROOT)) else p
        meta, events = load_trace(p)
        sim, sim_events = simulate(args.profile, meta)
        held = rel not in calib and pathlib.Path(p).name.split(".")[0] not in calib_points
        sim_by = {(e["pid"], e["args"]["op"]): e for e in sim_events}
        if held:
            for e in events:
                s = sim_by.get((e["pid"], e["args"]["op"]))
                if s and e["dur"] > 0:
                    per_kind[f'{e["cat"]} ({meta["pass"]})'].append(s["dur"] / e["dur"] - 1)
        measured = step_time_us(events)
        traces.append({"trace": rel, "in_calibration": not held, "world": meta["world"], "seq": meta["problem"]["seq"],
                       "heads": meta["problem"]["heads"], "kv_heads": meta["problem"]["kv_heads"],
                       "head_dim": meta["problem"]["head_dim"], "method": meta["method"], "pass": meta["pass"],
                       "card": meta.get("hardware", "?"), "measured_ms": measured / 1e3, "sim_ms": sim / 1e3,
                       "error": sim / measured - 1})
        point, row = summary_for(p, meta)
        if row is not None:
            r = runs.setdefault((point, meta["method"]), {
                "point": point, "method": meta["method"], "in_calibration": point in calib_points,
                "world": meta["world"], "seq": meta["problem"]["seq"], "heads": meta["problem"]["heads"],
                "kv_heads": meta["problem"]["kv_heads"], "head_dim": meta["problem"]["head_dim"],
                "card": row.get("gpu", "?"), "measured_fwd_ms": row["fwd_ms"], "measured_fwdbwd_ms": row["fwdbwd_ms"]})
            r["sim_fwd_ms" if meta["pass"] == "forward" else "sim_bwd_ms"] = sim / 1e3
            r["trace_fwd_ms" if meta["pass"] == "forward" else "trace_bwd_ms"] = measured / 1e3
            # the traced iteration against the summary median of the same pass: how much the runs themselves vary
            med = row["fwd_ms"] if meta["pass"] == "forward" else row["fwdbwd_ms"] - row["fwd_ms"]
            r["trace_vs_median_fwd" if meta["pass"] == "forward" else "trace_vs_median_bwd"] = measured / 1e3 / med - 1
    points = []
    for r in runs.values():
        if "sim_fwd_ms" in r and "sim_bwd_ms" in r:
            r["sim_fwdbwd_ms"] = r["sim_fwd_ms"] + r["sim_bwd_ms"]
            r["error_fwd"] = r["sim_fwd_ms"] / r["measured_fwd_ms"] - 1
            r["error_fwdbwd"] = r["sim_fwdbwd_ms"] / r["measured_fwdbwd_ms"] - 1
            # against the traced iteration itself (the one the per-op errors come from), not the 5-iteration median
            r["error_fwd_vs_trace"] = r["sim_fwd_ms"] / r["trace_fwd_ms"] - 1
            r["error_fwdbwd_vs_trace"] = r["sim_fwdbwd_ms"] / (r["trace_fwd_ms"] + r["trace_bwd_ms"]) - 1
            points.append(r)
    points.sort(key=lambda r: (r["in_calibration"] is False, r["world"], r["seq"], -r["heads"], -r["kv_heads"],
                               r["head_dim"], r["method"]))
    held_pts = [r for r in points if not r["in_calibration"]]
    held_tr = [x for x in traces if not x["in_calibration"]]
    kinds = {k: {"ops": len(v), "median_abs": statistics.median(abs(e) for e in v),
                 "worst_abs": max(abs(e) for e in v), "median_signed": statistics.median(v)}
             for k, v in sorted(per_kind.items())}
    result = {"profile": prof.get("name"), "profile_path": args.profile, "provenance": prof.get("provenance", {}),
              "commit": git_commit(), "measured": "summary JSON medians (fwd_ms, fwdbwd_ms: slowest rank's median of 5 "
              "timed iterations); sim fwd+bwd = sim forward step + sim backward step",
              "points": points,
              "held_out": {"fwd": stats([r["error_fwd"] for r in held_pts]),
                           "fwdbwd": stats([r["error_fwdbwd"] for r in held_pts]),
                           "all": stats([r["error_fwd"] for r in held_pts] + [r["error_fwdbwd"] for r in held_pts]),
                           "fwd_vs_trace": stats([r["error_fwd_vs_trace"] for r in held_pts]),
                           "fwdbwd_vs_trace": stats([r["error_fwdbwd_vs_trace"] for r in held_pts])},
              "calibration": {"fwd": stats([r["error_fwd"] for r in points if r["in_calibration"]]),
                              "fwdbwd": stats([r["error_fwdbwd"] for r in points if r["in_calibration"]])},
              "traces": traces, "held_out_traces": stats([x["error"] for x in held_tr]),
              "per_op_kind": kinds}
    # backwards compatible keys for older readers
    result["held_out"].update(result["held_out"]["all"])
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pv = prof.get("provenance", {})
    h = result["held_out"]
    cards = sorted({r["card"] for r in points} | {x["card"] for x in traces})
    split = pv.get("split") or "(not recorded)"
    md = ["# Simulator validation on held-out real runs\n",
          f"Generated by `calibrate/scripts/validate.py` at commit {result['commit']}. Profile `{prof.get('name')}` "
          f"({pv.get('tool', '?')}, {pv.get('date', '?')}): {prof.get('gpu', '?')}. Runs: cards {', '.join(cards)}.\n",
          "Reproduce (repository root, `.venv` from `scripts/setup_python.sh`, `RINGLAB_BIN` a CPU build of `ringlab`):\n",
          "```",
          f"RINGLAB_BIN=... .venv/bin/python calibrate/scripts/{pv.get('command', 'calibrate.py ?')}",
          "RINGLAB_BIN=... .venv/bin/python calibrate/scripts/validate.py " + shlex.join(sys.argv[1:]),
          "```\n",
          f"Split: {split}. Calibration traces (marked below): {len(pv.get('source_traces', []))}; "
          f"{'the runs gave ' + pv.get('runs_give', '?') if pv.get('source_traces') else 'no runs were used'}.\n",
          f"Measured = the run summaries' medians (`fwd_ms`, `fwdbwd_ms`: slowest rank's median of 5 timed iterations); "
          f"simulated fwd+bwd = simulated forward step + simulated backward step.\n",
          f"**Held out ({len(held_pts)} runs = points x methods): forward median |error| {h['fwd']['median_abs_error'] * 100:.2f}%, "
          f"worst {h['fwd']['worst_abs_error'] * 100:.1f}%; forward+backward median {h['fwdbwd']['median_abs_error'] * 100:.2f}%, "
          f"worst {h['fwdbwd']['worst_abs_error'] * 100:.1f}%; all {2 * len(held_pts)} numbers median "
          f"{h['all']['median_abs_error'] * 100:.2f}%, worst {h['all']['worst_abs_error'] * 100:.1f}%.**\n",
          "| point | method | fwd ms meas | fwd ms sim | fwd err | fwd+bwd ms meas | fwd+bwd ms sim | fwd+bwd err |",
          "|---|---|---|---|---|---|---|---|"]
    for r in points:
        mark = " (calibration)" if r["in_calibration"] else ""
        md.append(f"| {r['point']}{mark} | {r['method']} | {r['measured_fwd_ms']:.3f} | {r['sim_fwd_ms']:.3f} | "
                  f"{r['error_fwd'] * 100:+.1f}% | {r['measured_fwdbwd_ms']:.3f} | {r['sim_fwdbwd_ms']:.3f} | "
                  f"{r['error_fwdbwd'] * 100:+.1f}% |")
    spread = [abs(r[k]) for r in held_pts for k in ("trace_vs_median_fwd", "trace_vs_median_bwd") if k in r]
    if spread:
        result["run_spread"] = {"median_abs": statistics.median(spread), "worst_abs": max(spread), "count": len(spread)}
        md.append(f"\nRun-to-run spread (a floor for any model): the traced iteration's step differs from the summary "
                  f"median of the same pass by median {statistics.median(spread) * 100:.1f}%, worst "
                  f"{max(spread) * 100:.1f}% ({len(spread)} held-out passes).")
        ft, bt = h["fwd_vs_trace"], h["fwdbwd_vs_trace"]
        md.append(f"Against the traced iteration instead of the median (same held-out runs, simulated fwd+bwd = sum of "
                  f"the two simulated passes vs the two traced passes): forward median |error| "
                  f"{ft['median_abs_error'] * 100:.1f}%, worst {ft['worst_abs_error'] * 100:.1f}%; forward+backward "
                  f"median {bt['median_abs_error'] * 100:.1f}%, worst {bt['worst_abs_error'] * 100:.1f}%.")
    ht = result["held_out_traces"]
    md.append(f"\nSecondary (one traced iteration each, step = last op end - first op start): held-out traces median "
              f"|error| {ht['median_abs_error'] * 100:.1f}%, worst {ht['worst_abs_error'] * 100:.1f}% ({ht['count']} traces).\n")
    md += ["Per-op duration error on held-out traces (sim / real - 1, matched by rank and op id; send/recv/all-gather "
           "durations in a real trace include waiting for the peer):\n",
           "| op kind | ops | median abs error | worst abs error | median signed |", "|---|---|---|---|---|"]
    for k, v in kinds.items():
        md.append(f"| {k} | {v['ops']} | {v['median_abs'] * 100:.1f}% | {v['worst_abs'] * 100:.1f}% | {v['median_signed'] * 100:+.1f}% |")
    if notes is not None:
        md += ["", notes]
    # Each whole or not at all (they were written in place, the JSON twice).
    json_input.write_json(str(out) + ".json", result, TOOL)
    json_input.write_text(str(out) + ".md", "\n".join(md) + "\n", TOOL)
    print("\n".join(md))


if __name__ == "__main__":
    main()
