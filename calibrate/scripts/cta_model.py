"""The CTA cost model of an attention kernel (the Python twin of sim/wave_model.h's `cost` form), and its fit.

A kernel launches CTAs over a grid (forward: batch x heads x query tiles, each CTA looping over the key tiles its rows
see; backward: batch x kv heads x key tiles, each looping over the query tiles of its query heads). The GPU holds
`slots` = SMs x CTAs per SM of them at once; the block scheduler hands each CTA, in launch order (heaviest first within
a head), to the first free slot. A CTA holds its slot for

    cta_us + tile_us * (tiles it loops over) + masked_tile_us * (those of them that straddle the causal diagonal)

and the kernel takes kernel_us (launch latency, first loads, drain) + the time the last slot frees. Kernels of more
than 16 rounds use the mean CTA cost times the rounds (the unequal loops average out), as the simulator does.

Load clock (LOAD = load_knee, load_slowdown): timed back to back, an H100 holds its 700 W cap by lowering the SM
clock, the more the more of the GPU a kernel keeps busy. With load = the CTAs' summed slot time / (slots x M), M the
last slot's end, the busy time is B = M * (1 + load_slowdown * max(0, load - load_knee)): a launch of fewer CTAs than
slots, or a causal one whose light CTAs leave slots idle in its tail, runs faster per tile than a full one.
Power cap (CAP = capped_after_us, capped_slowdown): the busy time B past capped_after_us runs capped_slowdown slower
(an H100 reaching its 700 W cap under a long kernel after an idle GPU), so the kernel takes
kernel_us + B + capped_slowdown * max(0, B - capped_after_us). (0, 0): no such term.

Fitted per (pass, mask family, head dim, forward mode) by least squares on the relative error: once each sample's
critical slot and the side of each knee are known the prediction is linear in (kernel_us, cta_us, tile_us,
masked_tile_us), so the fit alternates finding them under the current parameters and a non-negative linear
least-squares solve; the two terms' knees and slowdowns come from a grid (fit_clocked).
"""
import heapq
import itertools
import math

import numpy as np

PARAMS = ("kernel_us", "cta_us", "tile_us", "masked_tile_us")
LOAD = ("load_knee", "load_slowdown")
CAP = ("capped_after_us", "capped_slowdown")
# The grids of fit_clocked: the load clock's knee and slowdown (a full GPU at the 700 W cap runs ~1600-1750 MHz against
# the ~1980 MHz boost of a lightly loaded one, ~20% per tile; memory-bound kernels also lose HBM and L2 bandwidth to
# the other CTAs, so the grid goes further), the power cap's start and slowdown alone, and both terms together on a
# coarser cap grid.
LOAD_KNEE = (0.0, 0.25, 0.5, 0.75)
LOAD_SLOWDOWN = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6)
CAP_AFTER_US = (1000.0, 2000.0, 3000.0, 5000.0)  # the 700 W cap takes milliseconds of load to reach
CAP_SLOWDOWN = (0.03, 0.06, 0.09, 0.12, 0.15, 0.2, 0.25)
CAP_BESIDE_LOAD = [(a, c) for a in (1000.0, 3000.0) for c in (0.03, 0.06, 0.12)]
LIST_ROUNDS = 16  # above this many rounds the simulator uses the mean CTA cost
NONE = (0.0, 0.0)


def _ceil_div(a, b):
    return -(-a // b)


def head_work(geom, q, kv, off, causal, group):
    """Per CTA of one (batch, head) grid row, in launch order: (tiles, diagonal tiles)."""
    tq, tk = geom["tile_q"], geom["tile_kv"]
    nq, nk = _ceil_div(q, tq), _ceil_div(kv, tk)
    work = []
    if geom["grid"] == "q":
        heavy_first = geom.get("order", "heavy_first") == "heavy_first"
        for i in (range(nq - 1, -1, -1) if causal and heavy_first else range(nq)):
            r0, r1 = i * tq, min(q, (i + 1) * tq) - 1
            if not causal:
                work.append((nk, 0))
                continue
            full = sum(1 for j in range(nk) if min(kv, (j + 1) * tk) - 1 <= r0 + off)
            seen = sum(1 for j in range(nk) if j * tk <= r1 + off)
            work.append((seen, seen - full))
    else:
        for j in range(nk):
            k0, k1 = j * tk, min(kv, (j + 1) * tk) - 1
            if not causal:
                work.append((nq * group, 0))
                continue
            seen = sum(1 for i in range(nq) if min(q, (i + 1) * tq) - 1 + off >= k0)
            full = sum(1 for i in range(nq) if i * tq + off >= k1)
            work.append((seen * group, (seen - full) * group))
    return work


def group_splits(key_block_ctas, group, sms, unequal):
    """CTAs per key block sharing a GQA group (kernels/cuda/attention_tiles.h BackwardGroupSplits). Unequal (causal)
    CTAs: the smallest divisor giving 4 CTAs per SM, else the group; none from there up. Equal ones, only where they
    leave SMs idle: the divisor with the fewest head walks, ceil(CTAs * s / SMs) * group / s, a larger one only where
    it cuts them by more than an eighth."""
    if group <= 1 or key_block_ctas <= 0:
        return 1
    divisors = [s for s in range(2, group + 1) if group % s == 0]
    if unequal:
        if key_block_ctas >= 4 * sms:
            return 1
        return next((s for s in divisors if key_block_ctas * s >= 4 * sms), group)
    if key_block_ctas >= sms:
        return 1
    chosen, chosen_walks = 1, float(group)
    for s in divisors:
        walks = float(_ceil_div(key_block_ctas * s, sms) * (group // s))
        if walks < chosen_walks * 7 / 8:
            chosen, chosen_walks = s, walks
    return chosen


def effective_rounds(ctas, slots, sms, k, theta):
    full = math.floor(ctas / slots)
    r = ctas - full * slots
    rounds = full
    if r > 0:
        m = math.ceil(r / sms)
        th = 1.0 if (m >= k or k <= 1) else theta + (1 - theta) * (m - 1) / (k - 1)
        rounds += m / (k * th)
    return rounds


def features(geom, sample, sms, k=1, theta=1.0):
    """A function params -> (coef, work): the prediction before the clock terms is coef @ params (coef: 1, then the
    critical slot's CTAs, tiles and diagonal tiles), the load is (work @ params) / (coef @ params - kernel_us) (work:
    0, then all CTAs' CTAs, tiles and diagonal tiles over the slots)."""
    causal = sample["mask"] == "causal"
    group = sample["heads"] // sample["kv_heads"]
    rows = sample["batch"] * (sample["heads"] if geom["grid"] == "q" else sample["kv_heads"])
    if geom["grid"] == "kv" and geom.get("split_group"):  # the group's heads shared by `splits` CTAs per key block
        splits = group_splits(rows * _ceil_div(sample["kv"], geom["tile_kv"]), group, sms, causal)
        group, rows = group // splits, rows * splits
    elif geom["grid"] == "kv" and geom.get("expand_group"):  # a CTA per query head (FlashAttention-2's GQA backward)
        group, rows = 1, rows * group
    work = [w for w in head_work(geom, sample["q"], sample["kv"], sample.get("diagonal_offset", 0), causal, group)
            if w[0] > 0]
    ctas = rows * len(work)
    slots = sms * k
    total = np.array([0.0, ctas, rows * sum(w[0] for w in work), rows * sum(w[1] for w in work)])
    if ctas > LIST_ROUNDS * slots or not causal:
        rounds = effective_rounds(ctas, slots, sms, k, theta)
        coef = np.concatenate([[1.0], rounds * total[1:] / ctas])
        return lambda p: (coef, total / slots)

    def listed(p):
        heap = [(0.0, i) for i in range(min(slots, ctas))]
        comp = [np.zeros(3) for _ in heap]
        for _ in range(rows):
            for n, d in work:
                t, i = heapq.heappop(heap)
                comp[i] = comp[i] + (1.0, n, d)
                heapq.heappush(heap, (t + p[1] + p[2] * n + p[3] * d, i))
        t, i = max(heap)
        return np.concatenate([[1.0], comp[i]]), total / slots
    return listed


def _nnls(a, y):
    """Non-negative least squares by trying every active set (4 unknowns)."""
    best, best_x = math.inf, np.zeros(a.shape[1])
    for keep in itertools.product((0, 1), repeat=a.shape[1]):
        cols = [i for i, kk in enumerate(keep) if kk]
        if not cols:
            continue
        x, *_ = np.linalg.lstsq(a[:, cols], y, rcond=None)
        if (x < 0).any():
            continue
        full = np.zeros(a.shape[1])
        full[cols] = x
        r = float(((a @ full - y) ** 2).sum())
        if r < best:
            best, best_x = r, full
    return best_x


def clocked(coef, work, p, load=NONE, cap=NONE):
    """Kernel times (us) of rows of features()' (coef, work) at params p under the load clock and the power cap (the
    simulator's CtaCost::ClockedUs plus kernel_us)."""
    coef, work = np.atleast_2d(coef), np.atleast_2d(work)
    busy = coef[:, 1:] @ p[1:]
    u = np.minimum(1.0, np.where(busy > 0, (work[:, 1:] @ p[1:]) / np.maximum(busy, 1e-300), 0.0))
    busy = busy * (1 + load[1] * np.maximum(0.0, u - load[0]))
    return p[0] + busy + cap[1] * np.maximum(0.0, busy - cap[0])


def _solve(coef, work, y, p, load, cap):
    """One non-negative linear least-squares step with each sample's side of both knees fixed at params p."""
    busy = coef[:, 1:] @ p[1:]
    u = np.where(busy > 0, (work[:, 1:] @ p[1:]) / np.maximum(busy, 1e-300), 0.0)
    on = (u > load[0]) * (u < 1) * load[1]  # the load term's slope where it applies (a load over 1 counts as 1)
    at_one = (u >= 1) * load[1] * max(0.0, 1 - load[0])
    rows = coef[:, 1:] * (1 - on * load[0] + at_one)[:, None] + on[:, None] * work[:, 1:]
    over = ((rows @ p[1:]) > cap[0]) * cap[1]
    a = np.concatenate([np.ones((len(y), 1)), rows * (1 + over)[:, None]], 1) / y[:, None]
    return _nnls(a, np.ones(len(y)) + over * cap[0] / y)


def _matrices(models, p):
    cw = [m(p) for m in models]
    return np.array([c for c, _ in cw]), np.array([w for _, w in cw])


def fit(models, measured, load=NONE, cap=NONE, start=None, refresh=3, steps=4):
    """Params minimising sum((pred/measured - 1)^2) under the given clock terms: `refresh` times find every sample's
    critical slot under the current params, then `steps` solves with the knees' sides found again each time."""
    y = np.asarray(measured, float)
    p = np.array([5.0, 2.0, 1.0, 0.0]) if start is None else np.array(start, float)
    for _ in range(refresh):
        coef, work = _matrices(models, p)
        for _ in range(steps):
            p = _solve(coef, work, y, p, load, cap)
    return p


def errors(models, measured, p, load=NONE, cap=NONE):
    coef, work = _matrices(models, p)
    return clocked(coef, work, p, load, cap) / np.asarray(measured, float) - 1


def clock_grid():
    """Every (load, cap) pair fit_clocked tries: neither term, each alone, both (the cap on a coarser grid)."""
    loads = [(k, s) for k in LOAD_KNEE for s in LOAD_SLOWDOWN]
    caps = [(a, s) for a in CAP_AFTER_US for s in CAP_SLOWDOWN]
    return [(NONE, NONE)] + [(ld, NONE) for ld in loads] + [(NONE, c) for c in caps] + \
        [(ld, c) for ld in loads for c in CAP_BESIDE_LOAD]


def fit_clocked(models, measured, start=None):
    """(params, load, cap, mean squared relative error) of the clock_grid() pair with the least mean squared relative
    error: every pair solved on the critical slots of the fit without either term, the best one refitted."""
    y = np.asarray(measured, float)
    base = fit(models, y, start=start)
    coef, work = _matrices(models, base)
    best = None
    for load, cap in clock_grid():
        p = base
        for _ in range(4):
            p = _solve(coef, work, y, p, load, cap)
        score = float(np.mean((clocked(coef, work, p, load, cap) / y - 1) ** 2))
        if best is None or score < best[3]:
            best = (p, load, cap, score)
    p, load, cap, _ = best
    p = fit(models, y, load, cap, start=p, refresh=2)
    return p, load, cap, float(np.mean(errors(models, y, p, load, cap) ** 2))
