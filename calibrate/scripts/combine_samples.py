#!/usr/bin/env python3
"""Combine two `ringlab calibrate --samples` files: NCCL samples (transfers, start waits, overlap, beside kernels) from
the first, kernel and memory samples from the second (e.g. a `--sustain-ms` run with `--skip-comm`).

    combine_samples.py BURST.json SUSTAINED.json OUT.json
"""
import json
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    comm, kern = (json.load(open(p)) for p in sys.argv[1:3])
    if not kern.get("kernels"):
        sys.exit(f"{sys.argv[2]}: no kernel samples")
    out = dict(comm)
    out["kernels"] = kern["kernels"]
    out["memory"] = kern.get("memory", comm.get("memory", []))
    out.setdefault("provenance", {})["combined"] = (
        f"NCCL samples from {sys.argv[1]}, kernel and memory samples from {sys.argv[2]}")
    json.dump(out, open(sys.argv[3], "w"), indent=0)


if __name__ == "__main__":
    main()
