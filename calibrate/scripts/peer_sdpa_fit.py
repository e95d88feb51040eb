"""PyTorch SDPA records -> kernel samples -> the peer profile's attention tables.

calibrate/device/kernel_coverage.sh times single-GPU SDPA (bench/peer/peer_bench.py sdpa) over the coverage shapes:
each record is one whole problem B x H x S x S (causal or full), forward and forward+backward. Those are kernel samples
in the simulator's sense (calibrate/samples.h): forward us = fwd_ms, backward us = fwdbwd_ms - fwd_ms, a block q = kv
= S with diagonal offset 0, kv_heads = the record's Hkv (= heads unless GQA). This script writes them as a samples
file with FlashAttention-2's launch geometry (forward: grid over 128-row query tiles, 64-key steps; backward: grid over
128-key tiles, 64-row steps) and runs `ringlab fit-profile` on them with h100_pytorch_peer as the base, so the peer's
attention tables become wave models fitted by the same code as ours (calibrate/fit/kernel_fit.cc); every other number
keeps the base's value and source. Held-out shapes (bench/kernels/heldout_shapes.txt and heldout_shapes_gqa.txt) are
dropped, whatever the input holds.

Small problems time PyTorch's host, not the kernel: an eager SDPA call spends tens of microseconds in Python and
dispatch (the backward, through autograd, more) whatever the kernel takes. Records under 1.5x the fastest record of
their pass, or under 3x the typical host time of their pass (KERNEL_BOUND), are left out of the kernel fit (they say
little about the kernel). The host time of one call is the
median over the host-bound problems (forward under 1.5x the fastest forward) of each pass: it becomes the profile's
compute.forward_call_host_us / backward_call_host_us (every attend op takes at least that long). The median, not
the fastest record: the host's time per call scatters (130-196 us backward at the smallest problems), and the fastest
of many is below a typical call.

  python3 calibrate/scripts/peer_sdpa_fit.py OUT/peer_sdpa_coverage.json [--log OUT/peer_sdpa.log] \
      --backend FLASH_ATTENTION --samples peer_samples.json [--profile sim/profiles/h100_pytorch_peer.json] \
      [--more OTHER_CALL/peer_sdpa_coverage.json ...]

Without --profile only the samples file is written. Records may come from the JSON file or, when the run was cut
short (the JSON is written whole or not at all), from the RESULT lines of its log.
"""
import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

import json_input
from heldout_shapes import held_out

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# FlashAttention-2 on sm90 through PyTorch (flash_fwd_kernel / flash_bwd_kernel), head dim 128. At D=64 it takes
# 128 x 128 tiles in both passes on an H100 (the D=64 tables of the 2026-12-06 peer profile were fitted on these).
# The forward takes query tile blockIdx.x in order: a causal head's lightest CTAs first ("order", sim/wave_model.h).
# With GQA the backward computes dK/dV per query head into expanded buffers and sums them over the group afterwards
# (flash_api.cpp mha_bwd: dk_expanded): a CTA per query head and key block ("expand_group").
FLASH_GEOMETRY = {"forward": {"grid": "q", "tile_q": 128, "tile_kv": 64, "ctas_per_sm": 0, "order": "light_first"},
                  "backward": {"grid": "kv", "tile_q": 64, "tile_kv": 128, "ctas_per_sm": 0, "expand_group": True}}
# Head dim 256 (run_mha_fwd_hdim256 / run_mha_bwd_hdim256 of PyTorch's flash_attn): on an H100 (228 KB of shared
# memory per SM) the forward takes 64-row query tiles and 64-key steps, two CTAs per SM (4 warps; the 128 x 64 tile
# with 8 warps is A100's choice); the backward 64-key CTAs over 64-row query steps (8 warps).
FLASH_GEOMETRY_BY_HEAD_DIM = {
    "256": {"forward": {"grid": "q", "tile_q": 64, "tile_kv": 64, "ctas_per_sm": 0, "order": "light_first"},
            "backward": {"grid": "kv", "tile_q": 64, "tile_kv": 64, "ctas_per_sm": 0, "expand_group": True}}}


def is_sdpa(r, backend=None):
    """Whether record `r` is a single-GPU SDPA timing (of `backend`, when given) that did not fail."""
    return r.get("kind") == "single_gpu_sdpa" and "error" not in r and (backend is None or r.get("backend") == backend)


def check_records(records, where, tool="peer_sdpa_fit"):
    """One line naming the record and field, exit 2, for a record that is not an object or an SDPA record with a field
    missing or of the wrong kind (a string or negative time ended in a traceback, or in a wrong fit)."""
    json_input.check_entries(tool, where, "records", records, json_input.SDPA_RECORD_REQUIRED,
                             json_input.SDPA_RECORD_OPTIONAL, applies=is_sdpa)
    return records


def load_records(path, log, tool="peer_sdpa_fit"):
    """The records of `path`, else the RESULT lines of `log`. When neither is there, or `path` is not a JSON list of
    records: one line on stderr, exit 2, starting with `tool` (the script the user ran: merge_head_dim.py reads its
    records here too)."""
    if path and os.path.exists(path):
        records = json_input.read_json(path, tool, "peer_bench.py records")
        if not isinstance(records, list):
            json_input.fail(tool, f"{path}: expected a JSON list of peer_bench.py records")
        return check_records(records, path, tool)
    if not log or not os.path.exists(log):
        json_input.fail(tool, f"no records: {path or '(none)'} does not exist"
                              + (f" and neither does the log {log}" if log else ""))
    rows = []
    try:
        with open(log, errors="replace") as f:
            for number, line in enumerate(f, 1):
                if line.startswith("RESULT "):
                    try:
                        rows.append(json.loads(line[len("RESULT "):]))
                    except ValueError as e:
                        json_input.fail(tool, f"{log}:{number}: RESULT line is not JSON ({e})")
    except OSError as e:  # a folder
        json_input.fail(tool, f"{log}: cannot read the log ({e.strerror or e})")
    return check_records(rows, log, tool)


def pairs(s, causal):
    # Effective pairs as the simulator counts them (core AttendBlock::EffectivePairs): the diagonal counts half.
    return s * (s + 1) / 2 - s / 2 if causal else float(s) * s


HOST_BOUND = 1.5  # a record whose forward is under this multiple of the fastest forward is host-bound
# A record is in the kernel fit only from this multiple of its pass's typical host time per call on: below it the
# time is max(host, kernel) with a host that scatters by +-40% from call to call (115-250 us per backward in the
# 2026-12-06 sustained coverage), which the kernel model cannot follow; the simulator floors every attend op at the
# host time instead (compute.*_call_host_us). 3x, not 2x: the forward host of that call (typical 22 us) took 48-63 us
# on several small problems (B=1 H=8 S=512-2048 D=128: the same time at 4x the work), which at 2x entered the fit as
# kernel time (in-fit |error| up to 53%) and drew the model 4-9% fast on mid-size held-out shapes
# (bench/results/kernel_model_heldout.md, "The peer refit of 2026-12-07").
KERNEL_BOUND = 3.0


def host_floors(records, backend):
    """(forward, backward) host time of one SDPA call in us: the fastest record of each pass."""
    fwd, bwd = [], []
    for r in records:
        if not is_sdpa(r, backend):
            continue
        fwd.append(r["fwd_ms"] * 1e3)
        if r["fwdbwd_ms"] > r["fwd_ms"]:
            bwd.append((r["fwdbwd_ms"] - r["fwd_ms"]) * 1e3)
    return (min(fwd) if fwd else 0.0), (min(bwd) if bwd else 0.0)


def typical_host(records, backend, floors):
    """(forward, backward) host time of one SDPA call in us: medians over the records whose forward is host-bound."""
    fwd, bwd = [], []
    for r in records:
        if not is_sdpa(r, backend):
            continue
        if r["fwd_ms"] * 1e3 < HOST_BOUND * floors[0] and r["fwdbwd_ms"] > r["fwd_ms"]:
            fwd.append(r["fwd_ms"] * 1e3)
            bwd.append((r["fwdbwd_ms"] - r["fwd_ms"]) * 1e3)
    return (statistics.median(fwd), statistics.median(bwd), len(fwd)) if fwd else (floors[0], floors[1], 0)


def to_samples(records, backend, floors=(0.0, 0.0), host=(0.0, 0.0)):
    """Kernel samples of the records: a pass's time from max(HOST_BOUND x floors, KERNEL_BOUND x host) on (us)."""
    cut = [max(HOST_BOUND * f, KERNEL_BOUND * h) for f, h in zip(floors, host)]
    skip = held_out()
    kernels, dropped = [], 0
    for r in records:
        if not is_sdpa(r, backend):
            continue
        kv = r.get("Hkv", r["H"])  # grouped-query attention where Hkv < H (peer_bench.py sdpa with an Hkv column)
        key = (r["B"], r["H"], r["S"], r["D"], bool(r["causal"]), kv)
        if key in skip:
            dropped += 1
            continue
        mask = "causal" if r["causal"] else "full"
        base = {"mask": mask, "head_dim": r["D"], "batch": r["B"], "heads": r["H"], "kv_heads": kv, "q": r["S"],
                "kv": r["S"], "diagonal_offset": 0, "pairs": pairs(r["S"], r["causal"])}
        if r["fwd_ms"] * 1e3 >= cut[0]:
            # SDPA writes its output afresh (PyTorch's ring merges in separate ops: every peer block overwrites).
            kernels.append(dict(base, **{"pass": "forward", "mode": "overwrite", "us": r["fwd_ms"] * 1e3}))
        bwd_ms = r["fwdbwd_ms"] - r["fwd_ms"]
        if bwd_ms > 0 and bwd_ms * 1e3 >= cut[1]:
            kernels.append(dict(base, **{"pass": "backward", "us": bwd_ms * 1e3}))
    return kernels, dropped


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records", help="peer_bench.py sdpa --json output")
    ap.add_argument("--log", default="", help="its log: RESULT lines are used when the JSON is missing")
    ap.add_argument("--backend", default="FLASH_ATTENTION", choices=["FLASH_ATTENTION", "CUDNN_ATTENTION"])
    ap.add_argument("--samples", required=True, help="write the kernel samples here")
    ap.add_argument("--profile", default="", help="also fit: write the profile here")
    ap.add_argument("--base", default="h100_pytorch_peer")
    ap.add_argument("--tag", default="", help="prefix of every fitted number's source (card, date, commit)")
    ap.add_argument("--more", action="append", default=[],
                    help="records of another call (repeatable): their kernel samples are added, each call cut at its "
                         "own host times (a host's time per call differs from machine to machine); the profile's "
                         "host times stay the first records'")
    a = ap.parse_args(argv)
    records = load_records(a.records, a.log)
    floors = host_floors(records, a.backend)
    host_f, host_b, n_host = typical_host(records, a.backend, floors)
    kernels, dropped = to_samples(records, a.backend, floors, (host_f, host_b))
    for path in a.more:
        more = load_records(path, "")
        more_floors = host_floors(more, a.backend)
        more_host = typical_host(more, a.backend, more_floors)[:2]
        more_kernels, more_dropped = to_samples(more, a.backend, more_floors, more_host)
        kernels += more_kernels
        dropped += more_dropped
    if not kernels:
        print(f"peer_sdpa_fit: no {a.backend} records in {a.records}", file=sys.stderr)
        return 1
    card = next((r.get("gpu") for r in records if r.get("gpu")), "unknown")
    torch = next((r.get("torch") for r in records if r.get("torch")), "unknown")
    samples = {"sms": 132, "geometry": FLASH_GEOMETRY, "geometry_by_head_dim": FLASH_GEOMETRY_BY_HEAD_DIM,
               "kernels": kernels,
               "provenance": {"card": card, "torch": torch, "tool": "bench/peer/peer_bench.py sdpa",
                              "backend": a.backend, "records": ", ".join(os.path.relpath(os.path.abspath(x), ROOT)
                                                                for x in [a.records, *a.more]),
                              "held_out_dropped": dropped}}
    json_input.write_json(a.samples, samples, "peer_sdpa_fit")
    print(f"peer_sdpa_fit: {len(kernels)} kernel samples ({a.backend}, {dropped} held-out records dropped; host "
          f"floors {floors[0]:.1f} us forward, {floors[1]:.1f} us backward; typical host {host_f:.1f} / "
          f"{host_b:.1f} us) -> {a.samples}")
    if a.profile:
        binary = os.environ.get("RINGLAB_BIN", os.path.join(ROOT, "build/apps/ringlab"))
        tag = a.tag or f"FIT from PyTorch SDPA {a.backend} single-GPU coverage ({card}, torch {torch})"
        # fit-profile writes beside the profile, and the profile is replaced only once the host times and the
        # provenance are in it: a failure on the way leaves the old profile (or none), not a half-made one.
        try:
            fd, fitted = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(a.profile)), suffix=".fit.json")
        except OSError as e:
            json_input.fail("peer_sdpa_fit", f"{a.profile}: cannot write ({e.strerror or e})")
        os.close(fd)
        try:
            rc = subprocess.run([binary, "fit-profile", "--samples", a.samples, "--base", a.base, "--out", fitted,
                                 "--tag", tag]).returncode
            if rc == 0:
                try:
                    with open(fitted) as f:
                        prof = json.load(f)
                    write_profile(a, prof, samples, argv, card, torch, tag, (host_f, host_b, n_host), floors)
                except (ValueError, KeyError, TypeError, AttributeError) as e:
                    json_input.fail("peer_sdpa_fit", f"{a.profile}: not written: the profile `{binary} fit-profile` "
                                                     f"wrote is not one to complete ({type(e).__name__}: {e})")
        finally:
            os.unlink(fitted)
        return rc
    return 0


def write_profile(a, prof, samples, argv, card, torch, tag, host, floors):
    """The fitted profile `prof` with the host times of one SDPA call and the provenance, written whole to
    a.profile."""
    host_f, host_b, n_host = host
    # Provenance as calibrate.py writes it: card, date, commit, the command (paths relative to the root).
    for pass_, us, fastest in zip(("forward", "backward"), (host_f, host_b), floors):
        prof["compute"][f"{pass_}_call_host_us"] = {
            "value": round(us, 1),
            "source": f"{tag}: the median {pass_} time of the {n_host} host-bound records (forward under "
                      f"{HOST_BOUND}x the fastest; one eager SDPA call's host time, autograd included for the "
                      f"backward); records under {HOST_BOUND}x the fastest of their pass ({fastest:.1f} us) "
                      f"or {KERNEL_BOUND}x this are not in the kernel fit"}
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    rel = [os.path.relpath(os.path.abspath(x), ROOT) if os.path.exists(x) else x for x in argv]
    prof.setdefault("provenance", {}).update({
        "card": card, "torch": torch, "date": datetime.date.today().isoformat(), "commit": commit,
        "tool": "calibrate/scripts/peer_sdpa_fit.py", "attention_from": samples["provenance"]["records"],
        "command": shlex.join(["peer_sdpa_fit.py", *rel])})
    json_input.write_json(a.profile, prof, "peer_sdpa_fit")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
