# %% [markdown]
# # Ulysses and the 2-D hybrid against the ring, W = 8 … 16,384
#
# The scaling study (`scaling_study.ipynb`) compares the two methods of plain context parallelism (all-gather and
# the ring). This notebook adds **Ulysses** (an all-to-all turns the sequence-sharded Q, K, V into head-sharded ones,
# each GPU attends over the whole sequence on H/U heads, a second all-to-all brings the output back) and the **2-D
# hybrid** W = U × R (Ulysses inside groups of U, a ring — pass-KV or all-gather — across the R groups). Placement
# `consecutive` puts a Ulysses group on U consecutive ranks (inside a node when U ≤ 8: the all-to-all on NVLink, the
# ring across nodes); `strided` puts a ring on consecutive ranks (the ring inside a node, the all-to-all across).
#
# Naming: the project calls the ring method `alltoall` (PyTorch's name for pass-KV); that is **not** the Ulysses
# all-to-all. Below, "ring" is the pass-KV ring and "all-gather" the all-gather method, "across R" the method the
# hybrid runs over its ring dimension.
#
# **Profile `h100_sxm_calibrated`**, the default: the kernels this project runs (kernel tables validated on held-out
# single-GPU shapes; its NCCL and host numbers validated against 4×H100 runs, `calibration_report.ipynb`): nodes of 8
# H100 SXM on NVLink, one 400 Gb/s NIC per GPU. **Every all-to-all cost is extrapolated**: no NCCL all-to-all has been
# measured yet (the profile has no `network.alltoall_time_us`), so the simulator charges the NVLink/NIC line (U−1
# concurrent flows per member, sim/README.md "Ulysses and the hybrid"); across nodes it assumes a non-blocking fabric,
# so inter-node all-to-alls are optimistic. Compute costs are the profile's measured kernel tables and fitted wave
# model; the share of compute time outside the measured tables is reported with every table (`extrapolated_share`).
#
# Problem: **Llama-3-70B attention** (H = 64 query heads, Hkv = 8 KV heads, D = 128, bf16, causal, head-tail
# sharding, batch 1), one attention layer, **forward + backward** (a training step), through the `ringlab` package
# (`ringlab.sweep`, `ringlab.plan`, `ringlab.schedule`: the CLI's numbers).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import ringlab
from nbsetup import FIG, ROOT  # repository root, figure folder

PROFILE = "h100_sxm_calibrated"
MODEL = {"heads": 64, "kv_heads": 8, "dim": 128}
SEQS = [131072, 524288, 1048576, 4194304]
PASS = "both"  # forward + backward, summed
# Simulation cost: with ulysses > 1 (and with this profile's two causal block costs) the simulator runs every rank's
# program, about 4 us of CPU per ring step of each rank (W·R steps per point, R = W/U; R = W for the plain ring).
# W ≤ 256 runs here (a few seconds); W = 1024, 4096 and 16384 (minutes) are read from notebooks/data/, made by
# notebooks/data/ulysses_slow_points.sh with a subset of the layouts (listed below).
LIVE_WORLDS = [8, 16, 64, 256]
SLOW_DATA = "notebooks/data/ulysses_w1024_16384.csv"
JOBS = 2
profile = ringlab.load_profile(PROFILE)
print(f"profile {profile.name}: {profile['gpu']}, measured all-to-all table: "
      f"{'yes' if profile['network'].get('alltoall_time_us') else 'no (all-to-all extrapolated)'}")

# %% [markdown]
# ## Every layout at every point
#
# Candidates at each W: the plain ring and all-gather (U = 1), pure Ulysses (U = W, only while W divides H and the
# GQA rule allows: W ≤ 64), and every hybrid U × R with 1 < U < W, U dividing H = 64 and U dividing Hkv or a multiple
# of it (U ∈ {2, 4, 8, 16, 32, 64}), both placements, ring or all-gather across R.

# %%
def valid_u(u, heads=MODEL["heads"], kv=MODEL["kv_heads"]):
    return heads % u == 0 and (kv % u == 0 or u % kv == 0)


def candidates(w):
    """Every valid (ulysses, method, placement) layout at world w (method: across R; "alltoall" is the ring)."""
    keep = []
    for u in [1, 2, 4, 8, 16, 32, 64]:
        if w % u or not valid_u(u) or u > w:
            continue
        r = w // u
        layouts = [(u, m, "consecutive") for m in ("allgather", "alltoall")] if u == 1 else (
            [(u, "alltoall", "consecutive")] if r == 1 else
            [(u, m, p) for m in ("allgather", "alltoall") for p in ("consecutive", "strided")])
        keep.extend(layouts)
    return keep


def family(row):
    if row.ulysses == 1:
        return "ring" if row.method == "alltoall" else "all-gather"
    return "Ulysses" if row.ulysses == row.world else "hybrid"


def label(row):
    if row.ulysses == 1:
        return f"{family(row)} W{row.world}"
    if row.ulysses == row.world:
        return f"Ulysses U{row.ulysses}"
    across = "ring" if row.method == "alltoall" else "ag"
    return f"U{row.ulysses}×R{row.world // row.ulysses} {row.placement[:6]} {across}"


t0 = time.perf_counter()
frames, timings = [], []
for w in LIVE_WORLDS:
    keep = candidates(w)
    for u in sorted({k[0] for k in keep}):
        methods = sorted({k[1] for k in keep if k[0] == u})
        places = sorted({k[2] for k in keep if k[0] == u})
        t = time.perf_counter()
        frames.append(ringlab.sweep({"world": w, "seq": SEQS, "method": methods, "pass_": PASS, "ulysses": u,
                                     "placement": places, **MODEL}, jobs=JOBS, profile=PROFILE))
        timings.append((w, u, len(frames[-1]), time.perf_counter() - t))
sim_s = time.perf_counter() - t0
slow = pd.read_csv(ROOT / SLOW_DATA, keep_default_na=False)
live = pd.concat(frames, ignore_index=True)
res = pd.concat([live, slow[live.columns.intersection(slow.columns)]], ignore_index=True)
bad = res[res["error"] != ""]
res = res[res["error"] == ""].copy()
res["family"] = res.apply(family, axis=1)
res["layout"] = res.apply(label, axis=1)
res["exposed_share"] = res["exposed_comm_ms"] / res["step_ms"]
print(f"{len(live)} points simulated here in {sim_s:.1f} s wall, {len(slow)} read from {SLOW_DATA}; "
      f"{len(bad)} failed")
print("slowest sweeps here (W, U, points, s):", [(w, u, n, round(s, 1)) for w, u, n, s in
                                                 sorted(timings, key=lambda x: -x[3])[:3]])
# The layouts the committed data leaves out (too slow to simulate here: W·R ring steps per point).
have = set(zip(res.world, res.seq, res.ulysses, res.method, res.placement))
missing = [(w, s, u, m, p) for w in sorted(slow.world.unique()) for s in SEQS for u, m, p in candidates(w)
           if (w, s, u, m, p) not in have]
missing = pd.DataFrame(missing, columns=["world", "seq", "ulysses", "method", "placement"])
print("not simulated (world: ulysses degrees [seqs]):")
for w, d in missing.groupby("world"):
    print(f"  W={w}: U in {[int(u) for u in sorted(d.ulysses.unique())]}, {len(d)} (layout, seq) points")

# %% [markdown]
# The best of each family at every (W, S). `extrapolated_share` is the share of compute time whose kernel shape lies
# outside the profile's measured tables (the summaries' number; the all-to-all, always extrapolated, comes on top).

# %%
best = (res.sort_values("step_ms").groupby(["world", "seq", "family"], as_index=False).first())
table = best.pivot_table(index=["world", "seq"], columns="family", values="step_ms")
winner = best.loc[best.groupby(["world", "seq"])["step_ms"].idxmin()].set_index(["world", "seq"])
table["winner"] = winner["layout"]
table["ring / winner"] = table[["ring", "all-gather"]].min(axis=1) / winner["step_ms"]
table["exposed % (winner)"] = 100 * winner["exposed_share"]
table["extrapolated % (winner)"] = 100 * winner["extrapolated_share"]
table.round(2)


# %% [markdown]
# ### How much of this is extrapolated
#
# Two sources. (1) Compute: the summaries' `extrapolated_share`, the share of compute time whose kernel shape lies
# outside the measured tables (`extrapolated_dims`: `ctas`, more heads × query tiles than the calibration grid's H=8
# runs launched, and `block_size`; the rates there come from the fitted wave model). (2) Every all-to-all (`alltoall_cost` in the simulator's JSON): its
# weight is the time the all-to-alls take on the comm stream, shown for a traced hybrid at 64 GPUs and 1M tokens
# (rank 0, as a share of the step) — the part of the step that would move if a measured all-to-all differs from the
# line.

# %%
print("compute extrapolated (% of compute time), by family:")
print((res.groupby("family")["extrapolated_share"].agg(["min", "median", "max"]) * 100).round(1).to_string())
traced = ringlab.simulate(ringlab.Config(world=64, seq=1048576, ulysses=8, method="alltoall", pass_="both",
                                         **MODEL), PROFILE, trace=[0])
for run, tr in zip(traced.runs, traced.traces):
    a2a_us = tr[(tr["rank"] == 0) & (tr["kind"] == "all-to-all")]["dur_us"].sum()
    print(f"U8×R8 {run['config']['pass']}: alltoall_cost = {run.get('alltoall_cost')}, all-to-all on rank 0's comm "
          f"stream {a2a_us / 1e3:.1f} ms = {100 * a2a_us / run['step_time_us']:.1f}% of the "
          f"{run['step_time_us'] / 1e3:.1f} ms step; exposed comm {run.get('exposed_comm_us', float('nan')) / 1e3:.1f} ms")

# %% [markdown]
# ## (a) Step time against W
#
# Forward + backward of one attention layer. Plain context parallelism (best of ring and all-gather), pure Ulysses
# (U = W ≤ 64) and the best hybrid at each W. The plain ring is not simulated beyond W = 1024 (cost: W² steps).

# %%
def seq_label(s):
    return f"{s / 2**20:.0f}M" if s >= 2**20 else f"{s // 1024}K"


styles = {"ring": ("C0", "o-"), "all-gather": ("C1", "s--"), "Ulysses": ("C2", "D-"), "hybrid": ("C3", "^-")}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.3), sharey=False)
for ax, s in zip(axes, [131072, 1048576]):
    for fam, (c, st) in styles.items():
        d = best[(best.seq == s) & (best.family == fam)].sort_values("world")
        if d.empty:
            continue
        ax.plot(d.world, d.step_ms, st, color=c, ms=4, label=fam)
        if fam == "hybrid":
            for _, r in d.iterrows():
                ax.annotate(f"U{r.ulysses}×R{r.world // r.ulysses}", (r.world, r.step_ms), fontsize=7,
                            xytext=(3, -10), textcoords="offset points", color=c)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("GPUs W (8 per node)")
    ax.set_ylabel("fwd+bwd step (ms)")
    ax.set_title(f"Llama-3-70B attention, S = {seq_label(s)}")
    ax.legend(fontsize=8)
fig.suptitle(f"{PROFILE} (all-to-all extrapolated): best layout of each family", fontsize=10)
fig.tight_layout()
fig.savefig(FIG / "ulysses_step_vs_w.png")

# %% [markdown]
# ## (b) Which layout wins
#
# Colour: the winning family; text: the winning layout and its margin over the best plain context parallelism
# ("×" = ring or all-gather step / winner step; "—" where the plain ring was not simulated).

# %%
fam_code = {"ring": 0, "all-gather": 1, "Ulysses": 2, "hybrid": 3}
grid_w = sorted(res.world.unique())
fig, ax = plt.subplots(figsize=(9, 4.8))
codes = np.full((len(grid_w), len(SEQS)), np.nan)
for i, w in enumerate(grid_w):
    for j, s in enumerate(SEQS):
        if (w, s) not in winner.index:
            continue
        r = winner.loc[(w, s)]
        codes[i, j] = fam_code[r.family]
        margin = table.loc[(w, s), "ring / winner"]
        name = r.layout.replace(" consecutive", " cons").replace(" strided", " str").replace(" ring", "")
        name = name.replace(" ag", " (ag)") if r.family == "hybrid" else name
        ax.text(j, i, f"{name}\n{margin:.2f}×" if np.isfinite(margin) else f"{name}\n—", ha="center",
                va="center", fontsize=7)
cmap = plt.matplotlib.colors.ListedColormap(["#9ecae1", "#fdd0a2", "#a1d99b", "#fcbba1"])
ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=3.5, aspect="auto")
ax.set_xticks(range(len(SEQS)), [seq_label(s) for s in SEQS])
ax.set_yticks(range(len(grid_w)), [str(w) for w in grid_w])
ax.set_xlabel("global sequence length S (tokens)")
ax.set_ylabel("GPUs W")
ax.grid(False)
handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(k)) for k in fam_code.values()]
ax.legend(handles, fam_code.keys(), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
ax.set_title("winner (fwd+bwd); cons = Ulysses inside a node, str = ring inside a node; (ag) = all-gather across R",
             fontsize=9)
fig.tight_layout()
fig.savefig(FIG / "ulysses_winner_map.png")
print("points won:", winner.family.value_counts().to_dict())

# %% [markdown]
# Cross-check with `ringlab plan` (its own candidate list and pruned search) at one point: 64 GPUs, 1M tokens.

# %%
t = time.perf_counter()
plan = ringlab.plan(**MODEL, seq=1048576, gpus_per_node=8, nodes=8, profile=PROFILE, shardings=["head-tail"],
                    jobs=JOBS)
plan_s = time.perf_counter() - t
ours = winner.loc[(64, 1048576)] if (64, 1048576) in winner.index else None
print(f"plan in {plan_s:.1f} s: best {plan.iloc[0].layout} ({plan.iloc[0].method}) "
      f"{plan.iloc[0].step_ms:.1f} ms; {plan.attrs.get('best_reason', '')}")
print("KV-head cap:", plan.attrs.get("kv_head_cap", ""))
if ours is not None:
    print(f"this notebook's winner there: {ours.layout} {ours.step_ms:.1f} ms "
          f"({'same' if abs(ours.step_ms - plan.iloc[0].step_ms) < 1e-6 * ours.step_ms else 'DIFFERENT'} step)")
plan.head(5)[["layout", "method", "forward_ms", "backward_ms", "step_ms", "exposed_comm_ms", "memory_gib"]].round(2)

# %% [markdown]
# ## (c) The KV-head cap
#
# Ulysses gives each GPU H/U query heads and the KV heads they read. With GQA (Hkv = 8) a degree U ≤ 8 splits the
# KV heads without copies; beyond 8 each GPU still needs one whole KV head, so every KV head is **replicated U/8
# times** (core/ulysses_layout.h: only as much as needed) and the replicas travel in the all-to-all. MHA (Hkv = H = 64)
# never replicates but moves 8× the K/V bytes to begin with. Fixed cluster: 64 GPUs (8 nodes), U × R = 64,
# consecutive placement, ring across R; bytes one rank sends per forward pass, from the schedule (`ringlab.schedule`),
# split into the Ulysses all-to-all of K and V, of Q, the output (float32 accumulator) and lse, and the ring's K/V
# messages.

# %%
CAP_W, CAP_S = 64, 1048576
rows = []
t = time.perf_counter()
for kv in (8, 64):
    for u in (1, 2, 4, 8, 16, 32, 64):
        cfg = ringlab.Config(world=CAP_W, seq=CAP_S, heads=64, kv_heads=kv, dim=128, ulysses=u,
                             method="alltoall", pass_="forward")
        ops = ringlab.schedule(cfg, ranks=[0])
        comm = ops[ops.stream == "comm"]
        a2a = comm[comm.kind == "all-to-all"]
        is_kv = a2a.reads.str.startswith("kv")  # forward: kv, q, out_heads, lse_heads
        rows.append({"kv_heads": kv, "ulysses": u, "replication": max(1, u // kv),
                     "a2a K/V MiB": a2a[is_kv].bytes.sum() / 2**20,
                     "a2a Q, O, lse MiB": a2a[~is_kv].bytes.sum() / 2**20,
                     "ring MiB": comm[comm.kind == "send"].bytes.sum() / 2**20})
cap = pd.DataFrame(rows)
cap_sweep = pd.concat([ringlab.sweep({"world": CAP_W, "seq": CAP_S, "method": "alltoall", "pass_": PASS,
                                      "ulysses": u, "heads": 64, "kv_heads": [8, 64], "dim": 128},
                                     jobs=JOBS, profile=PROFILE)
                       for u in (1, 2, 4, 8, 16, 32, 64)], ignore_index=True)
cap = cap.merge(cap_sweep[["kv_heads", "ulysses", "step_ms", "exposed_comm_ms", "peak_memory_gib"]],
                on=["kv_heads", "ulysses"])
print(f"schedules and sweeps in {time.perf_counter() - t:.1f} s")
cap.round(2)

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
cap["total MiB"] = cap[["a2a K/V MiB", "a2a Q, O, lse MiB", "ring MiB"]].sum(axis=1)
for k, (kv, name) in enumerate([(8, "GQA Hkv=8"), (64, "MHA Hkv=64")]):
    d = cap[cap.kv_heads == kv].sort_values("ulysses")
    axes[0].plot(d.ulysses, d["a2a K/V MiB"], "o-", color=f"C{k}", label=name)
    if kv == 8:
        for _, r in d[d.replication > 1].iterrows():
            axes[0].annotate(f"×{int(r.replication)} copies", (r.ulysses, r["a2a K/V MiB"]), fontsize=7,
                             xytext=(-30, 6), textcoords="offset points", color=f"C{k}")
    axes[1].plot(d.ulysses, d["total MiB"], "o-", color=f"C{k}", label=f"{name}: all sent")
    axes[1].plot(d.ulysses, d["ring MiB"], "x:", color=f"C{k}", label=f"{name}: ring part")
    axes[2].plot(d.ulysses, d.step_ms, "o-", color=f"C{k}", label=f"{name}: step")
    axes[2].plot(d.ulysses, d.exposed_comm_ms, "x:", color=f"C{k}", label=f"{name}: exposed comm")
for ax, t in zip(axes, ["Ulysses all-to-all: K/V MiB per rank", "MiB sent per rank (a2a + ring), forward",
                        "fwd+bwd step and exposed comm (ms)"]):
    ax.axvline(8, color="grey", ls=":")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("Ulysses degree U (R = 64 / U)")
    ax.set_title(t, fontsize=10)
    ax.legend(fontsize=7)
axes[1].set_yscale("log")
axes[2].set_yscale("log")
fig.suptitle(f"64 GPUs, S = {seq_label(CAP_S)}, H = 64, D = 128; dotted line: U = Hkv = 8 (GQA replicates K/V "
             "heads beyond it)", fontsize=10)
fig.tight_layout()
fig.savefig(FIG / "ulysses_kv_head_cap.png")

# %% [markdown]
# ## (d) Exposed communication per layout
#
# The share of the step during which a GPU waits for communication (exposed_comm / step), for the best layout of
# each family at each W.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
for ax, s in zip(axes, [131072, 1048576]):
    for fam, (c, st) in styles.items():
        d = best[(best.seq == s) & (best.family == fam)].sort_values("world")
        if not d.empty:
            ax.plot(d.world, 100 * d.exposed_share, st, color=c, ms=4, label=fam)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("GPUs W")
    ax.set_title(f"S = {seq_label(s)}")
axes[0].set_ylabel("exposed communication (% of step)")
axes[0].legend(fontsize=8)
fig.suptitle("exposed communication of each family's best layout (fwd+bwd)", fontsize=10)
fig.tight_layout()
fig.savefig(FIG / "ulysses_exposed_share.png")
best.pivot_table(index=["seq", "world"], columns="family", values="exposed_share").mul(100).round(1)

# %% [markdown]
# ## Reading the results
#
# (All-to-all costs extrapolated from the NVLink/NIC line; compute mostly from the fitted wave model beyond the
# measured H=8 shapes: read margins of a few percent as ties.)
#
# * **One node (W = 8)**: pure Ulysses U8 and the ring are within 1–2%: the ring hides its NVLink traffic, the
#   all-to-all costs a few ms.
# * **Up to 64 GPUs**: hybrids with the Ulysses group inside a node (`consecutive`, U = 8–16) win, by 1.9× at 128K
#   tokens on 64 GPUs (all-gather across R) and by 1–7% from 512K, where the plain ring already hides its traffic.
#   `ringlab.plan` picks the same layout at 64 GPUs and 1M tokens.
# * **Hundreds to thousands of GPUs**: the plain ring's shards (S/W tokens) get too small to hide a ring step, while
#   a hybrid keeps S/R tokens per ring shard; U = 16–64 hybrids win by 1.5–9× at 256–1,024 GPUs up to 1M tokens
#   (at 4M tokens by 2% on 256 GPUs and 1.55× on 1,024). At 4,096 and
#   16,384 GPUs only U = 64 (the cap U ≤ H) was simulated; with R ≥ 64 the ring again dominates at 128K tokens
#   (16,384 GPUs is slower than 4,096 there: 8 tokens per GPU).
# * **The KV-head cap**: with Hkv = 8, U > 8 replicates each KV head U/8 times; the all-to-all's K/V bytes grow from
#   56 MiB (U8) to 504 MiB (U64, as much as MHA) and exposed communication rises from 9 ms to 78 ms at 64 GPUs, 1M
#   tokens, so GQA's best U stops at Hkv = 8 there. MHA moves 8× the ring bytes, so it wants the largest U.
# * **Exposed communication**: all-gather exposes the most (35–47% at ≥ 256 GPUs). The plain ring exposes almost
#   nothing yet loses at large W: its cost there is compute on tiny blocks (S/W tokens), not waiting. Hybrids expose
#   0–25% (most at 128K tokens on 256 GPUs, where their shorter ring still wins by 5.9×).
# * Not simulated (cost, listed above): the plain ring at W ≥ 4096 and hybrids with U < 32 at W = 4096, U < 64 at
#   16,384 (and 512K/4M tokens at 16,384).
