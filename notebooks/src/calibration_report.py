# %% [markdown]
# # Simulator calibration and validation report
#
# Calibrates the simulator's h100_sxm profile and validates it on grid points it never saw. Data:
# `bench/results/calibration_grid_steady/`, one call of `bench/calibrate_and_grid.sh` on 4x H100 80GB HBM3
# (binaries at 48980cf: wgmma kernels, the executor's deterministic pass start, 1 s warm-up per run, every timed
# iteration traced): `ringlab calibrate` microbenchmarks (`calibrate_samples_combined.json`: 166 kernel block shapes
# each timed after a 3 s pre-heat and 100 ms of back-to-back launches; NCCL pair, ring and all-gather over 5 sizes,
# alone, beside a kernel and posted during one, with the GPUs held while the host posts) and the 34-point
# `ringlab run` grid (W in {2, 4}, S from 16384 to 262144, (H, Hkv) in {(32,32), (32,8), (8,8), (8,2)}, D in
# {64, 128}, both methods, forward and backward traces plus each point's `*.summary.json` medians).
# **What is fitted on what**: every kernel and NCCL number (round tables, CTAs per SM, causal factor, memory
# bandwidths, NVLink, hop latency, start wait, NCCL SMs) from the microbenchmarks; from the runs only host numbers
# (gap between kernels, ranks' start skew, pass-start order, how often NCCL displaces a kernel's last round), taken
# from every timed iteration of the 10 points with H = 8, Hkv = 2 (a split fixed in advance);
# the 24 points with (H, Hkv) in {(32,32), (32,8), (8,8)} are held out (48 runs). Measured step times are the
# summaries' medians (`fwd_ms`, `fwdbwd_ms`: slowest rank's median of 5 timed iterations); simulated fwd+bwd =
# simulated forward step + simulated backward step. `scripts/calibrate/reproduce_results.sh` regenerates every
# committed table, including the microbenchmarks-only and traces-only comparisons shown below.

# %%
# Data: the exact commands that produced it (repository root; build/apps/ringlab is replaced by $RINGLAB_BIN).
# With --out sim/profiles/h100_sxm_calibrated.json, --profile sim/profiles/h100_sxm_calibrated.json,
# --out bench/results/sim_validation (and --notes bench/results/sim_validation.notes.md) they give the committed
# profile and bench/results/sim_validation.{md,json} (the header of that file has the commands as run).
# The globs match only <point>.{allgather,alltoall}[.backward][.iter<k>].json, never *.summary.json or *.log;
# validate.py keeps one trace per run and pass (the median iteration's), calibrate.py reads every timed iteration.
COMMANDS = [
    "RINGLAB_BIN=build/apps/ringlab .venv/bin/python scripts/calibrate/calibrate.py "
    "--microbench bench/results/calibration_grid_steady/calibrate_samples_combined.json "
    "--traces 'bench/results/calibration_grid_steady/w*_h8_k2_*.all*.iter*.json' "
    "--split 'calibration = the 10 grid points with H=8, Hkv=2 (every W, S, D; their 5 timed iterations each give only "
    "host numbers), held out = the 24 points with (H, Hkv) in {(32,32), (32,8), (8,8)}' "
    "--runs-commit 48980cf --out out/notebooks/h100_sxm_calibrated.json "
    "--samples-out out/notebooks/h100_sxm_calibrated.samples.json",
    "RINGLAB_BIN=build/apps/ringlab .venv/bin/python scripts/calibrate/validate.py "
    "--profile out/notebooks/h100_sxm_calibrated.json --traces 'bench/results/calibration_grid_steady/*.all*.json' "
    "--out out/notebooks/sim_validation",
]
OUTPUTS = ["out/notebooks/h100_sxm_calibrated.json", "out/notebooks/sim_validation.json"]
TARGET_MEDIAN, TARGET_WORST = 0.03, 0.08  # the goal for held-out step-time error

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
HAVE_REAL = bool(glob.glob(str(ROOT / "bench/results/calibration_grid_steady/*.all*.json")))

def ensure_data():
    if not HAVE_REAL:
        print("NO REAL DATA YET: no real traces under bench/results/calibration_grid_steady/; nothing to calibrate or validate.")
        return
    if all((ROOT / o).exists() for o in OUTPUTS):
        print("data present:", ", ".join(OUTPUTS))
        return
    (ROOT / "out/notebooks").mkdir(parents=True, exist_ok=True)
    for cmd in COMMANDS:
        cmd = cmd.replace("build/apps/ringlab", RINGLAB)
        print("$", cmd)
        subprocess.run(cmd, shell=True, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)

ensure_data()

# %%
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 130, "axes.grid": True, "grid.alpha": 0.3})
val_path = ROOT / OUTPUTS[1]
HAVE_VAL = HAVE_REAL and val_path.exists()
if HAVE_VAL:
    val = json.load(open(val_path))
    pts = pd.DataFrame(val["points"])
    prov = val["provenance"]
    print(f"profile {val['profile']}: calibrated on {prov.get('card')} {prov.get('date')} (runs at commit "
          f"{prov.get('runs_commit')}) from {len(prov.get('source_traces', []))} traces; "
          f"{int(pts.in_calibration.sum())} calibration runs, {int((~pts.in_calibration).sum())} held-out runs")
    rows = []
    for split, key in (("held out", "held_out"), ("calibration", "calibration")):
        for ps, label in (("fwd", "forward"), ("fwdbwd", "forward+backward")):
            s = val[key][ps]
            rows.append({"split": split, "step": label, "runs": s["count"],
                         "median |error| %": round(s["median_abs_error"] * 100, 1),
                         "worst |error| %": round(s["worst_abs_error"] * 100, 1)})
    summary = pd.DataFrame(rows)
    display(summary)
    h = val["held_out"]
    for ps, label in (("fwd", "forward"), ("fwdbwd", "forward+backward")):
        med, worst = h[ps]["median_abs_error"], h[ps]["worst_abs_error"]
        ok = med <= TARGET_MEDIAN and worst <= TARGET_WORST
        print(f"HELD OUT {label}: median |error| {med * 100:.1f}%, worst {worst * 100:.1f}% "
              f"-> target (median <= {TARGET_MEDIAN * 100:.0f}%, worst <= {TARGET_WORST * 100:.0f}%) "
              f"{'MET' if ok else 'NOT MET'}")
else:
    print("NO REAL DATA YET: validation skipped.")

# %% [markdown]
# ## Predicted vs measured step time
#
# One marker per (grid point, method); squares were in the calibration set, circles are held out. The dashed line is
# perfect agreement; the light band is the issue's ±8% worst-case target.

# %%
if HAVE_VAL:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, (meas, sim, title, key) in zip(axes, (
            ("measured_fwd_ms", "sim_fwd_ms", "forward step", "fwd"),
            ("measured_fwdbwd_ms", "sim_fwdbwd_ms", "forward+backward step", "fwdbwd"))):
        lo = pts[[meas, sim]].min().min() * 0.7
        hi = pts[[meas, sim]].max().max() * 1.4
        ax.fill_between([lo, hi], [lo * (1 - TARGET_WORST), hi * (1 - TARGET_WORST)],
                        [lo * (1 + TARGET_WORST), hi * (1 + TARGET_WORST)], color="0.88", label="±8%")
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        for calib, mk, col, lab in ((True, "s", "C0", "calibration"), (False, "o", "C1", "held out")):
            d = pts[pts.in_calibration == calib]
            ax.scatter(d[meas], d[sim], marker=mk, color=col, s=26, alpha=0.85, label=f"{lab} ({len(d)})", zorder=3)
        s = val["held_out"][key]
        ax.set_xscale("log"); ax.set_yscale("log"); ax.set_xlim(lo, hi); ax.set_ylim(lo, hi)
        ax.set_xlabel("measured (ms, summary median)"); ax.set_ylabel("simulated (ms)")
        ax.set_title(f"{title}: held out median {s['median_abs_error'] * 100:.1f}%, "
                     f"worst {s['worst_abs_error'] * 100:.1f}%", fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
    met = all(val["held_out"][k]["median_abs_error"] <= TARGET_MEDIAN and val["held_out"][k]["worst_abs_error"] <= TARGET_WORST
              for k in ("fwd", "fwdbwd"))
    fig.suptitle(f"h100_sxm_calibrated vs real 4x H100 runs (target: median <= 3%, worst <= 8%: "
                 f"{'met' if met else 'not met'})", fontsize=10)
    fig.tight_layout()
    fig.savefig(FIG / "calibration_pred_vs_measured.png")
    plt.show()

# %% [markdown]
# ## Per-op duration error by kind (held-out traces)
#
# sim / real - 1 per op, matched by rank and schedule op id. A real send/recv/all-gather duration includes waiting for
# the peer, so those "errors" measure the executor's synchronisation more than link bandwidth.

# %%
if HAVE_VAL:
    k = pd.DataFrame(val["per_op_kind"]).T
    k = k.astype({"ops": int}).sort_values("median_abs")
    fig, ax = plt.subplots(figsize=(8, 3.8))
    x = np.arange(len(k))
    ax.bar(x - 0.2, k.median_abs * 100, width=0.4, label="median |error|")
    ax.bar(x + 0.2, k.median_signed * 100, width=0.4, color="C2", label="median signed error")
    ax.scatter(x, k.worst_abs * 100, color="C3", zorder=3, label="worst |error|")
    ax.set_xticks(x, [f"{n}\n({o} ops)" for n, o in zip(k.index, k.ops)], fontsize=8)
    ax.set_yscale("symlog", linthresh=10)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_ylabel("per-op duration error (%)")
    ax.set_title("per-op error by kind, held-out traces (send/recv/all-gather include rendezvous waits)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(FIG / "calibration_per_op_error.png")
    plt.show()
    display((k[["ops", "median_abs", "worst_abs", "median_signed"]]
             .assign(median_abs=lambda d: (d.median_abs * 100).round(1), worst_abs=lambda d: (d.worst_abs * 100).round(1),
                     median_signed=lambda d: (d.median_signed * 100).round(1))
             .rename(columns={"median_abs": "median |err| %", "worst_abs": "worst |err| %",
                              "median_signed": "median signed %"})))

# %% [markdown]
# ## The kernel model: measured round tables
#
# Per (pass, mask, head dim) the profile holds R(n), the time of one full round of CTAs that each loop over n tiles
# (sim/profile.h). Plotted as microseconds per tile of one round: a flat line would be a constant tile rate; the rise
# at small n is each CTA's fixed cost (prologue, the merge epilogue). Large-S blocks are read from this table (or its
# affine ends), not extrapolated from one block size.

# %%
if HAVE_VAL:
    prof = json.load(open(ROOT / OUTPUTS[0]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=False)
    for ax, ps in zip(axes, ("forward", "backward")):
        for t in prof["compute"]["attention"]:
            if t["pass"] != ps or "round_us" not in t.get("wave", {}):
                continue
            n = np.array([p[0] for p in t["wave"]["round_us"]])
            r = np.array([p[1] for p in t["wave"]["round_us"]])
            ax.plot(n, r / n, "o-" if t["mask"] == "full" else "s--", ms=4,
                    label=f"{t['mask']} D={t['head_dim']} ({t['wave']['ctas_per_sm']} CTA/SM)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("tiles per CTA (n)")
        ax.set_ylabel("us per tile of one full round")
        ax.set_title(f"{ps}: R(n) / n", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(FIG / "calibration_round_tables.png")
    plt.show()
    net = prof["network"]; comp = prof["compute"]
    for k in ("nvlink_gbps", "nvlink_latency_us", "collective_hop_latency_us", "comm_rate_beside_compute"):
        if k in net:
            print(f"{k}: {net[k]['value']}  ({net[k]['source'][:110]})")
    for k in ("launch_us", "comm_start_wait", "nccl_sms", "comm_slowdown", "forward_start_skew_us", "backward_start_skew_us",
              "nccl_post_us"):
        if k in comp:
            print(f"{k}: {comp[k]['value']}  ({comp[k]['source'][:110]})")
    for k in ("forward_kernel_first_fraction", "backward_kernel_first_fraction"):
        if k in comp:
            print(f"{k}: {comp[k]['by_world']}  ({comp[k]['source'][-110:]})")

# %% [markdown]
# ## Microbenchmarks only, and traces only
#
# The committed comparisons (`scripts/calibrate/reproduce_results.sh`): the microbenchmark samples alone (no run used,
# every point held out), and every number from run traces instead of microbenchmarks (the earlier mma.sync grid,
# same split).

# %%
for name, what in (("sim_validation_microbench_only", "microbenchmarks only"),
                   ("sim_validation_traces_only", "traces only (mma.sync grid)")):
    f = ROOT / f"bench/results/{name}.json"
    if not f.exists():
        print(f"bench/results/{name}.json not present")
        continue
    m = json.load(open(f))
    for ps, label in (("fwd", "forward"), ("fwdbwd", "forward+backward")):
        s_ = m["held_out"][ps]
        print(f"{what}, {label}: median |error| {s_['median_abs_error'] * 100:.1f}%, "
              f"worst {s_['worst_abs_error'] * 100:.1f}% over {s_['count']} runs")

# %% [markdown]
# ## Every run

# %%
if HAVE_VAL:
    cols = ["point", "method", "in_calibration", "measured_fwd_ms", "sim_fwd_ms", "error_fwd",
            "measured_fwdbwd_ms", "sim_fwdbwd_ms", "error_fwdbwd"]
    t = pts[cols].copy()
    t["error_fwd"] = (t.error_fwd * 100).round(1)
    t["error_fwdbwd"] = (t.error_fwdbwd * 100).round(1)
    with pd.option_context("display.max_rows", 100):
        display(t.round(3))
    worst = pts[~pts.in_calibration].assign(a=lambda d: d[["error_fwd", "error_fwdbwd"]].abs().max(axis=1))
    print("held-out runs worst first:")
    print(worst.sort_values("a", ascending=False)[["point", "method", "error_fwd", "error_fwdbwd"]].head(8)
          .assign(error_fwd=lambda d: (d.error_fwd * 100).round(1), error_fwdbwd=lambda d: (d.error_fwdbwd * 100).round(1))
          .to_string(index=False))

# %% [markdown]
# ## The peer reproduction (simulator engineer's table)

# %%
peer = sorted(glob.glob(str(ROOT / "bench/results/sim_vs_peer.*")))
if not peer:
    print("bench/results/sim_vs_peer.* not present yet")
for p in peer:
    if p.endswith(".json"):
        print(json.dumps(json.load(open(p)), indent=1)[:3000])
    elif p.endswith(".md"):
        from IPython.display import Markdown
        display(Markdown(open(p).read()))

# %% [markdown]
# ## What the numbers say
#
# Kernels and NCCL from `ringlab calibrate`, host numbers from 10 runs: held-out forward+backward steps are off by a
# median 2.35% (worst 11.0%), forward steps by 3.05% (worst 9.2%) — see the first cell's output for this run's numbers.
# The median target (3%) is met for forward+backward and missed by 0.05 points for the forward; the worst-case
# target (8%) is not met. The kernel
# model fits its own microbenchmarks within 0.7-2.5% per table, and the list-scheduled causal blocks need no
# correction (factor 0.98-1.01). A transfer beside a kernel gets its SMs when the kernel's first slot idles with no
# CTA left, and at a pass start the ranks whose host posted ahead of the barrier-held GPU run their kernel first
# (fraction per W from the runs) while the others launch it only after posting the NCCL group (24.6 us): that explained the W = 4, S = 16384 forward misses (were 9-14% under). What is left:
# at W = 2 one rank's 5-iteration median runs 5-10% above its traced iteration (the simulator follows the trace), and
# alltoall backward with GQA loses a round to a transfer's SMs on a partially filled block (7-11% under). The runs'
# own spread (traced iteration against the summary median, up to 10%) bounds what any model can reach on single points.
