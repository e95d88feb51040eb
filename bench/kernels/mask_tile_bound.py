"""The tile bound of the masked kernels: what share of dense speed a mask allows when whole tiles are computed.

The masked ws kernels skip tiles that a mask leaves empty and mask the rest in registers, so a tile that holds one
visible pair costs as much as a full one. For a mask, the bound on (masked TFLOP/s on visible pairs) / (dense causal
TFLOP/s) is its share of visible pairs among the pairs of the tiles it touches, over the dense causal kernel's share
(its diagonal tiles are computed whole too). The forward walks 128 x 128 tiles (query tile x key tile, the keys from
the tile's first row's lowest key to its last row's diagonal: kernels/cuda/attention_common.cuh MaskTileKeys); the
backward walks, per block of 128 keys, 64-row query tiles from the block's first key to the last query its last key
is seen by. Forward+backward weighs them as the FLOP count does (1 : 2.5).

  python3 bench/kernels/mask_tile_bound.py bench/results/mask_kernels_h100.json

prints, per case of that file (its document boundaries and window), the bound and the measured ours/dense beside it.
"""
import json
import sys

import numpy as np

FWD_Q, FWD_K = 128, 128  # kernels/cuda/attention_tiles.h ForwardWs at D = 128
BWD_K, BWD_Q = 128, 64   # BackwardWs at D = 128


def key_ranges(cu, window, seq):
    """Per query row, its lowest visible key (document start, or q - window); the highest is q itself."""
    q = np.arange(seq, dtype=np.int64)
    start = np.repeat(np.array(cu[:-1], dtype=np.int64), np.diff(cu))
    return np.maximum(start, q - window) if window >= 0 else start


def query_ranges(cu, window, seq):
    """Per key, the last query row that sees it (document end - 1, or key + window); the first is the key itself."""
    k = np.arange(seq, dtype=np.int64)
    end = np.repeat(np.array(cu[1:], dtype=np.int64), np.diff(cu)) - 1
    return np.minimum(end, k + window) if window >= 0 else end


def forward_tile_pairs(lo, seq):
    """Pairs the forward computes: per query tile, whole key tiles from its first row's lowest key to its last row."""
    total = 0
    for m0 in range(0, seq, FWD_Q):
        last = min(m0 + FWD_Q, seq) - 1
        tiles = last // FWD_K - lo[m0] // FWD_K + 1
        total += FWD_Q * FWD_K * tiles
    return total


def backward_tile_pairs(hi, seq):
    """Pairs the backward computes: per key block, whole 64-row query tiles from its first key to its last key's
    last query."""
    total = 0
    for n0 in range(0, seq, BWD_K):
        last = min(n0 + BWD_K, seq) - 1
        tiles = hi[last] // BWD_Q - n0 // BWD_Q + 1
        total += BWD_K * BWD_Q * tiles
    return total


def visible_pairs(lo, seq):
    """Visible pairs, the diagonal counted half (bench/kernels/mask_peer_bench.py counts them the same way)."""
    q = np.arange(seq, dtype=np.int64)
    return float((q - lo + 1).sum()) - 0.5 * seq


def bounds(cu, window, seq):
    """(forward bound, forward+backward bound) of one mask relative to dense causal."""
    lo, hi = key_ranges(cu, window, seq), query_ranges(cu, window, seq)
    dense_lo, dense_hi = key_ranges([0, seq], -1, seq), query_ranges([0, seq], -1, seq)
    vis, dense_vis = visible_pairs(lo, seq), visible_pairs(dense_lo, seq)
    fwd, dense_fwd = forward_tile_pairs(lo, seq), forward_tile_pairs(dense_lo, seq)
    bwd, dense_bwd = backward_tile_pairs(hi, seq), backward_tile_pairs(dense_hi, seq)
    fwd_bound = (vis / fwd) / (dense_vis / dense_fwd)
    both_bound = (vis / (fwd + 2.5 * bwd)) / (dense_vis / (dense_fwd + 2.5 * dense_bwd))
    return fwd_bound, both_bound


def main(path):
    d = json.load(open(path))
    seq, ours = d["seq"], d["ours"]
    dense = ours["dense_causal"]
    dense_vis = visible_pairs(key_ranges([0, seq], -1, seq), seq)
    print("| case | forward bound | ours/dense forward | share of bound | fwd+bwd bound | ours/dense fwd+bwd | "
          "share of bound |")
    print("|---|---|---|---|---|---|---|")
    for c in d["cases"]:
        fb, bb = bounds(c["docs"], c["window"], seq)
        m = ours["cases"][c["name"]]
        # TFLOP/s on visible pairs over dense TFLOP/s = (visible / masked time) / (dense visible / dense time).
        rf = (c["visible_pairs"] / m["fwd_ms"]) / (dense_vis / dense["fwd_ms"])
        rb = (c["visible_pairs"] / m["fwdbwd_ms"]) / (dense_vis / dense["fwdbwd_ms"])
        print(f"| {c['name']} | {fb:.2f} | {rf:.2f} | {rf / fb:.2f} | {bb:.2f} | {rb:.2f} | {rb / bb:.2f} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: mask_tile_bound.py MASK_RESULTS.json (bench/kernels/mask_peer_bench.py --json output)")
    main(sys.argv[1])
