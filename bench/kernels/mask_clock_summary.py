"""Summary of bench/kernels/device_mask_clock_check.sh: per run the dense causal kernel timed before and after the
masked cases, and each case's TFLOP/s ratio against either (issue 19's floor is 0.9 of dense).

  python3 bench/kernels/mask_clock_summary.py RESULTS_DIR
"""
import glob
import json
import os
import sys


def main():
    out = sys.argv[1]
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "clock_d*_*.json"))):
        r = json.load(open(path))
        ours = r["ours"]
        before, after = ours.get("dense_causal", {}), ours.get("dense_causal_after", {})
        name = os.path.basename(path)[len("clock_"):-len(".json")]
        for key in ("fwd_ms", "fwdbwd_ms"):
            b, a = before.get(key), after.get(key)
            if not b or not a:
                continue
            dense_pairs = r["seq"] * r["seq"] / 2
            visible = {c["name"]: c.get("visible_pairs") for c in r.get("cases", [])}
            for case, m in ours.get("cases", {}).items():
                ms, pairs = m.get(key), visible.get(case)
                if not ms or not pairs:
                    continue
                # ratio of TFLOP/s on visible pairs = (pairs / ms) / (dense_pairs / dense_ms)
                rows.append((name, key, case, b, a, pairs / ms * b / dense_pairs, pairs / ms * a / dense_pairs))
    print("run | time | case | dense before ms | dense after ms | ratio vs before | vs after")
    for run, key, case, b, a, rb, ra in rows:
        print(f"{run} | {key} | {case} | {b:.3f} | {a:.3f} | {rb:.2f} | {ra:.2f}")
    if not rows:
        print("no runs with dense_causal_after found")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
