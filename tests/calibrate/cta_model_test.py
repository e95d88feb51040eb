"""calibrate/scripts/cta_model.py's power cap (the SMs' busy time past capped_after_us runs capped_slowdown slower):
its predictions are the simulator's (the numbers tests/sim/cta_cost_test.cc PowerCapAgreesWithThePythonTwin asserts
for sim/wave_model.cc), and kernel_model_fit.fit_group recovers a cap from synthetic samples drawn with one, and adds
none to samples drawn without.

  .venv/bin/python tests/calibrate/cta_model_test.py        # ctest: calibrate.cta_model
"""
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


class PowerCap(unittest.TestCase):
    def test_predictions_are_the_simulators(self):
        p = np.array([3.0, 4.0, 1.5, 0.7])
        for geom, shape, cap, want in [(FORWARD, block(1, 8, 8, 4096), (50, 0.1), 94.14),
                                       (FORWARD, block(16, 64, 64, 1024), (500, 0.1), 746.485),
                                       (FORWARD, block(1, 8, 8, 4096), (1000, 0.1), 90.4),
                                       (BACKWARD, block(2, 16, 4, 2048), (100, 0.2), 224.92)]:
            self.assertAlmostEqual(cm.capped(cm.features(geom, shape, 132)(p)[0], p, cap), want, places=9)

    def samples(self, params, cap):
        out = []
        for mask in ("causal", "full"):
            for b, h in ((1, 8), (2, 16), (4, 32), (16, 64)):
                for s in (512, 1024, 2048, 4096, 8192, 16384):
                    if b * h * s * s > 2 ** 35:
                        continue
                    k = dict(block(b, h, h, s, mask), pairs=float(s) * s)
                    k["us"] = cm.capped(cm.features(FORWARD, k, 132)(params)[0], params, cap)
                    out.append(k)
        return out

    def test_fit_recovers_a_cap(self):
        truth = np.array([3.0, 5.0, 1.6, 0.4])
        fit = kmf.fit_group(FORWARD, self.samples(truth, (2000.0, 0.12)), 132)
        self.assertEqual(fit["cap"], (2000.0, 0.12))
        np.testing.assert_allclose(fit["params"], truth, rtol=1e-3, atol=1e-3)
        self.assertLess(fit["worst"], 1e-6)

    def test_no_cap_without_one(self):
        truth = np.array([3.0, 5.0, 1.6, 0.4])
        fit = kmf.fit_group(FORWARD, self.samples(truth, (0.0, 0.0)), 132)
        self.assertEqual(fit["cap"], (0.0, 0.0))
        np.testing.assert_allclose(fit["params"], truth, rtol=1e-3, atol=1e-3)


if __name__ == "__main__":
    unittest.main()
