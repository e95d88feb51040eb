# %% [markdown]
# # Packed documents without padding: load balance and step time against document lengths, window and W
#
# `ringlab balance` (core/mask_balance.h) places the tokens of one packed sequence of S = 1,048,576 tokens on W
# ranks four ways: **contiguous**, global **head-tail** (2W chunks), **doc-head-tail** (every document cut into 2W
# pieces, rank r takes pieces r and 2W−1−r; no padding, pieces differ by at most a token) and **greedy** (whole
# documents, heaviest first, onto the least-loaded rank; a document heavier than the mean per rank is cut
# doc-head-tail). Work = FLOP-counting (query, key) pairs under the mask (causal within documents, optionally a
# sliding window). The step estimate takes its costs from the calibrated profile `h100_sxm_calibrated` (validated
# against 4×H100 runs, bench/results/sim_validation.md): the slowest rank's compute (its ring blocks costed by the
# simulator's cost model as masked blocks of their visible pairs) against K/V hops of the largest shard (the
# profile's NVLink table inside a node, its NIC line across nodes), as many hops as the most ranks one document spreads
# over, less one (for contiguous and head-tail, the schedule's own ring reach). doc-head-tail and greedy give ranks
# different token counts, so they stay estimates. The shardings every executor runs — contiguous, head-tail and
# **balanced** (4W equal chunks handed out by their work under the mask, 4 per rank; core/sharding.h) — are also
# scheduled and **event-simulated** (ring pass-KV forward on the same profile; the last sections). Beyond one node
# the NIC numbers are the profile's unmeasured line.
#
# Document lengths: `uniform` (128..8192), `lognormal` (median 2048, σ 1.2) and `pretrain-mix` (60% short, 30%
# medium, 10% long documents with median 40,000 tokens), drawn with seed 1 (core/mask_documents.h).

# %%
# Data: the exact commands that produced it (repository root; build/apps/ringlab is replaced by $RINGLAB_BIN).
DISTRIBUTIONS = ["uniform", "lognormal", "pretrain-mix"]
WINDOWS = {"none": "", "4096": "+window:4096,0"}
COMMANDS = [  # a literal list: scripts/run_notebooks.sh reads it with ast.literal_eval
    "build/apps/ringlab balance --seq 1048576 --world 8,16,32,64,128,256,512,1024 "
    "--mask causal+docs-synthetic:uniform --json out/notebooks/mask_balance.uniform.none.json",
    "build/apps/ringlab balance --seq 1048576 --world 8,16,32,64,128,256,512,1024 "
    "--mask causal+docs-synthetic:uniform+window:4096,0 --json out/notebooks/mask_balance.uniform.4096.json",
    "build/apps/ringlab balance --seq 1048576 --world 8,16,32,64,128,256,512,1024 "
    "--mask causal+docs-synthetic:lognormal --json out/notebooks/mask_balance.lognormal.none.json",
    "build/apps/ringlab balance --seq 1048576 --world 8,16,32,64,128,256,512,1024 "
    "--mask causal+docs-synthetic:lognormal+window:4096,0 --json out/notebooks/mask_balance.lognormal.4096.json",
    "build/apps/ringlab balance --seq 1048576 --world 8,16,32,64,128,256,512,1024 "
    "--mask causal+docs-synthetic:pretrain-mix --json out/notebooks/mask_balance.pretrain-mix.none.json",
    "build/apps/ringlab balance --seq 1048576 --world 8,16,32,64,128,256,512,1024 "
    "--mask causal+docs-synthetic:pretrain-mix+window:4096,0 --json out/notebooks/mask_balance.pretrain-mix.4096.json",
]
OUTPUTS = [f"out/notebooks/mask_balance.{d}.{name}.json" for d in DISTRIBUTIONS for name in WINDOWS]

import json

from nbsetup import FIG, ROOT, run_commands

def current(path):
    # An output of an earlier `ringlab balance` (no event-simulated shardings) is not reused.
    try:
        return "simulated_shardings" in json.load(open(ROOT / path))
    except (OSError, ValueError):
        return False

def ensure_data():
    if all(current(o) for o in OUTPUTS):
        print("data present:", len(OUTPUTS), "files")
        return
    run_commands(COMMANDS)

ensure_data()

# %%
import pandas as pd

frames, sim_frames = [], []
for d in DISTRIBUTIONS:
    for name in WINDOWS:
        doc = json.loads((ROOT / f"out/notebooks/mask_balance.{d}.{name}.json").read_text())
        for key, out in (("rows", frames), ("simulated_shardings", sim_frames)):
            df = pd.DataFrame(doc[key])
            df["distribution"], df["window"], df["documents"] = d, name, doc["documents"]
            out.append(df)
rows = pd.concat(frames, ignore_index=True)
sims = pd.concat(sim_frames, ignore_index=True)
rows.pivot_table(index=["distribution", "window", "world"], columns="layout", values="imbalance").round(3)

# %% [markdown]
# ## Imbalance (max / mean work per rank) against W
# Contiguous and global head-tail follow where the long documents fall; doc-head-tail is balanced until documents
# get shorter than 2W tokens (its pieces go empty), greedy until one document outweighs a rank's share.

# %%
import matplotlib.pyplot as plt

LAYOUTS = ["contiguous", "head-tail", "doc-head-tail", "greedy"]

def plot_grid(value, ylabel, figure, rows=rows, column="layout", lines=LAYOUTS):
    """One panel per (window, distribution): `value(rows of a line)` against W, a line per layout (or sharding)."""
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), sharex=True)
    for row, name in enumerate(WINDOWS):
        for col, d in enumerate(DISTRIBUTIONS):
            ax = axes[row][col]
            sub = rows[(rows.distribution == d) & (rows.window == name)]
            for l in lines:
                s = sub[sub[column] == l]
                ax.plot(s.world, value(s), marker="o", label=l)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title(f"{d}, window {name}")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend()
    for ax in axes[1]:
        ax.set_xlabel("W")
    fig.tight_layout()
    fig.savefig(FIG / figure, dpi=110)

plot_grid(lambda s: s.imbalance, "max / mean work", "mask_balance_imbalance.png")

# %% [markdown]
# ## Estimated ring step against W (the chooser takes the shortest)

# %%
plot_grid(lambda s: s.step_us / 1e3, "step (ms, estimate)", "mask_balance_step.png")

# %%
chosen = rows[rows.chosen].pivot_table(index=["distribution", "window"], columns="world", values="layout",
                                       aggfunc="first")
chosen

# %% [markdown]
# ## Event-simulated step of the executable shardings against W
# contiguous, head-tail and balanced scheduled and simulated (ring pass-KV forward, `h100_sxm_calibrated`). Balanced
# evens out the work (first panel) but scatters every document around the ring, so its ring cannot be cut early;
# contiguous keeps documents local. Which wins depends on W and the document lengths: the simulated step decides.
# A block that the documents or the window leave partly visible is charged by the tiles the mask touches
# (sim/masked_work.h) at the profile's masked-kernel terms, fitted on 36 measured masked kernels on one H100; held out
# on 42 others (6 shapes, 7 masks) the forward came out within 6.9% at the median, 24% at worst, the backward 5.4% /
# 24% (bench/results/mask_kernels_h100.md).

# %%
SHARDINGS = ["contiguous", "head-tail", "balanced"]
ran = sims[sims.simulated]
plot_grid(lambda s: s.imbalance, "max / mean compute (simulated)", "mask_balance_sim_imbalance.png", rows=ran,
          column="sharding", lines=SHARDINGS)
plot_grid(lambda s: s.step_us / 1e3, "step (ms, event-simulated)", "mask_balance_sim_step.png", rows=ran,
          column="sharding", lines=SHARDINGS)

# %%
fastest = ran[ran.chosen].pivot_table(index=["distribution", "window"], columns="world", values="sharding",
                                      aggfunc="first")
fastest
