"""Samples for `ringlab fit-profile` (format: calibrate/samples.h) taken from real run traces (`ringlab run --trace`).

A real trace times every op with CUDA events, so it holds the same quantities `ringlab calibrate` measures in
isolation, only under a run's conditions:
  kernels         attend ops that ran with their rank's comm stream idle (< 5% of the op overlapped communication);
                  a (pass, mask, head dim) with fewer than 3 such ops takes all of its ops.
  overlap_us      (median time of a block shape alone, time of the same shape while communication ran) pairs.
  beside_kernels  attend ops that overlapped their rank's communication, with the overlapped fraction (nccl_sms).
  transfers p2p   a send matched with its receive (sender, receiver, tag, n-th occurrence): time from the later of the
                  two posts to the earlier end (the wait for the peer is left out); beside_compute when the sender's or
                  receiver's compute stream was busy for over half of it. Only from W=2 runs: in a larger ring the
                  send and the receive of one NCCL group have different peers and both events end with the group, so
                  a transfer's time would include waiting for a third rank.
  start_waits     such a transfer posted while an attention kernel was already running on one of its ranks: NCCL's
                  kernel gets SMs only as the attention CTAs leave (kernel_left_us = that kernel's remaining time).
  all-gather      one collective (tag): latest post to earliest end over the ranks.
  memory          merge (dK/dV add) ops and prepare/copy ops: bytes read + written, duration.
  launch_gaps_us  gap between consecutive compute ops of a rank when the second one's dependencies were already met
                  (what the host and the stream add between kernels).
  start_skews_us  per trace (W > 1): the spread of the ranks' first op starts (each rank's host thread issues its
                  pass on its own; the ring waits for the last).
"""
import collections
import pathlib
import statistics

from common import load_trace, schedule_ops

COMM = {"send", "recv", "all-gather", "reduce-scatter"}
ALONE = 0.05


def _overlap(a0, a1, b0, b1):
    return max(0.0, min(a1, b1) - max(a0, b0))


def _busy(spans, t0, t1):
    return sum(_overlap(t0, t1, a, b) for a, b in spans)


def attend_sample(meta, op, dur):
    """A kernel sample for one attend op: geometry from the schedule op, all of the problem's heads (both methods
    run every head on every rank; the op's FLOPs give the pairs its mask allows)."""
    p = meta["problem"]
    b = op["block"]
    mult = 1.0 if meta["pass"] == "forward" else 2.5
    pairs = op["flops"] / (4 * p["head_dim"] * mult * p["batch"] * p["heads"])
    return {"pass": meta["pass"], "mask": "causal" if b["causal"] else "full", "head_dim": p["head_dim"],
            "batch": p["batch"], "heads": p["heads"], "kv_heads": p["kv_heads"], "q": b["q"][1] - b["q"][0],
            "kv": b["kv"][1] - b["kv"][0], "diagonal_offset": b.get("diagonal_offset", 0), "pairs": pairs, "us": dur}


def samples_from_traces(paths, host_only=False):
    kernels_alone, kernels_near, beside_kernels = [], [], []
    beside = []  # (shape key, dur)
    transfers, memory, gaps, waits, skews = [], [], [], [], []
    for path in paths:
        meta, events = load_trace(path)
        ops = schedule_ops(meta)
        by_rank = collections.defaultdict(list)
        for e in events:
            by_rank[e["pid"]].append(e)
        end_of = {(e["pid"], e["args"]["op"]): e["ts"] + e["dur"] for e in events}
        if meta["world"] > 1:
            firsts = [min(e["ts"] for e in evs) for evs in by_rank.values()]
            skews.append([meta["pass"], round(max(firsts) - min(firsts), 3)])
        compute_spans = {r: [(e["ts"], e["ts"] + e["dur"]) for e in evs if e["cat"] not in COMM]
                         for r, evs in by_rank.items()}
        # attend spans with their CTA count (both kernels' grids: 128-row q tiles x heads forward, 128-key kv tiles x
        # kv heads backward)
        pr = meta["problem"]
        def ctas(e):
            b = ops[(e["pid"], e["args"]["op"])]["block"]
            if meta["pass"] == "forward":
                return pr["batch"] * pr["heads"] * -(-(b["q"][1] - b["q"][0]) // 128)
            return pr["batch"] * pr["kv_heads"] * -(-(b["kv"][1] - b["kv"][0]) // 128)
        attend_spans = {r: [(e["ts"], e["ts"] + e["dur"], ctas(e)) for e in evs if e["cat"] == "attend"]
                        for r, evs in by_rank.items()}

        def kernel_left(ranks, t):
            """(remaining time, CTAs) of the longest attend kernel running at t on any of `ranks`."""
            return max([(b - t, n) for r in ranks for a, b, n in attend_spans[r] if a < t < b], default=(0.0, 0))
        for rank, evs in by_rank.items():
            comm = [(e["ts"], e["ts"] + e["dur"]) for e in evs if e["cat"] in COMM]
            comp = sorted((e for e in evs if e["cat"] not in COMM), key=lambda e: e["ts"])
            for i, e in enumerate(comp):
                op = ops[(rank, e["args"]["op"])]
                if op["kind"] != e["cat"]:
                    raise ValueError(f"{path}: rank {rank} op {e['args']['op']} does not match the schedule")
                if i > 0:
                    prev_end = comp[i - 1]["ts"] + comp[i - 1]["dur"]
                    deps_done = max((end_of.get((rank, d), 0) for d in op["deps"]), default=0)
                    if deps_done <= prev_end:
                        gaps.append(round(e["ts"] - prev_end, 3))
                if host_only:
                    continue
                if e["cat"] == "attend":
                    s = attend_sample(meta, op, e["dur"])
                    shared = _busy(comm, e["ts"], e["ts"] + e["dur"])
                    (kernels_alone if shared < ALONE * e["dur"] else kernels_near).append(s)
                    if shared >= ALONE * e["dur"]:
                        beside_kernels.append(dict(s, overlap=round(min(1.0, shared / e["dur"]), 4)))
                    if shared > 0.8 * e["dur"]:
                        beside.append(s)
                elif e["cat"] == "merge":
                    memory.append({"kind": "merge", "bytes": e["args"]["bytes"], "us": e["dur"]})
                elif e["cat"] in ("copy", "prepare") and e["args"]["bytes"] > 0:
                    memory.append({"kind": "copy", "bytes": e["args"]["bytes"], "us": e["dur"]})
        if host_only:
            continue
        # point-to-point: match the n-th send of (src, dst, tag) with the n-th receive
        sends, recvs = collections.defaultdict(list), collections.defaultdict(list)
        colls = collections.defaultdict(list)
        for rank, evs in by_rank.items():
            for e in sorted(evs, key=lambda e: e["ts"]):
                op = ops[(rank, e["args"]["op"])]
                if e["cat"] == "send":
                    sends[(rank, op["peer"], op["tag"])].append(e)
                elif e["cat"] == "recv":
                    recvs[(op["peer"], rank, op["tag"])].append(e)
                elif e["cat"] == "all-gather":
                    colls[op["tag"]].append((rank, e))
        for key, ss in (sends.items() if meta["world"] == 2 else []):
            for s, r in zip(ss, recvs.get(key, [])):
                t0, t1 = max(s["ts"], r["ts"]), min(s["ts"] + s["dur"], r["ts"] + r["dur"])
                if t1 <= t0:
                    continue
                left, n_ctas = kernel_left(key[:2], t0)
                if left > 0:
                    waits.append({"bytes": s["args"]["bytes"], "kernel_left_us": round(left, 3), "us": round(t1 - t0, 3),
                                  "kernel_ctas": n_ctas})
                    continue
                busy = max(_busy(compute_spans[key[0]], t0, t1), _busy(compute_spans[key[1]], t0, t1)) / (t1 - t0)
                transfers.append({"kind": "p2p", "world": meta["world"], "bytes": s["args"]["bytes"],
                                  "us": round(t1 - t0, 3), "beside_compute": busy > 0.5})
        for tag, members in colls.items():
            if len(members) != meta["world"]:
                continue
            t0 = max(e["ts"] for _, e in members)
            t1 = min(e["ts"] + e["dur"] for _, e in members)
            if t1 <= t0:
                continue
            if kernel_left([r for r, _ in members], t0)[0] > 0:
                continue  # its ring steps waited for SMs: not a clean collective sample
            busy = max(_busy(compute_spans[r], t0, t1) for r, _ in members) / (t1 - t0)
            transfers.append({"kind": "all-gather", "world": meta["world"], "bytes": members[0][1]["args"]["bytes"],
                              "us": round(t1 - t0, 3), "beside_compute": busy > 0.5})

    # a (pass, mask, D) with under 3 ops alone takes its ops that ran near communication as well
    def key(s):
        return (s["pass"], s["mask"], s["head_dim"])
    count = collections.Counter(key(s) for s in kernels_alone)
    kernels = kernels_alone + [s for s in kernels_near if count[key(s)] < 3]
    shape = lambda s: (s["pass"], s["mask"], s["head_dim"], s["heads"], s["kv_heads"], s["q"], s["kv"])  # noqa: E731
    alone_by_shape = collections.defaultdict(list)
    for s in kernels_alone:
        alone_by_shape[shape(s)].append(s["us"])
    overlap = [[statistics.median(alone_by_shape[shape(s)]), s["us"]] for s in beside if shape(s) in alone_by_shape]
    return {"kernels": kernels, "transfers": transfers, "memory": memory, "launch_gaps_us": gaps,
            "overlap_us": overlap, "start_waits": waits, "start_skews_us": skews, "beside_kernels": beside_kernels}


def _pass_start(mine):
    """For one rank's events: None when its schedule lists a compute op first (no race: the stream order decides),
    else True when its first compute op started before its first comm op (kernel-first)."""
    comp = [e for e in mine if e["cat"] not in COMM]
    comm = [e for e in mine if e["cat"] in COMM]
    if not comp or not comm:
        return None
    if min(e["args"]["op"] for e in comp) < min(e["args"]["op"] for e in comm):
        return None
    return min(e["ts"] for e in comp) < min(e["ts"] for e in comm)


def kernel_first_fractions(paths):
    """Per pass and world size: among the ranks whose schedule lists a comm op before the first compute op, the
    fraction whose first compute op started first anyway (a host number: the iteration's barrier all-reduce holds the
    GPU while the host posts, so a host that got there early has queued both and the compute stream goes first; since
    the executor makes the first kernel wait for the listed transfer's start, 0). {pass: [[world, fraction, ranks],
    ...]} by ascending world; also the delays of the first kernel behind the posted transfer."""
    seen = collections.defaultdict(lambda: [0, 0])
    posts = []
    for path in paths:
        meta, events = load_trace(path)
        if meta["world"] < 2:
            continue
        for r in range(meta["world"]):
            mine = [e for e in events if e["pid"] == r]
            kernel_first = _pass_start(mine)
            if kernel_first is None:
                continue
            c = seen[(meta["pass"], meta["world"])]
            c[0] += kernel_first
            c[1] += 1
            if not kernel_first:
                posts.append(min(e["ts"] for e in mine if e["cat"] not in COMM) -
                             min(e["ts"] for e in mine if e["cat"] in COMM))
    out = collections.defaultdict(list)
    for (ps, w), (k, n) in sorted(seen.items()):
        out[ps].append([w, k / n, n])
    return dict(out), posts


def relative(paths, root):
    out = []
    for p in paths:
        rp = pathlib.Path(p).resolve()
        out.append(str(rp.relative_to(root)) if str(rp).startswith(str(root)) else str(p))
    return out
