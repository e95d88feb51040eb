"""The simulator against our measured masked kernels: each case of mask_peer_bench.py results (their exact document
boundaries and window) simulated at W = 1 with a profile as it is, forward and forward+backward, beside the time our
kernels took, and the share of the simulated compute the simulator counts as extrapolated.

  python3 bench/kernels/mask_sim_check.py bench/results/mask_kernels_h100.json:heldout_2026_12_07 build/apps/ringlab \\
      [--profile NAME]

RESULTS: one mask_peer_bench.py result file, or FILE:KEY for every result under the file's KEY.runs. Prints a
markdown table per result (bench/results/mask_kernels_h100.md, "The simulator against these kernels"). Loading and
simulating are calibrate/scripts/masked_cost_fit.py's (which fits the profile's masked terms on such results).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "calibrate", "scripts"))
import masked_cost_fit as fit  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="mask_peer_bench.py --json output, or FILE:KEY (KEY.runs)")
    ap.add_argument("ringlab", help="a build's ringlab binary")
    ap.add_argument("--profile", default="h100_sxm_calibrated")
    a = ap.parse_args()
    fit.TOOL = "mask_sim_check"
    if not os.access(a.ringlab, os.X_OK):
        fit.fail(f"{a.ringlab}: not an executable")
    results = fit.load_results([a.results])
    with fit.tempfile.TemporaryDirectory() as tmp:
        sim = fit.Simulator(a.ringlab, results, tmp).run(a.profile)
    for i, (label, _, _, _, cases, dense) in enumerate(results):
        print(f"**{label}**\n")
        print("| case | fwd measured ms | simulated | error | fwd+bwd measured ms | simulated | error | "
              "extrapolated (fwd / bwd) |")
        print("|---|---|---|---|---|---|---|---|")
        for name, fwd_ms, bwd_ms in [(c[0], c[3], c[4]) for c in cases] + [("dense causal", *dense)]:
            fwd, bwd, xf, xb = sim[(i, name)]
            print(f"| {name} | {fwd_ms:.3f} | {fwd:.3f} | {100 * (fwd / fwd_ms - 1):+.1f}% | {fwd_ms + bwd_ms:.3f} | "
                  f"{fwd + bwd:.3f} | {100 * ((fwd + bwd) / (fwd_ms + bwd_ms) - 1):+.1f}% | "
                  f"{100 * xf:.0f}% / {100 * xb:.0f}% |")
        print()


if __name__ == "__main__":
    main()
