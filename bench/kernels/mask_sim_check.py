"""The simulator against our measured masked kernels: each case of a mask_peer_bench.py result (its exact document
boundaries and window) simulated at W = 1 with the default profile, forward and forward+backward, beside the time
our kernels took, and the share of the simulated compute the simulator counts as extrapolated.

  python3 bench/kernels/mask_sim_check.py bench/results/mask_kernels_h100.json build/apps/ringlab [--profile NAME]

Prints a markdown table (bench/results/mask_kernels_h100.md, "The simulator against these kernels"). The documents go
to `ringlab sim` as `--mask causal+cu-seqlens:FILE` (temporary files), the window as `window:W,0`.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def fail(message):
    print(f"mask_sim_check: {message}", file=sys.stderr)
    sys.exit(2)


def simulate(binary, profile, seq, heads, dim, mask):
    """(forward ms, forward+backward ms, extrapolated share forward, backward) of one W = 1 run."""
    cmd = [binary, "sim", "--world", "1", "--seq", str(seq), "--heads", str(heads), "--kv-heads", str(heads), "--dim",
           str(dim), "--mask", mask, "--sharding", "contiguous", "--pass", "both", "--profile", profile, "--json", "-",
           "-q"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        fail(f"ringlab sim failed for --mask {mask}: {run.stderr.strip()}")
    runs = {r["config"]["pass"]: r for r in json.loads(run.stdout)["runs"]}
    fwd, bwd = runs["forward"], runs["backward"]
    share = lambda r: r.get("extrapolation", {}).get("share", 0.0)
    return fwd["step_time_us"] / 1e3, (fwd["step_time_us"] + bwd["step_time_us"]) / 1e3, share(fwd), share(bwd)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="mask_peer_bench.py --json output (bench/results/mask_kernels_h100.json)")
    ap.add_argument("ringlab", help="a build's ringlab binary")
    ap.add_argument("--profile", default="h100_sxm_calibrated")
    a = ap.parse_args()
    try:
        res = json.load(open(a.results))
        seq, heads, dim, ours = res["seq"], res["heads"], res["dim"], res["ours"]
        cases = [(c["name"], c.get("docs"), c.get("window", -1)) for c in res["cases"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"{a.results}: not a mask_peer_bench.py result with ours ({e})")
    print("| case | fwd measured ms | simulated | error | fwd+bwd measured ms | simulated | error | "
          "extrapolated (fwd / bwd) |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, docs, window) in enumerate(cases + [("dense causal", None, -1)]):
            mask = "causal"
            if docs and len(docs) > 2:
                path = os.path.join(tmp, f"case{i}.cu")  # no '+' in the name: it joins mask terms
                with open(path, "w") as f:
                    f.write(" ".join(str(d) for d in docs) + "\n")
                mask += "+cu-seqlens:" + path
            if window is not None and window >= 0:
                mask += f"+window:{window},0"
            fwd, fb, xf, xb = simulate(a.ringlab, a.profile, seq, heads, dim, mask)
            m = ours["dense_causal"] if docs is None and name == "dense causal" else ours["cases"][name]
            print(f"| {name} | {m['fwd_ms']:.3f} | {fwd:.3f} | {100 * (fwd / m['fwd_ms'] - 1):+.1f}% | "
                  f"{m['fwdbwd_ms']:.3f} | {fb:.3f} | {100 * (fb / m['fwdbwd_ms'] - 1):+.1f}% | "
                  f"{100 * xf:.0f}% / {100 * xb:.0f}% |")


if __name__ == "__main__":
    main()
