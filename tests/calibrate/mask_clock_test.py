"""The masked-kernel harness's baseline (issue 19's floor divides by our dense kernel):
- bench/kernels/mask_clock_summary.py on the committed clock check (bench/results/mask_kernels_h100.json,
  `clock_check_2026_12_07`) gives the figures mask_kernels_h100.md quotes;
- bench/kernels/mask_peer_bench.py's table divides a case by the dense kernel timed right before it when the run had
  --dense-each, by the run's one dense timing otherwise.

  .venv/bin/python tests/calibrate/mask_clock_test.py
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNELS = os.path.join(ROOT, "bench", "kernels")


def summary_rows(folder):
    run = subprocess.run([sys.executable, os.path.join(KERNELS, "mask_clock_summary.py"), folder],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    rows = {}
    for line in run.stdout.splitlines()[1:]:
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 4 and cells[0].isdigit():
            rows[(int(cells[0]), cells[1], cells[2])] = cells[3:]
    return rows, run.stdout


def check_committed_clock_check():
    results = json.load(open(os.path.join(ROOT, "bench", "results", "mask_kernels_h100.json")))
    runs = results["clock_check_2026_12_07"]["runs"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, r in runs.items():
            json.dump(r, open(os.path.join(tmp, name + ".json"), "w"))
        rows, text = summary_rows(tmp)
    # columns: burst 1, burst 2, sustained 1, sustained 2 (each "vs before / after / next to it")
    pair = lambda cell: tuple(cell.split(" / ")[:2])
    assert pair(rows[(128, "(dense after / before, ms)", "fwd")][0]) == ("1.08", "1.08"), text
    assert pair(rows[(256, "(dense after / before, ms)", "fwd")][1]) == ("1.16", "1.16"), text
    assert pair(rows[(256, "window 4096", "fwd")][0]) == ("0.83", "0.91"), text
    assert pair(rows[(256, "window 4096", "fwd")][1]) == ("0.85", "0.98"), text
    assert pair(rows[(128, "window 4096", "fwd")][2]) == ("0.86", "0.90"), text
    assert pair(rows[(128, "docs long+short", "fwd")][0]) == ("0.94", "1.01"), text


def check_dense_each_table():
    spec = importlib.util.spec_from_file_location("mask_peer_bench", os.path.join(KERNELS, "mask_peer_bench.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    seq, heads, dim = 4096, 8, 64
    dense_pairs = seq * seq / 2
    result = {"gpu": "test", "torch": "none", "seq": seq, "heads": heads, "dim": dim, "date": "", "commit": "",
              "command": "", "cases": [{"name": "half", "docs": [0, seq], "window": -1,
                                        "visible_pairs": dense_pairs / 2, "peers": {}}],
              "ours": {"dense_causal": {"fwd_ms": 1.0, "fwdbwd_ms": 4.0},
                       "cases": {"half": {"fwd_ms": 0.5, "fwdbwd_ms": 2.5}}}}
    ratio = lambda md: [line.split("|")[6].strip() for line in md.splitlines() if line.startswith("| half")]
    assert ratio(bench.markdown(result)) == ["1.00", "0.80"], bench.markdown(result)
    # The dense kernel timed next to the case ran 20% slower (a lower clock): the ratios divide by that one.
    result["ours"]["cases"]["half"].update(dense_fwd_ms=1.2, dense_fwdbwd_ms=4.8)
    md = bench.markdown(result)
    assert ratio(md) == ["1.20", "0.96"], md
    assert "timed right before each case" in md, md


def main():
    check_committed_clock_check()
    check_dense_each_table()
    print("mask_clock_test: ok")


if __name__ == "__main__":
    main()
