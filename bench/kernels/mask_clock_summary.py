"""Summary of bench/kernels/device_mask_clock_check.sh: each masked case's TFLOP/s (visible pairs) over our dense causal
kernel's, the dense kernel timed before the cases, again after them and (--dense-each) right before each case, per
timing mode (bursts / sustained) and repetition; then nvidia-smi's SM clock and power over the call. Issue 19's floor
is 0.9 of dense.

  python3 bench/kernels/mask_clock_summary.py RESULTS_DIR
"""
import collections
import csv
import glob
import json
import os
import re
import statistics
import sys


def ratios(path):
    """{(case, time key): (vs dense before, vs dense after, vs dense right before it: --dense-each)}, plus a row of
    the dense kernel's after / before time, for one run."""
    r = json.load(open(path))
    ours = r["ours"]
    before, after = ours.get("dense_causal", {}), ours.get("dense_causal_after", {})
    dense_pairs = r["seq"] * r["seq"] / 2
    visible = {c["name"]: c.get("visible_pairs") for c in r.get("cases", [])}
    out = {}
    for key in ("fwd_ms", "fwdbwd_ms"):
        b, a = before.get(key), after.get(key)
        for case, m in ours.get("cases", {}).items():
            ms, pairs = m.get(key), visible.get(case)
            if ms and pairs and b and a:
                near = m.get("dense_" + key)  # --dense-each: timed right before this case
                out[(case, key)] = (pairs / ms * b / dense_pairs, pairs / ms * a / dense_pairs,
                                    pairs / ms * near / dense_pairs if near else float("nan"))
        out[("(dense after / before, ms)", key)] = (a / b if a and b else float("nan"),) * 3
    return out


def smi_lines(out):
    path = os.path.join(out, "smi.csv")
    if not os.path.exists(path):
        return ["no nvidia-smi samples"]
    clocks, power, reasons = [], [], collections.Counter()
    with open(path) as f:
        for row in csv.reader(f):
            if len(row) < 6 or not row[1].strip()[:1].isdigit():
                continue
            clocks.append(float(row[1].split()[0]))
            power.append(float(row[3].split()[0]))
            reasons[row[5].strip()] += 1
    if not clocks:
        return ["no nvidia-smi samples"]
    q = lambda v, p: sorted(v)[int(p * (len(v) - 1))]
    return [f"nvidia-smi: {len(clocks)} samples; SM clock MHz min/median/max {min(clocks):.0f}/{q(clocks, .5):.0f}/"
            f"{max(clocks):.0f}; power W median/max {q(power, .5):.0f}/{max(power):.0f}; throttle reasons "
            + ", ".join(f"{k} x{v}" for k, v in reasons.most_common(4))]


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        print("usage: mask_clock_summary.py RESULTS_DIR (the folder of clock_<mode>_d<D>_<rep>.json)", file=sys.stderr)
        return 2
    out = sys.argv[1]
    table = collections.defaultdict(dict)  # (d, case, key) -> {(mode, rep): (before, after, next to it)}
    for path in sorted(glob.glob(os.path.join(out, "clock_*_d*_*.json"))):
        m = re.match(r"clock_(\w+?)_d(\d+)_(\d+)\.json", os.path.basename(path))
        if not m:
            continue
        mode, d, rep = m.group(1), int(m.group(2)), int(m.group(3))
        try:
            found = ratios(path)
        except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError) as e:
            print(f"mask_clock_summary: {path}: not a mask_peer_bench.py result with ours ({type(e).__name__}: {e})",
                  file=sys.stderr)
            return 2
        for (case, key), v in found.items():
            table[(d, case, key)][(mode, rep)] = v
    if not table:
        print("no runs found")
        return 1
    cols = sorted({c for v in table.values() for c in v})
    print("D | case | time | " + " | ".join(f"{m} {r} vs before / after / next to it" for m, r in cols)
          + " | median next to it, burst | sustained")
    for (d, case, key), v in sorted(table.items()):
        cells = [" / ".join(f"{x:.2f}" for x in v[c]) if c in v else "-" for c in cols]
        med = lambda mode: statistics.median([t[2] for (m, _), t in v.items() if m == mode] or [float("nan")])
        print(f"{d} | {case} | {key[:-3]} | " + " | ".join(cells) + f" | {med('burst'):.2f} | {med('sustained'):.2f}")
    print("\n".join(smi_lines(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
