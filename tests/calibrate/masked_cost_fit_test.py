"""calibrate/scripts/masked_cost_fit.py: on synthetic masked kernels (the simulator's own times under known masked
terms, the dense kernel's as the simulator says) the fit must find terms that reproduce them, dividing each case by
the dense kernel timed next to it where a file has them (--dense-each: one file's cases and their dense timings run
10% slow, as on a card whose clock fell after the first dense run); it refuses a file that is not a
mask_peer_bench.py result in one line (exit 2).

  RINGLAB_BIN=build/apps/ringlab .venv/bin/python tests/calibrate/masked_cost_fit_test.py
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "calibrate", "scripts"))
import masked_cost_fit as fit  # noqa: E402

BIN = os.environ.get("RINGLAB_BIN", os.path.join(ROOT, "build", "apps", "ringlab"))
PROFILE = os.path.join(ROOT, "sim", "profiles", "h100_sxm_calibrated.json")
TRUE = {"forward": (0.6, 1.05, 0.3), "backward": (1.4, 0.95, 0.5)}


def documents(seq, lengths):
    cu, k = [0], 0
    while cu[-1] < seq:
        cu.append(min(seq, cu[-1] + lengths[k % len(lengths)]))
        k += 1
    return cu


def synthetic(tmp):
    """Result files whose 'measured' times are the simulator's under TRUE (dense: the simulator's own)."""
    shapes = [(4096, 4, 128), (8192, 16, 64), (16384, 8, 128)]
    files = []
    for seq, heads, dim in shapes:
        cases = [{"name": "docs short", "docs": documents(seq, [300, 700, 180]), "window": -1},
                 {"name": "docs long", "docs": documents(seq, [2500, 1200]), "window": -1},
                 {"name": "window 256", "docs": [0, seq], "window": 256},
                 {"name": "docs + window", "docs": documents(seq, [2500, 1200]), "window": 700}]
        files.append({"seq": seq, "heads": heads, "dim": dim, "cases": cases,
                      "ours": {"cases": {}, "dense_causal": {}}})
    results = [(f"s{i}", r["seq"], r["heads"], r["dim"],
                [(c["name"], c["docs"], c["window"], 1.0, 1.0, (1.0, 1.0)) for c in r["cases"]], (1.0, 1.0))
               for i, r in enumerate(files)]
    profile = json.load(open(PROFILE))
    for t in profile["compute"]["attention"]:
        t.get("wave", {}).get("cost", {}).pop("masked", None)
    sim = fit.Simulator(BIN, results, tmp).run(fit.with_masked_terms(profile, TRUE))
    paths = []
    for i, r in enumerate(files):
        slow = 1.1 if i == 1 else 1.0  # file 1: the cases and the dense kernel timed beside each run 10% slow
        dense_fwd, dense_bwd = sim[(i, "dense causal")][:2]
        r["ours"]["dense_causal"] = {"fwd_ms": dense_fwd, "fwdbwd_ms": dense_fwd + dense_bwd}
        for name in [c["name"] for c in r["cases"]]:
            fwd, bwd = sim[(i, name)][:2]
            entry = {"fwd_ms": slow * fwd, "fwdbwd_ms": slow * (fwd + bwd)}
            if slow != 1.0:
                entry.update(dense_fwd_ms=slow * dense_fwd, dense_fwdbwd_ms=slow * (dense_fwd + dense_bwd))
            r["ours"]["cases"][name] = entry
        paths.append(os.path.join(tmp, f"synthetic_{i}.json"))
        json.dump(r, open(paths[-1], "w"))
    return paths


def main():
    with tempfile.TemporaryDirectory() as tmp:
        paths = synthetic(tmp)
        out = os.path.join(tmp, "fitted.json")
        run = subprocess.run([sys.executable, os.path.join(ROOT, "calibrate", "scripts", "masked_cost_fit.py"),
                              "--ringlab", BIN, "--profile", PROFILE, "--train"] + paths + ["--write", out],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        # Every training case reproduced: the fitted profile's times against the synthetic ones.
        results = fit.load_results(paths)
        sim = fit.Simulator(BIN, results, tmp).run(json.load(open(out)))
        worst = max(abs(row[5]) for k in range(2) for row in fit.errors(results, sim, k))
        assert worst < 0.01, f"fitted terms miss the synthetic kernels by {100 * worst:.2f}%\n{run.stdout}"
        fitted = json.load(open(out))
        masked = [t for t in fitted["compute"]["attention"] if "masked" in t.get("wave", {}).get("cost", {})]
        assert masked and all(t["head_dim"] in (64, 128) for t in masked)
        assert all(t["wave"]["cost"]["masked"]["persistent"] == (t["pass"] == "forward") for t in masked)
        assert all("source" in t["wave"]["cost"]["masked"] for t in masked)
        # Bad input: one line naming the file, exit 2, nothing written.
        bad = os.path.join(tmp, "bad.json")
        json.dump({"seq": 1}, open(bad, "w"))
        out2 = os.path.join(tmp, "never.json")
        run = subprocess.run([sys.executable, os.path.join(ROOT, "calibrate", "scripts", "masked_cost_fit.py"),
                              "--ringlab", BIN, "--profile", PROFILE, "--train", bad, "--write", out2],
                             capture_output=True, text=True)
        assert run.returncode == 2 and run.stderr.count("\n") == 1 and "bad.json" in run.stderr, run.stderr
        assert not os.path.exists(out2)
        # --transfer PASS:D: that pass's factors on the D tables' own dense terms, the other pass untouched; a bad
        # PASS:D is one line, exit 2.
        moved = fit.with_masked_terms(json.load(open(PROFILE)), TRUE, (("backward", 256),))
        for t in moved["compute"]["attention"]:
            cost = t.get("wave", {}).get("cost")
            if cost is None or t["head_dim"] != 256:
                continue
            if t["pass"] == "backward":
                a, m, e = TRUE["backward"]
                assert cost["masked"]["cta_us"] == round(a * cost["cta_us"], 4), cost
                assert cost["masked"]["tile_us"] == round(m * cost["tile_us"], 4), cost
                assert cost["masked"]["edge_tile_us"] == round(e * cost["tile_us"], 4), cost
            else:
                assert "masked" not in cost, t
        for bad_transfer in ("backward:128", "sideways:256", "backward:x"):
            run = subprocess.run([sys.executable, os.path.join(ROOT, "calibrate", "scripts", "masked_cost_fit.py"),
                                  "--ringlab", BIN, "--profile", PROFILE, "--train", paths[0], "--transfer",
                                  bad_transfer], capture_output=True, text=True)
            assert run.returncode == 2 and run.stderr.count("\n") == 1 and bad_transfer in run.stderr, run.stderr
        # FILE:KEY where KEY is one result (as mask_kernels_h100.json keeps its D = 256 tables), beside KEY.runs.
        keyed = os.path.join(tmp, "keyed.json")
        one = json.load(open(paths[0]))
        json.dump({"single": one, "many": {"runs": {"a": one, "b": one}}}, open(keyed, "w"))
        assert [label for label, _ in fit.result_files([keyed + ":single"])] == ["single"]
        assert [label for label, _ in fit.result_files([keyed + ":many"])] == ["a", "b"]
        # An output that cannot be written (here a folder) is one line naming it, exit 2, and leaves no temporary
        # beside it (path.tmp was left behind, after a traceback).
        folder = os.path.join(tmp, "a_folder")
        os.mkdir(folder)
        run = subprocess.run([sys.executable, os.path.join(ROOT, "calibrate", "scripts", "masked_cost_fit.py"),
                              "--ringlab", BIN, "--profile", PROFILE, "--train", paths[0], "--write", folder],
                             capture_output=True, text=True)
        last = run.stderr.strip().splitlines()[-1]  # after the fit's progress lines
        assert run.returncode == 2 and "Traceback" not in run.stderr and "a_folder: cannot write" in last, run.stderr
        left = [f for f in os.listdir(tmp) if f.endswith(".tmp")]
        assert not left and os.path.isdir(folder) and not os.listdir(folder), left
    print(f"masked_cost_fit_test: ok (worst training error {100 * worst:.3f}%)")


if __name__ == "__main__":
    main()
