"""calibrate/scripts/merge_head_dim.py on synthetic D=256 measurements drawn from a known CTA cost model: the merge
must recover the model's parameters and occupancy, write D=256 tables with the kernels' own tile geometry (ours: the ws
kernels of kernels/cuda/attention_tiles.h; peer: FlashAttention-2 at D=256 on an H100), leave every D=64/128 table
and every other number of the bundled profiles as it was, and (with RINGLAB_BIN) make `ringlab sim -d 256` read the
new tables instead of extrapolating.

  .venv/bin/python tests/calibrate/merge_head_dim_test.py        # ctest: calibrate.merge_head_dim
"""
import contextlib
import copy
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "calibrate", "scripts"))

import cta_model as cm  # noqa: E402
import kernel_model_fit as kmf  # noqa: E402
import merge_head_dim as mhd  # noqa: E402
import peer_sdpa_fit as psf  # noqa: E402
from heldout_shapes import held_out  # noqa: E402


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)

D = 256
SMS = 132
# Our ws kernels at D=256 (attention_tiles.h ForwardWs::BlockN<256>, BackwardWs::BlockN<256>), as `ringlab calibrate`
# writes them into the samples.
OURS_GEOMETRY = {"forward": {"grid": "q", "tile_q": 128, "tile_kv": 64, "ctas_per_sm": 0},
                 "backward": {"grid": "kv", "tile_q": 64, "tile_kv": 64, "ctas_per_sm": 0}}
# The truth per (pass, mode): (CTAs per SM, partial-round throughput, kernel_us, cta_us, tile_us, masked_tile_us).
OURS_TRUTH = {("forward", "merge"): (1, 1.0, [4.0, 9.0, 3.2, 0.4]),
              ("forward", "overwrite"): (1, 1.0, [3.0, 6.0, 3.1, 0.3]),
              ("backward", ""): (1, 1.0, [5.0, 12.0, 5.5, 0.8])}
PEER_TRUTH = {("forward", "overwrite"): (2, 0.8, [6.0, 4.0, 2.2, 0.5]),
              ("backward", ""): (1, 1.0, [9.0, 15.0, 4.8, 1.1])}


def shapes():
    """The D=256 coverage grid of `ringlab calibrate --coverage-shapes --head-dims 256` (calibration_plan.cc)."""
    out = []
    for mask in ("causal", "full"):
        for b, h in ((1, 8), (2, 16), (4, 32), (16, 64)):
            s = 512
            while s <= 16384 and b * h * s * s <= 2 ** 33 and (b * h * s * D * 24 <= 8 << 30):
                out.append((b, h, s, mask))
                s *= 2
    return out


def sample(pass_, mode, b, h, s, mask, us):
    k = {"pass": pass_, "mask": mask, "head_dim": D, "batch": b, "heads": h, "kv_heads": h, "q": s, "kv": s,
         "diagonal_offset": 0, "pairs": psf.pairs(s, mask == "causal"), "us": us}
    if mode:
        k["mode"] = mode
    return k


def model_us(geom, k, truth):
    slots, theta, params = truth
    return float(cm.clocked(*cm.features(geom, k, SMS, slots, theta)(params), params)[0])


def prepare_us(prof, b, h, s):
    rows = b * h * s
    return kmf.value(prof["compute"]["launch_us"]) + (rows * D * 2 + rows * 4 * D + rows * 4) / (
        kmf.value(prof["memory"]["copy_gbps"]) * 1e3)


def ours_samples(prof):
    launch = kmf.value(prof["compute"]["launch_us"])
    kernels = []
    for (pass_, mode), truth in OURS_TRUTH.items():
        for b, h, s, mask in shapes():
            k = sample(pass_, mode, b, h, s, mask, 0)
            k["us"] = model_us(OURS_GEOMETRY[pass_], k, truth) + launch
            kernels.append(k)
    # A D=128 sample too: a D=256 merge must ignore it.
    kernels.append(dict(kernels[0], head_dim=128, us=1e6))
    return {"sms": SMS, "geometry": {"forward": dict(OURS_GEOMETRY["forward"], tile_kv=128),
                                     "backward": dict(OURS_GEOMETRY["backward"], tile_kv=128)},
            "geometry_by_head_dim": {str(D): OURS_GEOMETRY}, "kernels": kernels, "provenance": {"card": "synthetic"}}


def peer_records(prof):
    geom = psf.FLASH_GEOMETRY_BY_HEAD_DIM[str(D)]
    launch = kmf.value(prof["compute"]["launch_us"])
    records = []
    for b, h, s, mask in shapes():
        k = sample("forward", "overwrite", b, h, s, mask, 0)
        fwd = model_us(geom["forward"], k, PEER_TRUTH[("forward", "overwrite")]) + launch
        bwd = model_us(geom["backward"], dict(k, **{"pass": "backward"}), PEER_TRUTH[("backward", "")]) + launch + \
            prepare_us(prof, b, h, s)
        records.append({"kind": "single_gpu_sdpa", "backend": "FLASH_ATTENTION", "B": b, "H": h, "S": s, "D": D,
                        "causal": mask == "causal", "fwd_ms": fwd / 1e3, "fwdbwd_ms": (fwd + bwd) / 1e3,
                        "gpu": "synthetic", "torch": "none"})
    # A record of another head dim and one of another backend: neither may be used.
    records.append(dict(records[-1], D=128, fwd_ms=99.0, fwdbwd_ms=300.0))
    records.append(dict(records[-1], D=D, backend="CUDNN_ATTENTION", fwd_ms=99.0, fwdbwd_ms=300.0))
    return records


class MergeHeadDim(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="merge_head_dim_")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def bundled(self, name):
        path = os.path.join(self.dir, name + ".json")
        shutil.copy(os.path.join(ROOT, "sim", "profiles", name + ".json"), path)
        return path, read_json(path)

    def run_merge(self, args):
        err = io.StringIO()
        real = sys.stderr
        sys.stderr = err
        try:
            rc = mhd.main(args)
        finally:
            sys.stderr = real
        return rc, err.getvalue()

    def check_unchanged_outside(self, before, after):
        self.assertEqual(mhd.outside(before, D), mhd.outside(after, D))
        old = [t for t in before["compute"]["attention"] if t["head_dim"] != D]
        self.assertEqual(old, [t for t in after["compute"]["attention"] if t["head_dim"] != D])
        self.assertEqual({k: v for k, v in before["provenance"].items() if k != f"head_dim_{D}"},
                         {k: v for k, v in after["provenance"].items() if k != f"head_dim_{D}"})

    def check_recovered(self, table, truth, geom):
        slots, theta, params = truth
        w = table["wave"]
        self.assertEqual((w["grid"], w["tile_q"], w["tile_kv"]), (geom["grid"], geom["tile_q"], geom["tile_kv"]))
        self.assertEqual(w.get("order", "heavy_first"), geom.get("order", "heavy_first"))
        self.assertEqual((w["ctas_per_sm"], w["single_resident_throughput"]), (slots, theta), table["source"])
        for name, want in zip(cm.PARAMS, params):
            self.assertAlmostEqual(w["cost"][name], want, delta=0.01 * want + 2e-3, msg=f"{name}: {table['source']}")
        self.assertIn("median 0.0%", table["source"])
        self.assertEqual(table["measured"]["batch_heads"], [8.0, 1024.0])

    def test_ours_recovers_the_model_and_keeps_the_rest(self):
        path, before = self.bundled("h100_sxm_calibrated")
        samples = os.path.join(self.dir, "kernel_coverage_samples.json")
        write_json(samples, ours_samples(before))
        rc, err = self.run_merge(["--head-dim", str(D), "--profile", path, "--tag", "TEST", "ours", samples])
        self.assertEqual(rc, 0, err)
        after = read_json(path)
        self.check_unchanged_outside(before, after)
        new = [t for t in after["compute"]["attention"] if t["head_dim"] == D]
        keys = sorted((t["pass"], t["mask"], t.get("mode", "")) for t in new)
        self.assertEqual(keys, [("backward", "causal", ""), ("backward", "full", ""), ("forward", "causal", "merge"),
                                ("forward", "causal", "overwrite"), ("forward", "full", "merge"),
                                ("forward", "full", "overwrite")])
        for t in new:
            self.check_recovered(t, OURS_TRUTH[(t["pass"], t.get("mode", ""))], OURS_GEOMETRY[t["pass"]])
        self.assertEqual(after["provenance"][f"head_dim_{D}"]["tool"], "calibrate/scripts/merge_head_dim.py")
        # A second merge replaces the D=256 tables (no duplicates) and still leaves the rest.
        rc, err = self.run_merge(["--head-dim", str(D), "--profile", path, "--tag", "TEST2", "ours", samples])
        self.assertEqual(rc, 0, err)
        again = read_json(path)
        self.assertEqual(len(again["compute"]["attention"]), len(after["compute"]["attention"]))
        self.check_unchanged_outside(before, again)
        self.assertTrue(all(t["source"].startswith("TEST2") for t in again["compute"]["attention"]
                            if t["head_dim"] == D))
        self.sim_reads_the_tables(path)

    def test_peer_recovers_flash_geometry_and_keeps_host_times(self):
        path, before = self.bundled("h100_pytorch_peer")
        records = os.path.join(self.dir, "peer_sdpa_coverage.json")
        write_json(records, peer_records(before))
        samples_out = os.path.join(self.dir, "peer_samples_d256.json")
        rc, err = self.run_merge(["--head-dim", str(D), "--profile", path, "--tag", "TEST", "peer", records,
                                  "--samples-out", samples_out])
        self.assertEqual(rc, 0, err)
        after = read_json(path)
        self.check_unchanged_outside(before, after)  # forward_call_host_us / backward_call_host_us included
        new = [t for t in after["compute"]["attention"] if t["head_dim"] == D]
        self.assertEqual(sorted((t["pass"], t["mask"], t.get("mode", "")) for t in new),
                         [("backward", "causal", ""), ("backward", "full", ""), ("forward", "causal", ""),
                          ("forward", "full", "")])  # one SDPA output mode: tables without a mode serve both
        geom = psf.FLASH_GEOMETRY_BY_HEAD_DIM[str(D)]
        for t in new:
            key = (t["pass"], "overwrite" if t["pass"] == "forward" else "")
            self.check_recovered(t, PEER_TRUTH[key], geom[t["pass"]])
        written = read_json(samples_out)
        self.assertTrue(all(k["head_dim"] == D for k in written["kernels"]))
        self.assertEqual(written["geometry_by_head_dim"], psf.FLASH_GEOMETRY_BY_HEAD_DIM)
        self.sim_reads_the_tables(path)

    def test_no_samples_of_the_head_dim_leave_the_profile_alone(self):
        path, before = self.bundled("h100_sxm_calibrated")
        data = ours_samples(before)
        data["kernels"] = [k for k in data["kernels"] if k["head_dim"] != D]
        samples = os.path.join(self.dir, "d128_only.json")
        write_json(samples, data)
        rc, err = self.run_merge(["--head-dim", str(D), "--profile", path, "--tag", "TEST", "ours", samples])
        self.assertEqual(rc, 1)
        self.assertIn("no D=256 samples", err)
        self.assertEqual(read_json(path), before)

    def test_kernel_model_fit_replaces_the_profile_whole(self):
        # kernel_model_fit.py rewrote the profile in place: a failure part way left a truncated profile. Now a new file
        # is renamed over it (its inode changes) and no temporary is left beside it.
        path, before = self.bundled("h100_sxm_calibrated")
        data = ours_samples(before)
        data["kernels"] = [k for k in data["kernels"] if k["head_dim"] == D]
        samples = os.path.join(self.dir, "d256_samples.json")
        write_json(samples, data)
        inode = os.stat(path).st_ino
        p = subprocess.run([sys.executable, os.path.join(ROOT, "calibrate", "scripts", "kernel_model_fit.py"),
                            samples, "--profile", path, "--tag", "TEST"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotEqual(os.stat(path).st_ino, inode, "the profile was written in place")
        self.assertEqual(sorted(os.listdir(self.dir)), ["d256_samples.json", "h100_sxm_calibrated.json"])
        after = read_json(path)
        self.assertTrue(any(t["head_dim"] == D and t["source"].startswith("TEST")
                            for t in after["compute"]["attention"]))
        self.assertEqual(after["provenance"]["kernel_model"]["tool"], "calibrate/scripts/kernel_model_fit.py")

    def test_merge_refuses_a_fit_that_touches_another_head_dim(self):
        _, prof = self.bundled("h100_sxm_calibrated")
        data = ours_samples(prof)
        broken = copy.deepcopy(data)
        for k in broken["kernels"]:
            k["head_dim"] = 128  # claims D=256 but fits D=128: the check must catch the change
        skip = held_out()
        broken["kernels"] = [k for k in broken["kernels"]
                             if (k["batch"], k["heads"], k["q"], 128, k["mask"] == "causal", k["kv_heads"]) not in skip]
        with self.assertRaises(RuntimeError):
            mhd.merge(prof, broken, D, "x", "TEST", False, io.StringIO())

    def sim_reads_the_tables(self, profile):
        """`ringlab sim -d 256` with the merged profile: no op extrapolated along the head dim."""
        binary = os.environ.get("RINGLAB_BIN")
        if not binary:
            return
        for d, extrapolated in ((D, False), (192, True)):
            out = subprocess.run([binary, "sim", "-w", "4", "-s", "32768", "--heads", "16", "--kv-heads", "16",
                                  "-d", str(d), "--pass", "both", "--profile", profile, "--json", "-", "-q"],
                                 capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            for run in json.loads(out.stdout)["runs"]:
                by_dim = run["extrapolation"]["by_dimension"]
                self.assertEqual("head_dim" in by_dim, extrapolated, f"D={d}: {run['extrapolation']}")


class HeldOutAndGqaRecords(unittest.TestCase):
    """The peer's records carry Hkv (bench/peer/peer_bench.py sdpa with an Hkv column): a GQA record becomes a sample
    with its kv heads, and the GQA held-out shapes (bench/kernels/heldout_shapes_gqa.txt) never reach a fit."""

    def record(self, b, h, s, d, causal, kv=None):
        r = {"kind": "single_gpu_sdpa", "backend": "FLASH_ATTENTION", "B": b, "H": h, "S": s, "D": d,
             "causal": causal, "fwd_ms": 5.0, "fwdbwd_ms": 17.0}
        if kv is not None:
            r["Hkv"] = kv
        return r

    def test_both_held_out_files_are_read(self):
        skip = held_out()
        self.assertIn((8, 32, 2048, 128, True, 32), skip)  # heldout_shapes.txt
        self.assertIn((1, 8, 4096, 128, True, 1), skip)    # heldout_shapes_gqa.txt
        self.assertIn((1, 8, 4096, 128, True, 8), skip)    # its MHA twin is held out too (heldout_shapes.txt)
        self.assertNotIn((2, 16, 8192, 64, True, 16), skip)

    def test_gqa_records_keep_their_kv_heads_and_held_out_ones_are_dropped(self):
        records = [self.record(4, 32, 2048, 128, True, 8), self.record(1, 64, 32768, 128, True, 8),
                   self.record(2, 16, 1024, 64, False)]
        kernels, dropped = psf.to_samples(records, "FLASH_ATTENTION")
        self.assertEqual(dropped, 1)  # B=1 H=64 Hkv=8 S=32768 causal is a GQA held-out shape
        self.assertEqual(sorted({(k["heads"], k["kv_heads"]) for k in kernels}), [(16, 16), (32, 8)])

    def test_more_calls_are_cut_at_their_own_host_time(self):
        """peer_sdpa_fit.py --more: another call's records join the samples, each call's small problems left out
        from 3x its own typical host time per call (hosts differ by machine); the profile's host times stay the first
        call's."""
        def rec(b, s, fwd_us):
            return {"kind": "single_gpu_sdpa", "backend": "FLASH_ATTENTION", "B": b, "H": 3, "S": s, "D": 64,
                    "causal": False, "fwd_ms": fwd_us / 1e3, "fwdbwd_ms": 3 * fwd_us / 1e3 + 0.5}
        fast_host = [rec(1, 128, 15.0), rec(1, 256, 16.0), rec(1, 384, 17.0), rec(3, 640, 60.0), rec(3, 6400, 900.0)]
        slow_host = [rec(1, 128, 30.0), rec(1, 256, 31.0), rec(1, 384, 32.0), rec(5, 640, 60.0), rec(5, 6400, 950.0)]
        with tempfile.TemporaryDirectory() as tmp:
            first, more, samples = (os.path.join(tmp, n) for n in ("a.json", "b.json", "samples.json"))
            write_json(first, fast_host)
            write_json(more, slow_host)
            with contextlib.redirect_stdout(io.StringIO()):
                rc = psf.main([first, "--more", more, "--samples", samples])
            self.assertEqual(rc, 0)
            forward = sorted((k["batch"], k["q"]) for k in read_json(samples)["kernels"] if k["pass"] == "forward")
            # 60 us is over 3x the first call's 16 us host but under 3x the second's 31 us
            self.assertEqual(forward, [(3, 640), (3, 6400), (5, 6400)])
            self.assertIn("b.json", read_json(samples)["provenance"]["records"])

    def test_fit_profile_reads_the_peer_samples(self):
        """The samples file the peer fit writes (FlashAttention-2's geometry, expand_group included) goes through
        `ringlab fit-profile` (peer_sdpa_fit.py --profile, reproduce_results.sh step 4): the committed sustained coverage."""
        binary = os.environ.get("RINGLAB_BIN")
        if not binary:
            self.skipTest("RINGLAB_BIN not set (ctest sets it)")
        import tarfile
        with tempfile.TemporaryDirectory() as tmp:
            with tarfile.open(os.path.join(ROOT, "bench/results/grids/kernel_coverage_h100_sustained.tar.xz")) as tar:
                tar.extractall(tmp, members=[tar.getmember("kernel_coverage_h100_sustained/peer_sdpa_coverage.json")])
            records = os.path.join(tmp, "kernel_coverage_h100_sustained", "peer_sdpa_coverage.json")
            samples, profile = os.path.join(tmp, "samples.json"), os.path.join(tmp, "peer.json")
            with contextlib.redirect_stdout(io.StringIO()):
                rc = psf.main([records, "--backend", "FLASH_ATTENTION", "--samples", samples, "--profile", profile,
                               "--tag", "TEST"])
            self.assertEqual(rc, 0)
            backward = [t for t in json.load(open(profile))["compute"]["attention"] if t["pass"] == "backward"]
            self.assertTrue(backward)


if __name__ == "__main__":
    unittest.main()
