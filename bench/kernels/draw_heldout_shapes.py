"""Draws single-GPU attention shapes at random for a held-out check of the simulator's kernel cost model: shapes off
the calibration grid (sequence lengths that are not powers of two or tile multiples, odd head counts, every GQA group,
D 64/128/256), drawn before they are measured so that no fit can have seen them.

  python3 bench/kernels/draw_heldout_shapes.py --count 16 --seed 2026120701 > bench/kernels/heldout_shapes_random.txt

Lines are "B H S D mask [Hkv]" (bench/kernels/run_shapes.sh). A shape's forward FLOPs must lie between MIN_FLOPS and
MAX_FLOPS, so that none is launch-bound and a sustained timing of all of them fits one device call.
"""
import argparse
import math
import random
import sys

MIN_FLOPS = 2e10   # below this a kernel is a few microseconds: launch-bound, not a kernel-model check
MAX_FLOPS = 4e13   # above this one shape takes seconds to time


def forward_flops(b, h, s, d, causal):
    return 4.0 * b * h * s * s * d * (0.5 if causal else 1.0)


def draw(rng):
    d = rng.choice([64, 128, 128, 256])
    h = rng.choice([4, 6, 8, 12, 16, 20, 24, 28, 32, 40, 48, 64])
    groups = [g for g in range(1, h + 1) if h % g == 0 and g <= 8]
    hkv = h // rng.choice(groups)
    b = rng.choice([1, 1, 2, 3, 4, 6, 8, 12])
    s = int(math.exp(rng.uniform(math.log(700), math.log(70000))))
    s -= s % rng.choice([1, 8, 8, 64])  # most lengths off the 128-token tile, some a multiple of 8 or 64
    causal = rng.random() < 0.65
    return b, h, s, d, "causal" if causal else "full", hkv


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--seed", type=int, required=True)
    a = ap.parse_args(argv)
    if a.count < 1:
        print("draw_heldout_shapes: --count must be >= 1", file=sys.stderr)
        return 2
    rng = random.Random(a.seed)
    shapes = []
    while len(shapes) < a.count:
        b, h, s, d, mask, hkv = draw(rng)
        if MIN_FLOPS <= forward_flops(b, h, s, d, mask == "causal") <= MAX_FLOPS:
            shapes.append((b, h, s, d, mask, hkv))
    print(f"# Drawn by bench/kernels/draw_heldout_shapes.py --count {a.count} --seed {a.seed} before any was measured;")
    print("# held out from every fit (calibrate/scripts/heldout_shapes.py). Columns: B H S D mask [Hkv, when grouped].")
    for shape in shapes:
        print(" ".join(str(x) for x in (shape if shape[5] != shape[1] else shape[:5])))  # Hkv only when grouped
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
