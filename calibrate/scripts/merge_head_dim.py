"""Adds one head dim's attention tables to a profile from a measurement of that head dim alone, leaving every other
table and number of the profile as it was.

A head dim the kernels gained later (D=256) is measured in a call of its own (`ringlab calibrate --head-dims 256`,
PyTorch SDPA over `ringlab calibrate --coverage-shapes --head-dims 256`; calibrate/device/kernel_coverage.sh with
HEAD_DIMS=256) and merged here:

  ours: the kernel samples of `ringlab calibrate --samples` (both forward output modes: a table per mode)
    python3 calibrate/scripts/merge_head_dim.py --head-dim 256 --profile sim/profiles/h100_sxm_calibrated.json \\
        --tag "FIT ..." ours OUT/kernel_coverage_samples.json
  peer: the records of bench/peer/peer_bench.py sdpa (FlashAttention-2's launch geometry at that head dim,
    peer_sdpa_fit.py; records under 1.5x the profile's host time of one SDPA call are host-bound and left out, the
    host times themselves are kept: they were fitted over every head dim's smallest problems)
    python3 calibrate/scripts/merge_head_dim.py --head-dim 256 --profile sim/profiles/h100_pytorch_peer.json \\
        --tag "FIT ..." peer OUT/peer_sdpa_coverage.json [--log OUT/peer_sdpa.log] [--samples-out FILE]

The head dim's old tables (a re-merge) are replaced, new ones fitted by kernel_model_fit.py's CTA cost model (per pass
and forward mode, both masks), each with its measured ranges; the profile's provenance gets a "head_dim_<D>" entry
(data, date, commit, command). Before writing, the script checks that everything outside the head dim's tables is
unchanged, and it writes the profile whole or not at all.
"""
import argparse
import copy
import datetime
import os
import shlex
import subprocess
import sys

import json_input
import kernel_model_fit as kmf
import peer_sdpa_fit as psf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAD_DIMS = (64, 128, 256)


def ours_samples(path, head_dim):
    data = json_input.read_samples(path, "merge_head_dim")
    data["kernels"] = [k for k in data.get("kernels", []) if k["head_dim"] == head_dim]
    return data


def peer_samples(path, log, backend, head_dim, prof):
    """SDPA records of `head_dim` -> kernel samples, host-bound records left out by the profile's own host times."""
    records = [r for r in psf.load_records(path, log, "merge_head_dim") if r.get("D") == head_dim]
    host = tuple(kmf.value(prof["compute"].get(f"{p}_call_host_us", 0)) for p in ("forward", "backward"))
    kernels, dropped = psf.to_samples(records, backend, host)
    return {"sms": 132, "geometry": psf.FLASH_GEOMETRY, "geometry_by_head_dim": psf.FLASH_GEOMETRY_BY_HEAD_DIM,
            "kernels": kernels,
            "provenance": {"card": next((r.get("gpu") for r in records if r.get("gpu")), "unknown"),
                           "torch": next((r.get("torch") for r in records if r.get("torch")), "unknown"),
                           "tool": "bench/peer/peer_bench.py sdpa", "backend": backend,
                           "records": os.path.relpath(os.path.abspath(path), ROOT), "held_out_dropped": dropped}}


def outside(prof, head_dim):
    """The profile less its tables of `head_dim` and its provenance: what a merge must leave as it was."""
    rest = copy.deepcopy(prof)
    rest["compute"]["attention"] = [t for t in rest["compute"]["attention"] if t["head_dim"] != head_dim]
    rest.pop("provenance", None)
    return rest


def merge(prof, data, head_dim, samples_name, tag, has_prepare, log=sys.stderr):
    """Replaces prof's `head_dim` tables by the CTA cost model fitted on data's samples. Returns the tables written
    (0: nothing to fit), None on a refused sample set."""
    before = outside(prof, head_dim)
    prof["compute"]["attention"] = [t for t in prof["compute"]["attention"] if t["head_dim"] != head_dim]
    if not data["kernels"]:
        return 0
    updated = kmf.fit_into_profile(data, prof, samples_name, tag, has_prepare, log)
    if updated is None:
        return None
    if outside(prof, head_dim) != before:  # the fit touched another head dim or another number: a bug, not a result
        raise RuntimeError(f"merge_head_dim: fitting D={head_dim} changed the profile outside its tables")
    return updated


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["ours", "peer"], help="ours: ringlab calibrate samples; peer: SDPA records")
    ap.add_argument("data", help="kernel_coverage_samples.json (ours) or peer_sdpa_coverage.json (peer)")
    ap.add_argument("--head-dim", type=int, required=True, choices=HEAD_DIMS, help="the head dim to add")
    ap.add_argument("--profile", required=True, help="the profile to update in place")
    ap.add_argument("--tag", required=True, help="prefix of every fitted table's source (card, date, commit)")
    ap.add_argument("--log", default="", help="peer: the SDPA log, whose RESULT lines stand in for a missing JSON")
    ap.add_argument("--backend", default="FLASH_ATTENTION", choices=["FLASH_ATTENTION", "CUDNN_ATTENTION"])
    ap.add_argument("--samples-out", default="", help="peer: also write the kernel samples made from the records")
    a = ap.parse_args(argv)
    if not os.path.exists(a.data) and not (a.kind == "peer" and a.log and os.path.exists(a.log)):
        print(f"merge_head_dim: {a.data}: no such file", file=sys.stderr)
        return 2
    prof = json_input.read_object(a.profile, "merge_head_dim", "profile")
    if a.kind == "ours":
        data = ours_samples(a.data, a.head_dim)
    else:
        data = peer_samples(a.data, a.log, a.backend, a.head_dim, prof)
        if a.samples_out:
            json_input.write_json(a.samples_out, data, "merge_head_dim")
    if not data["kernels"]:
        print(f"merge_head_dim: no D={a.head_dim} samples in {a.data}; {a.profile} left as it was", file=sys.stderr)
        return 1
    written = merge(prof, data, a.head_dim, os.path.relpath(os.path.abspath(a.data), ROOT), a.tag,
                    a.kind == "peer", sys.stderr)
    if written is None:
        return 2
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    rel = [os.path.relpath(os.path.abspath(x), ROOT) if os.path.exists(x) else x for x in argv]
    prof.setdefault("provenance", {})[f"head_dim_{a.head_dim}"] = {
        "data": os.path.relpath(os.path.abspath(a.data), ROOT), "date": datetime.date.today().isoformat(),
        "commit": commit, "tool": "calibrate/scripts/merge_head_dim.py",
        "command": shlex.join(["merge_head_dim.py", *rel]), "samples": len(data["kernels"])}
    json_input.write_json(a.profile, prof, "merge_head_dim")
    print(f"merge_head_dim: {written} D={a.head_dim} attention tables written into {a.profile} "
          f"({len(data['kernels'])} samples); every other table unchanged", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
