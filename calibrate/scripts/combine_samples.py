#!/usr/bin/env python3
"""Combine `ringlab calibrate --samples` files: NCCL samples (transfers, start waits, overlap, beside kernels) from
the first, kernel and memory samples from the second (e.g. a `--sustain-ms` run with `--skip-comm`), and the kernel
samples of any further files added to the second's (e.g. the one-GPU coverage of calibrate/device/kernel_coverage.sh;
their memory samples are not used). --more-only limits the added kernels to some attention tables, each "PASS" or
"PASS MASK" or "PASS MASK D" (e.g. "backward,forward causal 64"). Every kernel file must have the same launch geometry
(per head dim too, geometry_by_head_dim) and SM count; the output takes the kernel files' geometry.

    combine_samples.py BURST.json SUSTAINED.json [MORE_KERNELS.json ...] OUT.json [--more-only GROUPS]
"""
import argparse
import sys

import json_input


def wanted(groups):
    rules = [g.split() for g in groups.split(",") if g.strip()]
    if not rules:
        return lambda k: True
    return lambda k: any([k["pass"], k["mask"], str(k["head_dim"])][:len(r)] == r for r in rules)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="BURST.json SUSTAINED.json [MORE_KERNELS.json ...] OUT.json")
    ap.add_argument("--more-only", default="", help="add the further files' kernels only to these tables")
    a = ap.parse_args()
    if len(a.files) < 3:  # argparse's own errors are one line and exit 2: this one too
        json_input.fail("combine_samples", f"needs BURST.json SUSTAINED.json [MORE_KERNELS.json ...] OUT.json: got "
                                           f"{len(a.files)} file(s)")
    inputs, out_path = a.files[:-1], a.files[-1]
    comm, kern, *more = (json_input.read_samples(p, "combine_samples") for p in inputs)
    if not kern.get("kernels"):
        json_input.fail("combine_samples", f"{inputs[1]}: no kernel samples")
    out = dict(comm)
    out["kernels"] = list(kern["kernels"])
    # The kernel samples' launch geometry travels with them (per head dim where a head dim tiles otherwise: D=256).
    for field in ("sms", "geometry"):
        if field in kern:
            out[field] = kern[field]
    by_head_dim = dict(kern.get("geometry_by_head_dim", {}))
    keep = wanted(a.more_only)
    for path, extra in zip(inputs[2:], more):
        if extra.get("geometry") != kern.get("geometry") or extra.get("sms") != kern.get("sms"):
            json_input.fail("combine_samples", f"{path}: launch geometry or SM count differs from {inputs[1]}")
        for d, g in extra.get("geometry_by_head_dim", {}).items():
            if by_head_dim.setdefault(d, g) != g:
                json_input.fail("combine_samples",
                                f"{path}: the launch geometry of head dim {d} differs from an earlier file's")
        out["kernels"] += [k for k in extra.get("kernels", []) if keep(k)]
    if by_head_dim:
        out["geometry_by_head_dim"] = by_head_dim
    out["memory"] = kern.get("memory", comm.get("memory", []))
    what = f"NCCL samples from {inputs[0]}, kernel and memory samples from {inputs[1]}"
    if more:
        what += ", more kernel samples from " + ", ".join(inputs[2:])
        if a.more_only:
            what += f" (only for the attention tables {a.more_only})"
    out.setdefault("provenance", {})["combined"] = what
    json_input.write_json(out_path, out, "combine_samples", indent=0)  # whole: it was written in place


if __name__ == "__main__":
    main()
