"""The CTA cost model of an attention kernel (the Python twin of sim/wave_model.h's `cost` form), and its fit.

A kernel launches CTAs over a grid (forward: batch x heads x query tiles, each CTA looping over the key tiles its rows
see; backward: batch x kv heads x key tiles, each looping over the query tiles of its query heads). The GPU holds
`slots` = SMs x CTAs per SM of them at once; the block scheduler hands each CTA, in launch order (heaviest first within
a head), to the first free slot. A CTA holds its slot for

    cta_us + tile_us * (tiles it loops over) + masked_tile_us * (those of them that straddle the causal diagonal)

and the kernel takes kernel_us (launch latency, first loads, drain) + the time the last slot frees. Kernels of more
than 16 rounds use the mean CTA cost times the rounds (the unequal loops average out), as the simulator does.

Power cap (CAP = capped_after_us, capped_slowdown): the SMs' busy time M (the last slot's end) past capped_after_us
runs capped_slowdown slower (the H100 reaches its 700 W cap under a long kernel and lowers its SM clock), so the
kernel takes kernel_us + M + capped_slowdown * max(0, M - capped_after_us). (0, 0): no cap, the form without it.

Fitted per (pass, mask family, head dim, forward mode) by least squares on the relative error: the makespan is linear in
(kernel_us, cta_us, tile_us, masked_tile_us) once the critical slot is known, so the fit alternates finding each
sample's critical slot under the current parameters and a non-negative linear least-squares solve (a few rounds).
"""
import heapq
import itertools
import math

import numpy as np

PARAMS = ("kernel_us", "cta_us", "tile_us", "masked_tile_us")
CAP = ("capped_after_us", "capped_slowdown")
# The power cap's grid (fit_capped): where the slowdown starts (us of busy SMs) and how much slower the rest runs.
CAP_AFTER_US = (1000.0, 2000.0, 3000.0, 5000.0)  # the 700 W cap takes milliseconds of load to reach
CAP_SLOWDOWN = (0.0, 0.03, 0.06, 0.09, 0.12, 0.15, 0.2, 0.25)
LIST_ROUNDS = 16  # above this many rounds the simulator uses the mean CTA cost


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
    """A function params -> (predicted us, coefficient vector of that prediction)."""
    causal = sample["mask"] == "causal"
    group = sample["heads"] // sample["kv_heads"]
    rows = sample["batch"] * (sample["heads"] if geom["grid"] == "q" else sample["kv_heads"])
    work = head_work(geom, sample["q"], sample["kv"], sample.get("diagonal_offset", 0), causal, group)
    work = [w for w in work if w[0] > 0]
    ctas = rows * len(work)
    slots = sms * k
    if ctas > LIST_ROUNDS * slots or not causal:
        mean = np.array([1.0, sum(w[0] for w in work) / len(work), sum(w[1] for w in work) / len(work)])
        coef = np.concatenate([[1.0], effective_rounds(ctas, slots, sms, k, theta) * mean])
        return lambda p: (float(coef @ p), coef)

    def listed(p):
        heap = [(0.0, i) for i in range(min(slots, ctas))]
        comp = [np.zeros(3) for _ in heap]
        for _ in range(rows):
            for n, d in work:
                t, i = heapq.heappop(heap)
                comp[i] = comp[i] + (1.0, n, d)
                heapq.heappush(heap, (t + p[1] + p[2] * n + p[3] * d, i))
        t, i = max(heap)
        coef = np.concatenate([[1.0], comp[i]])
        return float(coef @ p), coef
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


def capped(pred, p, cap=(0.0, 0.0)):
    """A kernel's time from features()'s (prediction, coefficients) at params p under the power cap (after, slowdown)."""
    busy = pred - p[0]
    return pred + cap[1] * max(0.0, busy - cap[0])


def fit(models, measured, fixed=None, rounds=8, cap=(0.0, 0.0), start=None):
    """Params minimising sum((pred/measured - 1)^2) under the power cap `cap` (after, slowdown). `fixed`: {param
    index: value} held (e.g. masked_tile_us = 0). With the cap the prediction is linear in the params once each
    sample's critical slot and side of capped_after_us are known: both are found again every round."""
    fixed = fixed or {}
    y = np.asarray(measured, float)
    p = np.array([5.0, 2.0, 1.0, 0.0]) if start is None else np.array(start, float)
    for i, v in fixed.items():
        p[i] = v
    for _ in range(rounds):
        coef = np.array([m(p)[1] for m in models])
        over = (coef[:, 1:] @ p[1:] > cap[0]) * cap[1]  # the slowdown of each sample past the cap, else 0
        coef[:, 1:] *= (1 + over)[:, None]
        a = coef / y[:, None]
        free = [i for i in range(4) if i not in fixed]
        rhs = np.ones(len(y)) + over * cap[0] / y - sum(a[:, i] * v for i, v in fixed.items())
        x = _nnls(a[:, free], rhs)
        new = p.copy()
        new[free] = x
        if np.allclose(new, p, rtol=1e-9, atol=1e-12):
            break
        p = new
    return p


def errors(models, measured, p, cap=(0.0, 0.0)):
    return np.array([capped(m(p)[0], p, cap) for m in models]) / np.asarray(measured, float) - 1


def fit_capped(models, measured, start):
    """(params, cap, mean squared relative error): the power cap of CAP_AFTER_US x CAP_SLOWDOWN (and its params)
    with the least mean squared relative error, each fit started from `start` (the fit without the cap)."""
    best = None
    for after in CAP_AFTER_US:
        for slowdown in CAP_SLOWDOWN:
            if slowdown == 0 and after != CAP_AFTER_US[0]:
                continue  # no slowdown: the same fit whatever the start
            cap = (0.0, 0.0) if slowdown == 0 else (after, slowdown)
            p = fit(models, measured, rounds=4, cap=cap, start=start)
            score = float(np.mean(errors(models, measured, p, cap) ** 2))
            if best is None or score < best[2]:
                best = (p, cap, score)
    return best
