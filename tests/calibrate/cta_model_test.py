"""calibrate/scripts/cta_model.py's clock terms (the load clock: a launch that keeps more of the slots busy runs
slower; the power cap: the busy time past capped_after_us runs capped_slowdown slower): its predictions are the
simulator's (the numbers tests/sim/cta_cost_test.cc PowerCapAgreesWithThePythonTwin and
LoadClockAgreesWithThePythonTwin assert for sim/wave_model.cc), and kernel_model_fit.fit_group recovers either term
from synthetic samples drawn with it, and adds neither to samples drawn without.

  .venv/bin/python tests/calibrate/cta_model_test.py        # ctest: calibrate.cta_model
"""
import io
import os
import sys
import unittest

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "calibrate", "scripts"))

import cta_model as cm  # noqa: E402
import kernel_model_fit as kmf  # noqa: E402

FORWARD = {"grid": "q", "tile_q": 128, "tile_kv": 128}
BACKWARD = {"grid": "kv", "tile_q": 64, "tile_kv": 128}


def block(b, h, hkv, s, mask="causal"):
    return {"batch": b, "heads": h, "kv_heads": hkv, "q": s, "kv": s, "mask": mask, "diagonal_offset": 0}


def clocked(geom, shape, p, load=cm.NONE, cap=cm.NONE, k=1, theta=1.0):
    return float(cm.clocked(*cm.features(geom, shape, 132, k, theta)(p), p, load, cap)[0])


class ClockTerms(unittest.TestCase):
    def test_predictions_are_the_simulators(self):
        p = np.array([3.0, 4.0, 1.5, 0.7])
        for geom, shape, load, cap, want in [
                (FORWARD, block(1, 8, 8, 4096), cm.NONE, (50, 0.1), 94.14),
                (FORWARD, block(16, 64, 64, 1024), cm.NONE, (500, 0.1), 746.485),
                (FORWARD, block(1, 8, 8, 4096), cm.NONE, (1000, 0.1), 90.4),
                (BACKWARD, block(2, 16, 4, 2048), cm.NONE, (100, 0.2), 224.92),
                (FORWARD, block(1, 8, 8, 4096), (0.25, 0.2), cm.NONE, 97.4530303030303),
                (FORWARD, block(16, 64, 64, 1024), (0.5, 0.1), cm.NONE, 759.341893939394),
                (BACKWARD, block(2, 16, 4, 2048), (0.0, 0.3), (100, 0.2), 263.878545454545)]:
            self.assertAlmostEqual(clocked(geom, shape, p, load, cap), want, places=9)

    def samples(self, params, load, cap, k=1, theta=1.0):
        out = []
        for mask in ("causal", "full"):
            for b, h in ((1, 1), (1, 8), (2, 16), (4, 32), (16, 64)):
                for s in (512, 1024, 2048, 4096, 8192, 16384):
                    if b * h * s * s > 2 ** 35:
                        continue
                    sample = dict(block(b, h, h, s, mask), pairs=float(s) * s)
                    sample["us"] = clocked(FORWARD, sample, params, load, cap, k, theta)
                    out.append(sample)
        return out

    def test_fit_recovers_a_cap(self):
        truth = np.array([3.0, 5.0, 1.6, 0.4])
        fit = kmf.fit_group(FORWARD, self.samples(truth, cm.NONE, (2000.0, 0.12)), 132)
        self.assertEqual((fit["load"], fit["cap"]), (cm.NONE, (2000.0, 0.12)))
        np.testing.assert_allclose(fit["params"], truth, rtol=1e-3, atol=1e-3)
        self.assertLess(fit["worst"], 1e-6)

    def test_fit_recovers_a_load_clock(self):
        truth = np.array([3.0, 5.0, 1.6, 0.4])
        fit = kmf.fit_group(FORWARD, self.samples(truth, (0.5, 0.2), cm.NONE), 132)
        self.assertEqual((fit["load"], fit["cap"]), ((0.5, 0.2), cm.NONE))
        np.testing.assert_allclose(fit["params"], truth, rtol=1e-3, atol=1e-3)
        self.assertLess(fit["worst"], 1e-6)

    def test_fit_recovers_two_ctas_per_sm_beside_a_load_clock(self):
        """The occupancy is scored with its own clock terms: scored without them (the fit before 2026-12-07), one CTA
        per SM with a clock fitted afterwards came out ahead of the truth (FlashAttention-2's forward: two per SM)."""
        truth = np.array([3.0, 5.0, 1.6, 0.4])
        # Drawn with two CTAs per SM, a lone CTA at 0.6, a load clock and a cap: scored without the clocks, (1, 1.0) won.
        fit = kmf.fit_group(FORWARD, self.samples(truth, (0.0, 0.6), (1000.0, 0.06), k=2, theta=0.6), 132)
        self.assertEqual((fit["k"], fit["theta"], fit["load"], fit["cap"]), (2, 0.6, (0.0, 0.6), (1000.0, 0.06)))
        np.testing.assert_allclose(fit["params"], truth, rtol=1e-3, atol=1e-3)
        self.assertLess(fit["worst"], 1e-6)

    def test_neither_without_them(self):
        truth = np.array([3.0, 5.0, 1.6, 0.4])
        fit = kmf.fit_group(FORWARD, self.samples(truth, cm.NONE, cm.NONE), 132)
        self.assertEqual((fit["load"], fit["cap"]), (cm.NONE, cm.NONE))
        np.testing.assert_allclose(fit["params"], truth, rtol=1e-3, atol=1e-3)


class GroupSplit(unittest.TestCase):
    """The backward's GQA group split (kernels/cuda/attention_tiles.h BackwardGroupSplits; sim/wave_model.h
    "split_group"), as the fit's twin models it."""

    def test_rule_matches_the_kernels(self):
        for ctas, group, unequal, splits in [(32, 8, False, 4), (64, 8, False, 2), (40, 6, False, 3),
                                             (100, 8, False, 1), (132, 8, False, 1), (10, 1, False, 1),
                                             (10, 7, False, 7), (32, 8, True, 8), (256, 4, True, 4),
                                             (512, 4, True, 2), (528, 8, True, 1), (10, 1, True, 1)]:
            self.assertEqual(cm.group_splits(ctas, group, 132, unequal), splits, (ctas, group, unequal))

    def test_split_gqa_costs_about_its_mha_twin_where_the_grid_underfills(self):
        p = np.array([5.0, 2.0, 1.0, 0.5])
        split = dict(BACKWARD, split_group=True)
        for mask in ("causal", "full"):
            gqa, mha = block(1, 8, 1, 4096, mask), block(1, 8, 8, 4096, mask)
            self.assertAlmostEqual(clocked(split, gqa, p) / clocked(split, mha, p), 1, delta=0.15)
            self.assertGreater(clocked(BACKWARD, gqa, p), 2.5 * clocked(split, gqa, p))
            full_gpu = block(4, 32, 8, 4096, mask)  # 1024 CTAs: nothing to split
            self.assertAlmostEqual(clocked(split, full_gpu, p), clocked(BACKWARD, full_gpu, p), places=9)

    def test_expanded_group_is_one_cta_per_query_head(self):
        """FlashAttention-2's GQA backward ("expand_group", the peer): the kernel of its MHA twin, grid full or not."""
        p = np.array([5.0, 2.0, 1.0, 0.5])
        expand = dict(BACKWARD, expand_group=True)
        for mask in ("causal", "full"):
            for b, h, kv in [(1, 8, 1), (4, 32, 8)]:
                self.assertAlmostEqual(clocked(expand, block(b, h, kv, 4096, mask), p),
                                       clocked(BACKWARD, block(b, h, h, 4096, mask), p), places=9)


class FitIntoProfile(unittest.TestCase):
    """kernel_model_fit.fit_into_profile replaces a table's dense terms and keeps what it does not fit."""

    def profile(self):
        wave = {"grid": "kv", "tile_q": 64, "tile_kv": 128, "sms": 132, "ctas_per_sm": 1, "split_group": True,
                "cost": {"cta_us": 1.0, "tile_us": 1.0, "masked": {"cta_us": 2.5, "tile_us": 1.1,
                                                                   "edge_tile_us": 0.4, "persistent": False}}}
        return {"compute": {"launch_us": {"value": 3.0},
                            "attention": [{"pass": "backward", "mask": m, "head_dim": 256, "wave": dict(wave)}
                                          for m in ("causal", "full")]},
                "memory": {"copy_gbps": {"value": 2000.0}}}

    def samples(self, geom):
        truth = np.array([6.0, 7.0, 4.3, 0.06])
        kernels = []
        for mask in ("causal", "full"):
            for b, h in ((1, 8), (2, 16), (4, 32)):
                for s in (512, 1024, 2048, 4096):
                    k = dict(block(b, h, h, s, mask), pairs=float(s) * s, head_dim=256, **{"pass": "backward"})
                    k["us"] = clocked(geom, k, truth) + 3.0  # + launch_us, which the fit takes off
                    kernels.append(k)
        return {"sms": 132, "geometry": {"backward": geom, "forward": FORWARD}, "kernels": kernels}

    def test_keeps_the_masked_terms_and_a_flag_the_samples_have(self):
        prof, log = self.profile(), io.StringIO()
        self.assertEqual(kmf.fit_into_profile(self.samples(dict(BACKWARD, split_group=True)), prof, "s.json", "T",
                                              log=log), 2)
        for t in prof["compute"]["attention"]:
            self.assertEqual(t["wave"]["cost"]["masked"]["cta_us"], 2.5)
            self.assertTrue(t["wave"]["split_group"])
            self.assertAlmostEqual(t["wave"]["cost"]["tile_us"], 4.3, delta=0.05)
        self.assertNotIn("dropped", log.getvalue())

    def test_says_so_when_the_samples_lack_a_flag_the_table_had(self):
        prof, log = self.profile(), io.StringIO()
        kmf.fit_into_profile(self.samples(BACKWARD), prof, "s.json", "T", log=log)
        self.assertTrue(all("split_group" not in t["wave"] for t in prof["compute"]["attention"]))
        self.assertIn("wave.split_group", log.getvalue())


if __name__ == "__main__":
    unittest.main()
