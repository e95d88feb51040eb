"""The held-out single-GPU shapes, fixed before they were measured: no fit may use them.
bench/kernels/heldout_shapes.txt ("B H S D mask", query heads = kv heads) and bench/kernels/heldout_shapes_gqa.txt
("B H S D mask Hkv", grouped-query attention)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = ("bench/kernels/heldout_shapes.txt", "bench/kernels/heldout_shapes_gqa.txt",
         "bench/kernels/heldout_shapes_random.txt")


def held_out():
    """{(batch, heads, seq, head_dim, causal, kv_heads)} of every held-out shape."""
    shapes = set()
    for name in FILES:
        with open(os.path.join(ROOT, name)) as f:
            for line in f:
                fields = line.split("#")[0].split()
                if len(fields) in (5, 6):
                    b, h, s, d = (int(x) for x in fields[:4])
                    kv = int(fields[5]) if len(fields) == 6 else h
                    shapes.add((b, h, s, d, fields[4] == "causal", kv))
    return shapes
