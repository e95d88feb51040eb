"""The held-out single-GPU shapes (bench/kernels/heldout_shapes.txt: B H S D mask per line, fixed before they were
measured): no fit may use them."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def held_out():
    """{(batch, heads, seq, head_dim, causal)} of the held-out shapes (query heads = kv heads)."""
    shapes = set()
    with open(os.path.join(ROOT, "bench/kernels/heldout_shapes.txt")) as f:
        for line in f:
            fields = line.split("#")[0].split()
            if len(fields) == 5:
                shapes.add((int(fields[0]), int(fields[1]), int(fields[2]), int(fields[3]), fields[4] == "causal"))
    return shapes
