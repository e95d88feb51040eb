# %% [markdown]
# # Trace analysis: per-rank compute / communication / idle, op durations, overlap
#
# Reads ringlab traces (Chrome Trace Event JSON, format in `core/trace.h`). It prefers a **real** GPU trace written by
# `ringlab run --trace` and committed in the measured grids of `bench/results/grids/` (newest grid first; a JSON whose `ringlab.source` is `"real"`). Until one
# exists it analyses the CPU executor's trace from `ringlab check --trace` (real execution, but CPU threads: its
# timings say nothing about GPUs) and a simulated trace of the same kind of schedule from `ringlab sim --trace`
# (16 H100s on 2 nodes, the ring crossing InfiniBand). The cell below shows the exact commands.

# %%
# Data: the exact commands that produced it (repository root; build/apps/ringlab is replaced by $RINGLAB_BIN).
COMMANDS = [
    "build/apps/ringlab check --world 4 --seq 2048 --heads 4 --kv-heads 2 --dim 64 --method alltoall --pass both "
    "--trace out/notebooks/cpu_check.json",
    "build/apps/ringlab sim --profile h100_sxm --world 16 --seq 262144 --method alltoall --pass both "
    "--trace out/notebooks/sim16.json",
]
OUTPUTS = ["out/notebooks/cpu_check.json", "out/notebooks/cpu_check.backward.json",
           "out/notebooks/sim16.alltoall.forward.json", "out/notebooks/sim16.alltoall.backward.json"]

import glob, json, os, pathlib, subprocess

def repo_root():
    p = pathlib.Path.cwd().resolve()
    for q in [p, *p.parents]:
        if (q / "core" / "trace.h").exists() and (q / "notebooks").is_dir():
            return q
    raise RuntimeError("run this notebook inside the ringlab repository")

ROOT = repo_root()
RINGLAB = os.environ.get("RINGLAB_BIN", str(ROOT / "build/apps/ringlab"))
FIG = pathlib.Path(os.environ.get("RINGLAB_NB_FIGDIR", ROOT / "notebooks/figures"))
FIG.mkdir(parents=True, exist_ok=True)

def ensure_data():
    if all((ROOT / o).exists() for o in OUTPUTS):
        print("data present:", ", ".join(OUTPUTS))
        return
    (ROOT / "out/notebooks").mkdir(parents=True, exist_ok=True)
    for cmd in COMMANDS:
        cmd = cmd.replace("build/apps/ringlab", RINGLAB)
        print("$", cmd)
        subprocess.run(cmd, shell=True, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)

def real_traces():
    """Committed real GPU traces: the grids of bench/results/grids/ (unpacked into out/grids/), newest grid first,
    whose ringlab metadata says source real (one per run and pass: the per-iteration traces <name>.iter<k>.json are
    left out)."""
    subprocess.run(["bash", "bench/results/grids/unpack.sh"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    found = []
    newest_first = ["calibration_grid_listed", "calibration_grid_listed_repeat"]
    paths = [p for g in newest_first for p in sorted(glob.glob(str(ROOT / "out/grids" / g / "*.json")))]
    for p in paths:
        if ".iter" in os.path.basename(p):
            continue
        try:
            with open(p) as f:
                head = f.read(1 << 20)
            if '"traceEvents"' not in head:
                continue
            meta = json.load(open(p)).get("ringlab", {})
            if meta.get("source") == "real":
                found.append(p)
        except (OSError, ValueError):
            pass
    return found

ensure_data()
REAL = real_traces()
print(f"real GPU traces in the committed grids: {len(REAL)}" + (f", e.g. {os.path.relpath(REAL[0], ROOT)}" if REAL else " (none yet)"))

# %%
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 130, "axes.grid": True, "grid.alpha": 0.3})

def load(path):
    d = json.load(open(path))
    # Stream 0 compute, 1 comm: format version 2 (core/trace.h) has compute on tid 1 and the comm stream split over
    # tids 2-4; version 1 wrote tid 0 compute, 1 comm.
    compute_tid = 1 if d["ringlab"]["version"] >= 2 else 0
    ev = pd.DataFrame([{"rank": e["pid"], "stream": int(e["tid"] != compute_tid), "kind": e["cat"], "ts": e["ts"], "dur": e["dur"],
                        "op": e["args"].get("op"), "bytes": e["args"].get("bytes", 0),
                        "flops": e["args"].get("flops", 0)} for e in d["traceEvents"] if e.get("ph") == "X"])
    return d["ringlab"], ev

def union_length(iv):
    """Total length covered by intervals [(start, end)]."""
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(iv):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    return total + ((cur_e - cur_s) if cur_e is not None else 0)

def intersect_length(a, b):
    """Length covered by both unions of intervals."""
    pts = sorted([(s, 1, 0) for s, _ in a] + [(e, -1, 0) for _, e in a] + [(s, 1, 1) for s, _ in b] + [(e, -1, 1) for _, e in b])
    depth, total, last = [0, 0], 0.0, None
    for t, d, w in pts:
        if last is not None and depth[0] > 0 and depth[1] > 0:
            total += t - last
        depth[w] += d
        last = t
    return total

def per_rank(ev):
    t0, t1 = ev.ts.min(), (ev.ts + ev.dur).max()
    rows = []
    for r, g in ev.groupby("rank"):
        comp = list(zip(g[g.stream == 0].ts, g[g.stream == 0].ts + g[g.stream == 0].dur))
        comm = list(zip(g[g.stream == 1].ts, g[g.stream == 1].ts + g[g.stream == 1].dur))
        c, m = union_length(comp), union_length(comm)
        both = intersect_length(comp, comm)
        busy = c + m - both
        rows.append(dict(rank=r, compute_us=c, comm_us=m, overlap_us=both, comm_exposed_us=m - both,
                         idle_us=(t1 - t0) - busy, wall_us=t1 - t0))
    return pd.DataFrame(rows).set_index("rank")

TRACES = {}
PICK = [p for p in REAL if "w4" in p and "alltoall" in p and "s131072" in p] or REAL[:2]
for p in PICK[:2]:
    TRACES[f"real: {pathlib.Path(p).name}"] = load(p)
if not REAL:
    TRACES["cpu executor (forward)"] = load(ROOT / OUTPUTS[0])
    TRACES["cpu executor (backward)"] = load(ROOT / OUTPUTS[1])
TRACES["sim h100_sxm (forward)"] = load(ROOT / OUTPUTS[2])
TRACES["sim h100_sxm (backward)"] = load(ROOT / OUTPUTS[3])
for name, (meta, ev) in TRACES.items():
    p = meta["problem"]
    print(f"{name}: source={meta['source']} {meta['method']} {meta['pass']} W={meta['world']} "
          f"S={p['seq']} H={p['heads']} Hkv={p['kv_heads']} D={p['head_dim']} {p['dtype']}; "
          f"{len(ev)} ops, wall {(ev.ts + ev.dur).max() - ev.ts.min():.1f} us")

# %% [markdown]
# ## Per-rank compute, communication and idle time
#
# Compute = time the compute stream is busy; comm = time the comm stream is busy; overlap = both busy;
# exposed comm = comm not under compute; idle = neither busy, up to the slowest rank's end.

# %%
summaries = {name: per_rank(ev) for name, (meta, ev) in TRACES.items()}
fig, axes = plt.subplots(1, len(summaries), figsize=(4.2 * len(summaries), 3.8), squeeze=False)
for ax, (name, s) in zip(axes[0], summaries.items()):
    x = np.arange(len(s))
    ax.bar(x, s.overlap_us / 1e3, label="compute under comm", color="C2")
    ax.bar(x, (s.compute_us - s.overlap_us) / 1e3, bottom=s.overlap_us / 1e3, label="compute only", color="C0")
    ax.bar(x, s.comm_exposed_us / 1e3, bottom=s.compute_us / 1e3, label="exposed comm", color="C3")
    ax.bar(x, s.idle_us / 1e3, bottom=(s.compute_us + s.comm_exposed_us) / 1e3, label="idle", color="0.8")
    ax.set_xticks(x[:: max(1, len(x) // 8)], s.index[:: max(1, len(x) // 8)])
    ax.set_xlabel("rank")
    ax.set_ylabel("ms")
    ax.set_title(name, fontsize=9)
axes[0][0].legend(fontsize=7)
fig.tight_layout()
fig.savefig(FIG / "trace_per_rank.png")
pd.concat({n: s.describe().loc[["mean", "min", "max"]] for n, s in summaries.items()}).round(1)

# %% [markdown]
# ## Op durations by kind

# %%
kinds = sorted(set().union(*[set(ev.kind) for _, ev in TRACES.values()]))
fig, axes = plt.subplots(1, len(kinds), figsize=(3.6 * len(kinds), 3.4), squeeze=False)
for ax, k in zip(axes[0], kinds):
    for i, (name, (meta, ev)) in enumerate(TRACES.items()):
        d = ev[ev.kind == k].dur
        if len(d) == 0:
            continue
        bins = np.logspace(np.log10(max(d.min(), 1e-3)), np.log10(max(d.max(), 1e-3) * 1.01), 25)
        ax.hist(d, bins=bins, alpha=0.5, label=name, color=f"C{i}")
    ax.set_xscale("log")
    ax.set_xlabel("duration (us)")
    ax.set_title(k)
axes[0][0].set_ylabel("ops")
axes[0][-1].legend(fontsize=6)
fig.tight_layout()
fig.savefig(FIG / "trace_op_histograms.png")
pd.concat({n: ev.groupby("kind").dur.describe()[["count", "mean", "50%", "min", "max"]] for n, (m, ev) in TRACES.items()}).round(2)

# %% [markdown]
# ## Timeline of the first ranks, and achieved rates
#
# The achieved rate of an attend op is its FLOPs over its duration; of a send/recv, its bytes over its duration.

# %%
name = next(n for n in TRACES if not n.startswith("cpu")) if any(not n.startswith("cpu") for n in TRACES) else next(iter(TRACES))
meta, ev = TRACES[name]
ranks = sorted(ev["rank"].unique())[:4]
fig, ax = plt.subplots(figsize=(12, 0.5 + 0.7 * len(ranks)))
colors = {"attend": "C0", "send": "C3", "recv": "C1", "merge": "C2", "copy": "C4", "all-gather": "C5",
          "reduce-scatter": "C6", "prepare": "C7"}
t0 = ev.ts.min()
for i, r in enumerate(ranks):
    for st in (0, 1):
        g = ev[(ev["rank"] == r) & (ev.stream == st)]
        ax.broken_barh(list(zip((g.ts - t0) / 1e3, g.dur / 1e3)), (i * 2 + st * 0.9, 0.8),
                       facecolors=[colors.get(k, "k") for k in g.kind])
ax.set_yticks([i * 2 + 0.85 for i in range(len(ranks))], [f"rank {r}" for r in ranks])
ax.set_xlabel("ms (lower bar: compute stream, upper: comm stream)")
ax.set_title(name)
for k, c in colors.items():
    if k in set(ev.kind):
        ax.plot([], [], color=c, lw=6, label=k)
ax.legend(fontsize=7, loc="upper right", ncol=4)
fig.tight_layout()
fig.savefig(FIG / "trace_timeline.png")
att = ev[ev.kind == "attend"]
com = ev[ev.kind.isin(["send", "recv", "all-gather"])]
for name, (meta, ev) in TRACES.items():
    att = ev[ev.kind == "attend"]
    com = ev[ev.kind.isin(["send", "recv", "all-gather"])]
    msg = f"{name}: attend median {np.median(att.flops / att.dur / 1e6):.1f} TFLOP/s"
    if len(com):
        msg += f"; comm median {np.median(com.bytes / com.dur / 1e3):.1f} GB/s (op bytes / op duration)"
    print(msg)
