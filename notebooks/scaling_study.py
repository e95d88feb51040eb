# %% [markdown]
# # Scaling study: all-gather vs ring (alltoall) context parallelism, W = 8 … 16384
#
# Simulated with `ringlab sweep` on the **h100_sxm** profile: nodes of 8 H100 SXM on NVSwitch (NVLink 4, 326 GB/s
# per GPU achieved) joined by one InfiniBand NDR 400 Gb/s NIC per GPU (45 GB/s achieved). Problem: Llama-3-8B
# attention (B=1, H=32, Hkv=8, D=128, bf16, causal, head-tail sharding), forward pass. The sweeps run in this
# notebook through the `ringlab` Python package (`ringlab.sweep`: the CLI's `ringlab sweep`, same numbers).
#
# Grid: W ∈ {8, 32, 128, 512, 2048} × S ∈ {128K, 512K, 2M, 10M} tokens. W = 16384 costs minutes per point on two
# cores (an alltoall forward is 3·W² ≈ 805 million ops), so its S = 10M row is committed in `notebooks/data/` with
# its command rather than re-run on every execution.

# %%
import json, os, pathlib

import ringlab


from nbsetup import FIG, ROOT  # repository root, figure folder
PROFILE = "h100_sxm"
# The grid; then tokens per GPU from 512 to 32768 on 2 nodes (the ring crosses InfiniBand) and on 1 node (NVLink).
grid = ringlab.sweep({"world": [8, 32, 128, 512, 2048], "seq": [131072, 524288, 2097152, 10485760],
                      "method": ["allgather", "alltoall"], "pass_": "forward"}, profile=PROFILE)
threshold_ib = ringlab.sweep({"world": 16, "method": "alltoall", "seq": [
    8192, 16384, 32768, 65536, 81920, 90112, 98304, 102400, 106496, 110592, 114688, 122880, 131072, 262144, 524288]},
    profile=PROFILE)
threshold_nvlink = ringlab.sweep({"world": 8, "method": "alltoall", "seq": [
    1024, 4096, 8192, 9216, 10240, 10752, 11264, 11776, 12288, 16384, 32768, 65536]}, profile=PROFILE)
# Committed (too slow to regenerate on every run: ~5 CPU-minutes), made by
#   ringlab sweep --profile h100_sxm --worlds 16384 --seqs 10485760 --methods allgather,alltoall \
#       --passes forward --csv notebooks/data/sweep_w16384_s10M.csv
SLOW_DATA = "notebooks/data/sweep_w16384_s10M.csv"
print(f"{len(grid)} + {len(threshold_ib)} + {len(threshold_nvlink)} simulated points")

# %%
import numpy as np
import pandas as pd
import matplotlib
import matplotlib.pyplot as plt

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 130, "axes.grid": True, "grid.alpha": 0.3})

slow = pd.read_csv(ROOT / SLOW_DATA, keep_default_na=False)
grid = pd.concat([grid, slow[grid.columns.intersection(slow.columns)]], ignore_index=True)
grid = grid[grid["error"].fillna("").eq("")] if "error" in grid else grid
grid["tokens_per_gpu"] = grid["seq"] // grid["world"]
grid["exposed_frac"] = grid["exposed_comm_ms"] / grid["step_ms"]
profile = ringlab.load_profile(PROFILE)
print(f"{len(grid)} simulated points; profile: {profile['gpu']}")
table = grid.pivot_table(index=["world", "seq"], columns="method", values=["step_ms", "exposed_comm_ms", "mfu"])
table.columns = [f"{a} {b}" for a, b in table.columns]
table["ratio (ag/a2a)"] = table["step_ms allgather"] / table["step_ms alltoall"]
table["winner"] = np.select([abs(table["ratio (ag/a2a)"] - 1) < 0.005, table["ratio (ag/a2a)"] > 1],
                           ["tie (<0.5%)", "alltoall"], "allgather")
table.round(3)

# %% [markdown]
# ## Where each method wins
#
# Colour: step-time ratio all-gather / ring (> 1: the ring is faster). The number in each cell is that ratio.

# %%
def seq_label(s):
    return f"{s / 2**20:.0f}M" if s >= 2**20 else f"{s // 1024}K"

r = table["ratio (ag/a2a)"].unstack("seq")
fig, ax = plt.subplots(figsize=(7, 4.2))
lim = max(abs(np.log2(r.values[np.isfinite(r.values)])).max(), 0.2)
im = ax.imshow(np.log2(r.values.astype(float)), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
ax.set_xticks(range(r.shape[1]), [seq_label(s) for s in r.columns])
ax.set_yticks(range(r.shape[0]), [str(w) for w in r.index])
ax.set_xlabel("global sequence length S (tokens)")
ax.set_ylabel("GPUs W")
ax.grid(False)
for i in range(r.shape[0]):
    for j in range(r.shape[1]):
        v = r.values[i, j]
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9,
                    color="white" if abs(np.log2(v)) > 0.6 * lim else "black")
        else:
            ax.text(j, i, "—", ha="center", va="center", color="grey")
cb = fig.colorbar(im, ax=ax)
cb.set_label("log2(step allgather / step alltoall)")
ax.set_title("H100 SXM, 8/node, IB 400 Gb/s: red = ring (alltoall) faster")
fig.tight_layout()
fig.savefig(FIG / "scaling_winner_heatmap.png")
wins = table["winner"].value_counts().to_dict()
print("points won:", wins)

# %% [markdown]
# ## Step time, exposed communication and MFU against W

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
seqs = sorted(grid["seq"].unique())
colors = dict(zip(seqs, plt.cm.viridis(np.linspace(0, 0.9, len(seqs)))))
for s in seqs:
    for m, ls in (("allgather", "--"), ("alltoall", "-")):
        d = grid[(grid.seq == s) & (grid.method == m)].sort_values("world")
        if d.empty:
            continue
        kw = dict(color=colors[s], ls=ls, marker="o", ms=3)
        axes[0].plot(d.world, d.step_ms, label=f"{seq_label(s)} {m}", **kw)
        axes[1].plot(d.world, d.exposed_frac * 100, **kw)
        axes[2].plot(d.world, d.mfu * 100, **kw)
for ax, t in zip(axes, ["step time (ms)", "exposed communication (% of step)", "MFU (%)"]):
    ax.set_xscale("log", base=2)
    ax.set_xlabel("GPUs W")
    ax.set_title(t)
axes[0].set_yscale("log")
axes[0].legend(fontsize=7, ncol=2)
fig.suptitle("solid: ring (alltoall), dashed: all-gather; colour: sequence length")
fig.tight_layout()
fig.savefig(FIG / "scaling_step_exposed_mfu.png")

# %% [markdown]
# ## Tokens per GPU at which communication is hidden, against the closed form
#
# In a causal head-tail ring each step computes one off-diagonal block while the next K/V shard travels. With
# `s` tokens per GPU, that block is half of an s × s square: FLOPs = 4·H·D·s²/2 = 2·H·D·s². The message is K and V
# of s tokens: 2 · s · Hkv · D · 2 bytes (bf16) = 4·s·Hkv·D bytes. Communication is hidden when
# 2·H·D·s²/F ≥ 4·s·Hkv·D/B, i.e.
#
# $$ s^* = 2 \cdot \frac{H_{kv}}{H} \cdot \frac{F}{B} \quad \text{tokens per GPU,} $$
#
# with **F** the attention rate one GPU achieves on that block in FLOP/s (not the datasheet peak) and **B** the
# bytes/s one GPU's link delivers per direction (the slowest link of the ring: the InfiniBand NIC once the ring
# spans nodes, NVLink inside one node). The factor 2 carries bf16's 2 bytes per element; for fp32 it is 4. H and D
# cancel except through Hkv/H (GQA shrinks the message, not the work). Latency adds a constant per step, which
# moves the threshold up by about L·F/(2·H·D·s*) — small here.
#
# The simulator's threshold: the smallest tokens per GPU whose exposed communication is below 1% of the step.

# %%
def rate_at(table_points, tokens):
    """The profile's attention TFLOP/s at a block size (log2-linear interpolation, held outside)."""
    xs = np.log2([p[0] for p in table_points]); ys = [p[1] for p in table_points]
    return float(np.interp(np.log2(tokens), xs, ys))

comp, net = profile["compute"], profile["network"]
fwd_causal = next(t for t in comp["attention"] if t["pass"] == "forward" and t["mask"] == "full")
H, Hkv, D = 32, 8, 128
slow_f = 1 + comp["comm_slowdown"]["value"]

def closed_form(B_gbps, latency_us):
    # F depends weakly on the block size, so iterate: block size of an off-diagonal head-tail block = s/sqrt(2)
    s = 4096.0
    for _ in range(20):
        F = rate_at(fwd_causal["points"], s / np.sqrt(2)) * 1e12 / slow_f
        s = 2 * (Hkv / H) * F / (B_gbps * 1e9)
    F = rate_at(fwd_causal["points"], s / np.sqrt(2)) * 1e12 / slow_f
    # with latency: 2·H·D·s²/F = 4·s·Hkv·D/B + L  (positive root)
    a, b, c = 2 * H * D / F, -4 * Hkv * D / (B_gbps * 1e9), -latency_us * 1e-6
    s_lat = (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
    return s, s_lat, F

rows = []
for name, d, B, L in [("2 nodes (ring crosses IB)", threshold_ib, net["nic_gbps"]["value"], net["nic_latency_us"]["value"]),
                      ("1 node (NVLink only)", threshold_nvlink, net["nvlink_gbps"]["value"], net["nvlink_latency_us"]["value"])]:
    d = d.copy()
    d["tokens_per_gpu"] = d.seq // d.world
    d["exposed_frac"] = d.exposed_comm_ms / d.step_ms
    d = d.sort_values("tokens_per_gpu")
    hidden = d[d.exposed_frac < 0.01]
    below = d[d.exposed_frac >= 0.01]
    sim_s = hidden.tokens_per_gpu.min() if len(hidden) else np.nan
    prev = below[below.tokens_per_gpu < sim_s].tokens_per_gpu.max() if len(below) else np.nan
    s_star, s_lat, F = closed_form(B, L)
    rows.append(dict(ring=name, B_GBps=B, F_TFLOPs=F / 1e12, s_star_closed=s_star, s_star_with_latency=s_lat,
                     sim_first_hidden=sim_s, sim_last_exposed=prev, data=d))
thr = pd.DataFrame([{k: v for k, v in r.items() if k != "data"} for r in rows])
thr.round(1)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, r in zip(axes, rows):
    d = r["data"]
    ax.plot(d.tokens_per_gpu, d.exposed_frac * 100, "o-", label="simulated exposed comm")
    ax.axvline(r["s_star_closed"], color="C3", ls="--", label=f"closed form s* = {r['s_star_closed']:.0f}")
    ax.axvline(r["s_star_with_latency"], color="C2", ls=":", label=f"with latency {r['s_star_with_latency']:.0f}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("tokens per GPU (S / W)")
    ax.set_ylabel("exposed comm (% of step)")
    ax.set_title(f"{r['ring']}: B = {r['B_GBps']:.0f} GB/s, F = {r['F_TFLOPs']:.0f} TFLOP/s")
    ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIG / "scaling_threshold.png")
for r in rows:
    print(f"{r['ring']}: closed form s* = {r['s_star_closed']:.0f} tokens/GPU "
          f"({r['s_star_with_latency']:.0f} with latency); simulator: exposed at {r['sim_last_exposed']:.0f}, "
          f"hidden from {r['sim_first_hidden']:.0f} (grid resolution)")

# %% [markdown]
# ## Reading the results
#
# * Inside one node the ring's shards travel over NVLink and communication is hidden from about a thousand tokens per
#   GPU; once the ring spans nodes the slowest hop is the 45 GB/s NIC and the threshold rises roughly sevenfold.
# * All-gather moves the same bytes but must finish the whole gather before it can use the last shard, and over
#   IB its ring of W−1 steps grows with W; the ring overlaps each step with a block of attention, so it wins
#   wherever the per-step block is big enough (large S/W) and ties where everything is hidden.
# * At very large W with fixed S, tokens per GPU fall below s* and both methods become communication bound: MFU
#   collapses. The heatmap and the threshold figure are the same fact seen two ways: what matters is S/W against s*.
#
# Ulysses (head all-to-all) and the 2-D Ulysses × ring hybrid, which win at large W, are in `ulysses_study.ipynb`.
