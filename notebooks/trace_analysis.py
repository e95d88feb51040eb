# %% [markdown]
# # Trace analysis: the newest real 4xH100 traces against the simulator at the same configuration
#
# Reads the **newest** real GPU traces committed in `bench/results/grids/` (`ringlab run --trace` on 4x H100; the
# grid measured last, by the GPU clock log each grid carries) and simulates the **same configuration** with the
# calibrated profile of the kernels those runs used (`h100_sxm_calibrated_wgmma`: the wgmma kernels; the default
# `h100_sxm_calibrated` now models the warp-specialized ones), through the `ringlab` Python package: `ringlab.load_trace` reads both
# as frames, `ringlab.summarize_trace` gives core's per-rank numbers (core/metrics.h, what `ringlab sim` prints), and
# `ringlab.simulate` runs the simulator in-process. Shown: per-rank compute / communication / idle, op durations by
# kind (shared bins), per-op error of the simulation, and both timelines on one time axis.

# %%
import os, pathlib, subprocess

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import ringlab


from nbsetup import FIG, ROOT  # repository root, figure folder
PROFILE = "h100_sxm_calibrated_wgmma"  # the kernels the real runs used
plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 130, "axes.grid": True, "grid.alpha": 0.3})

# The committed grids unpack into out/grids/<grid>/ with their measurement timestamps.
subprocess.run(["bash", "bench/results/grids/unpack.sh"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
# One trace per run and pass (<point>.<method>[.backward].json); the per-iteration traces (.iter<k>) are left out.
runs = [p for p in (ROOT / "out/grids").glob("*/w*_s*.json")
        if ".iter" not in p.name and not p.name.endswith(".summary.json")]
# When a grid was measured: the first timestamp of its clocks.csv (nvidia-smi during the run; the archives' file
# times are their packing time, the same for every grid).
def measured_at(grid):
    return pd.read_csv(grid / "clocks.csv", skipinitialspace=True)["timestamp"].min()


grids = {p.parent for p in runs if (p.parent / "clocks.csv").exists()}
newest_grid = max(grids, key=measured_at)
print("grids with real traces:", {g.name: measured_at(g) for g in sorted(grids)}, "-> newest:", newest_grid.name)

# The configuration: the newest grid's largest W=4 point with Llama-3-8B heads (H=32, Hkv=8, D=128, S=65536; held out
# from the calibration), ring (alltoall), forward and backward.
POINT = "w4_s65536_h32_k8_d128"
REAL = {"forward": newest_grid / f"{POINT}.alltoall.json", "backward": newest_grid / f"{POINT}.alltoall.backward.json"}
real = {ps: ringlab.load_trace(p) for ps, p in REAL.items()}
for ps, df in real.items():
    m = df.attrs["ringlab"]
    assert m["source"] == "real", m["source"]
    print(f"real {ps}: {REAL[ps].relative_to(ROOT)}: {m['hardware']}, {len(df)} ops")
cfg = ringlab.Config.from_meta(real["forward"].attrs["ringlab"]).replace(pass_="both")
sim = ringlab.simulate(cfg, PROFILE, trace=True, per_rank=True)
simulated = {"forward": sim.traces[0], "backward": sim.traces[1]}
print(cfg)

# %% [markdown]
# ## Step time and per-rank compute, communication and idle
#
# core's run summary of each trace (`ringlab.summarize_trace` for the real ones, the simulator's own for the
# simulated): compute = the compute stream busy, comm = the comm stream busy, overlap = both busy, idle = neither, up to
# the slowest rank's end. The real step time here is the traced iteration's (`ringlab run --trace`).

# %%
summ = {("real", ps): ringlab.summarize_trace(REAL[ps]) for ps in REAL}
summ.update({("sim", r["config"]["pass"]): r for r in sim.runs})
steps = pd.DataFrame({src: {ps: summ[(src, ps)]["step_time_us"] / 1e3 for ps in REAL} for src in ("real", "sim")})
steps["sim error %"] = (steps["sim"] / steps["real"] - 1) * 100
print("step time (ms) of the traced iteration:")
print(steps.round(3))

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=False)
for ax, ps in zip(axes, ("forward", "backward")):
    for j, src in enumerate(("real", "sim")):
        pr = ringlab.per_rank(summ[(src, ps)])
        x = np.arange(len(pr)) * 3 + j
        ax.bar(x, pr.overlap_us / 1e3, color="C2", label="compute under comm" if j == 0 else None)
        ax.bar(x, (pr.compute_us - pr.overlap_us) / 1e3, bottom=pr.overlap_us / 1e3, color="C0",
               label="compute only" if j == 0 else None)
        ax.bar(x, pr.comm_exposed_us / 1e3, bottom=pr.compute_us / 1e3, color="C3",
               label="exposed comm" if j == 0 else None)
        ax.bar(x, pr.idle_us / 1e3, bottom=(pr.compute_us + pr.comm_exposed_us) / 1e3, color="0.8",
               label="idle" if j == 0 else None)
    ax.set_xticks([r * 3 + 0.5 for r in range(len(pr))], [f"rank {r}\nreal | sim" for r in range(len(pr))],
                  fontsize=8)
    ax.set_ylabel("ms")
    ax.set_title(f"{ps}: real vs simulated ({PROFILE})", fontsize=10)
axes[0].legend(fontsize=7, loc="lower right")
fig.tight_layout()
fig.savefig(FIG / "trace_per_rank.png")

# %% [markdown]
# ## Op durations by kind (one set of bins per kind, shared by real and simulated)

# %%
pairs = [(f"{src} {ps}", df) for ps in REAL for src, df in (("real", real[ps]), ("sim", simulated[ps]))]
kinds = [k for k in ("attend", "send", "recv", "merge", "copy", "prepare")
         if any((df.kind == k).any() for _, df in pairs)]
fig, axes = plt.subplots(1, len(kinds), figsize=(3.6 * len(kinds), 3.6), squeeze=False)
for ax, k in zip(axes[0], kinds):
    durs = [(name, df.dur_us[df.kind == k]) for name, df in pairs]
    allv = pd.concat([d for _, d in durs])
    lo, hi = max(allv.min(), 1e-2), allv.max() * 1.01
    wide = hi / lo > 10  # log bins only where durations span more than a decade (else the tick labels collide)
    bins = np.logspace(np.log10(lo), np.log10(hi), 30) if wide else np.linspace(lo * 0.99, hi, 30)
    for i, (name, d) in enumerate(durs):
        if len(d):
            ax.hist(d, bins=bins, histtype="step", lw=1.6, label=name, color=f"C{i}")
    if wide:
        ax.set_xscale("log")
    ax.set_xlabel("duration (us)")
    ax.set_title(k)
axes[0][0].set_ylabel("ops")
fig.legend(*axes[0][0].get_legend_handles_labels(), loc="upper center", ncol=4, fontsize=8)
fig.tight_layout(rect=(0, 0, 1, 0.9))
fig.savefig(FIG / "trace_op_histograms.png")
pd.concat({name: df.groupby("kind", observed=True).dur_us.describe()[["count", "mean", "50%", "min", "max"]]
           for name, df in pairs}).round(1)

# %% [markdown]
# ## Per-op error of the simulation
#
# An op is (rank, op id) in both traces (core/trace.h), so each real op meets its simulated self.

# %%
rows = []
for ps in REAL:
    m = real[ps].merge(simulated[ps], on=["rank", "op"], suffixes=("_real", "_sim"))
    m["error_pct"] = (m.dur_us_sim / m.dur_us_real - 1) * 100
    m["pass"] = ps
    rows.append(m)
per_op = pd.concat(rows)
print(per_op.groupby(["pass", "kind_real"], observed=True).error_pct.describe()[["count", "50%", "min", "max"]]
      .round(1))

# %% [markdown]
# ## Timelines of the same iteration, real and simulated, on one time axis

# %%
colors = {"attend": "C0", "send": "C3", "recv": "C1", "merge": "C2", "copy": "C4", "prepare": "C7"}
fig, axes = plt.subplots(2, 1, figsize=(12, 5), sharex=True)
for ax, (name, df) in zip(axes, [("real (newest grid)", real["forward"]), (f"simulated, {PROFILE}",
                                                                           simulated["forward"])]):
    t0 = df.ts_us.min()
    ranks = sorted(df["rank"].unique())
    for i, r in enumerate(ranks):
        for st in (0, 1):
            g = df[(df["rank"] == r) & (df.stream == st)]
            ax.broken_barh(list(zip((g.ts_us - t0) / 1e3, g.dur_us / 1e3)), (i * 2 + st * 0.9, 0.8),
                           facecolors=[colors.get(k, "k") for k in g.kind])
    ax.set_yticks([i * 2 + 0.85 for i in range(len(ranks))], [f"rank {r}" for r in ranks])
    ax.set_title(f"{name}: forward, {cfg.world}x H100, S={cfg.seq}, H={cfg.heads}, Hkv={cfg.kv_heads}, "
                 f"D={cfg.dim}", fontsize=10)
for k, c in colors.items():
    if (real["forward"].kind == k).any():
        axes[0].plot([], [], color=c, lw=6, label=k)
axes[0].legend(fontsize=7, loc="upper right", ncol=4)
axes[1].set_xlabel("ms from the iteration's first op (lower bar: compute stream, upper: comm stream)")
fig.tight_layout()
fig.savefig(FIG / "trace_timeline.png")
for name, df in [("real forward", real["forward"]), ("sim forward", simulated["forward"]),
                 ("real backward", real["backward"]), ("sim backward", simulated["backward"])]:
    att = df[df.kind == "attend"]
    com = df[df.kind.isin(["send", "recv"])]
    print(f"{name}: attend median {np.median(att.flops / att.dur_us / 1e6):.1f} TFLOP/s; "
          f"send/recv median {np.median(com.bytes / com.dur_us / 1e3):.1f} GB/s (op bytes / op duration)")
