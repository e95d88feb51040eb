#!/usr/bin/env python3
"""bench/kernels/store_mask_results.py: the newest table goes to the top level and the old one under its key, sets of
runs land under KEY.runs by shape, device temporary paths are cut to file names, and a refused request (an existing
key, a folder without results, a file that is not a result) exits 2 and leaves the file as it was."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "bench", "kernels", "store_mask_results.py")


def result(commit, ms):
    return {"gpu": "NVIDIA H100 80GB HBM3, 580.159.04", "seq": 32768, "heads": 32, "dim": 128, "commit": commit,
            "command": f"mask_peer_bench.py --json /tmp/tmp.Ab12/results/mask_kernels_h100.json --commit {commit}",
            "cases": {"window 1024": {"window": 1024}}, "ours": {"dense_causal": {"fwd_ms": ms}}}


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def main():
    d = tempfile.mkdtemp()
    into = os.path.join(d, "mask.json")
    doc = dict(result("aaaaaaa", 1.0))
    doc["command"] = "mask_peer_bench.py --json mask_kernels_h100.json --commit aaaaaaa"  # committed: already clean
    doc["older_key"] = {"what": "kept"}
    json.dump(doc, open(into, "w"))
    new = os.path.join(d, "new.json")
    json.dump(result("bbbbbbb", 2.0), open(new, "w"))
    runs = os.path.join(d, "runs")
    os.makedirs(runs)
    for shape in ("S8192_H8_D128", "S32768_H32_D64"):
        json.dump(result("bbbbbbb", 3.0), open(os.path.join(runs, f"coverage_{shape}.json"), "w"))
    open(os.path.join(runs, "bench.log"), "w").write("not a result\n")

    p = run("--into", into, "--call", "CALL", "--top", new, "--previous-as", "previous_aaaaaaa",
            "--put", f"d256_x={new}", "--runs", f"coverage_x={runs}", "--what", "W", "--time", "T")
    check(p.returncode == 0, f"store: rc {p.returncode} {p.stderr}")
    out = json.load(open(into))
    check(out["commit"] == "bbbbbbb" and out["ours"]["dense_causal"]["fwd_ms"] == 2.0, "new top level")
    check(out["call"] == "CALL", "the call is recorded")
    check(out["previous_aaaaaaa"]["commit"] == "aaaaaaa" and "ours" in out["previous_aaaaaaa"], "old top level kept")
    check("older_key" not in out["previous_aaaaaaa"] and out["older_key"] == {"what": "kept"}, "other keys stay put")
    check(sorted(out["coverage_x"]["runs"]) == ["S32768_H32_D64", "S8192_H8_D128"], "runs by shape")
    check("/tmp/" not in json.dumps(out), "temporary paths cut")
    check("--json mask_kernels_h100.json" in out["command"], "the file name stays")

    before = open(into).read()
    for args, what in (
        (["--put", f"d256_x={new}"], "an existing key"),
        (["--runs", f"empty={d}/nowhere"], "a folder without results"),
        (["--top", os.path.join(runs, "bench.log"), "--previous-as", "p2"], "a file that is not JSON"),
        (["--top", new], "--top without --previous-as"),
        (["--put", "no_equals_sign"], "KEY=PATH malformed"),
    ):
        p = run("--into", into, *args)
        check(p.returncode == 2, f"{what}: rc {p.returncode}")
        check(len(p.stderr.strip().splitlines()) == 1, f"{what}: one line, got {p.stderr!r}")
        check(open(into).read() == before, f"{what}: file unchanged")
    print("store_mask_results_test: ok")


if __name__ == "__main__":
    main()
