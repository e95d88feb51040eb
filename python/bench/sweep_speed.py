#!/usr/bin/env python3
"""Times a 1,000-point sweep through the Python package against the same sweep through the CLI.

    RINGLAB_BIN=build/apps/ringlab .venv/bin/python python/bench/sweep_speed.py [--repeats 3] [--jobs 2]

Both run the simulator's RunSweep on `jobs` threads; the CLI writes its JSON to a file (parsed by nobody), the
package returns a pandas frame. Prints the best of `repeats` for each, alternating the two, and their ratio.
"""
import argparse
import os
import pathlib
import subprocess
import tempfile
import time

import ringlab

ROOT = pathlib.Path(__file__).resolve().parents[2]
# 5 worlds x 50 sequence lengths x 2 methods x 2 passes = 1,000 points.
WORLDS = [2, 4, 8, 16, 32]
SEQS = [4096 * k for k in range(1, 51)]
GRID = {"world": WORLDS, "seq": SEQS, "method": ["allgather", "alltoall"], "pass_": ["forward", "both"],
        "heads": 32, "kv_heads": 8}
PROFILE = "h100_sxm_calibrated"


def time_cli(binary, jobs, out):
    cmd = [binary, "sweep", "-q", "--worlds", ",".join(map(str, WORLDS)), "--seqs", ",".join(map(str, SEQS)),
           "--methods", "allgather,alltoall", "--passes", "forward,both", "--heads", "32", "--kv-heads", "8",
           "--profile", PROFILE, "-j", str(jobs), "--json", out]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t


def time_python(jobs):
    t = time.perf_counter()
    df = ringlab.sweep(GRID, jobs=jobs, profile=PROFILE)
    elapsed = time.perf_counter() - t
    assert len(df) == 1000 and (df.error == "").all(), df.error.unique()
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    binary = os.environ.get("RINGLAB_BIN", str(ROOT / "build/apps/ringlab"))
    cli, py = [], []
    with tempfile.TemporaryDirectory() as td:
        for _ in range(a.repeats):
            cli.append(time_cli(binary, a.jobs, os.path.join(td, "sweep.json")))
            py.append(time_python(a.jobs))
    print(f"1,000-point sweep, {a.jobs} workers, best of {a.repeats}: CLI {min(cli):.2f} s, Python {min(py):.2f} s "
          f"(Python / CLI = {min(py) / min(cli):.2f}); all CLI runs {[round(x, 2) for x in cli]}, "
          f"all Python runs {[round(x, 2) for x in py]}")


if __name__ == "__main__":
    main()
