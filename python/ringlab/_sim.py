"""Schedules, simulation, sweeps and plans from Python: the simulator's C++ (sim/) through ringlab._core."""
from __future__ import annotations

import itertools
import json
import os
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from ringlab import _core
from ringlab._config import FIELDS, Config, cli_flags
from ringlab._trace import trace_frame

DEFAULT_PROFILE: str = _core.default_profile()


def schedule(cfg: Config, ranks: Iterable[int] | None = None) -> pd.DataFrame:
    """The ops of `cfg`'s schedule(s), one row per op of every rank (or of `ranks`), as `ringlab schedule --json`
    describes them: rank, id, kind, stream, step, peer, tag, group, bytes, flops, the attention block (q_begin,
    q_end, kv_origin, kv_begin, kv_end, causal, diagonal_offset, merge; -1 for other ops), reads, writes, deps.
    With several (method, pass) selected, `method` and `pass` columns say which schedule a row belongs to."""
    frames = []
    for sc in cfg.schedules():
        c = _core.schedule_columns(sc, list(ranks) if ranks is not None else [])
        df = pd.DataFrame(c)
        df["kind"] = pd.Categorical.from_codes(df["kind"], categories=_core.op_kind_names())
        df["stream"] = pd.Categorical.from_codes(df["stream"], categories=["compute", "comm"])
        df["causal"] = df["causal"].astype(bool)
        df["merge"] = df["merge"].astype(bool)
        meta = json.loads(sc.to_json())
        df.insert(0, "method", meta["method"])
        df.insert(1, "pass", meta["pass"])
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


class Simulation:
    """What `ringlab.simulate` returns: the summaries `ringlab sim --json -` prints, and the traces if asked.

    Attributes: `data` (the CLI's JSON object: ``{"runs": [...], "forward_plus_backward": {...}}``), `runs` (one
    summary dict per (method, pass)), `summary` (a frame, one row per run), `traces` (one trace frame per run when
    simulated with `trace=`; see ringlab.load_trace for the columns)."""

    def __init__(self, data: dict[str, Any], traces: list[pd.DataFrame]):
        self.data = data
        self.runs: list[dict[str, Any]] = data["runs"]
        self.traces = traces

    @property
    def summary(self) -> pd.DataFrame:
        rows = [{"method": r["config"]["method"], "pass": r["config"]["pass"],
                 **{k: v for k, v in r.items() if not isinstance(v, (dict, list))}} for r in self.runs]
        return pd.DataFrame(rows)

    @property
    def trace(self) -> pd.DataFrame:
        """The first run's trace (simulate with trace=True or trace=[ranks])."""
        if not self.traces:
            raise ValueError("no trace: simulate with trace=True (every rank) or trace=[0, 1, ...]")
        return self.traces[0]

    @property
    def step_time_us(self) -> float:
        """The step time: the single run's, or forward + backward of the single method when pass_="both"."""
        totals = self.data.get("forward_plus_backward", {})
        if len(self.runs) == 1:
            return float(self.runs[0]["step_time_us"])
        if len(totals) == 1:
            return float(next(iter(totals.values()))["step_time_us"])
        raise ValueError("several methods simulated: read each one's step time from .summary or .data")

    def __repr__(self) -> str:
        return "\n".join(f"<Simulation {r['describe']}: step {r['step_time_us'] / 1e3:.3f} ms>" for r in self.runs)


def simulate(cfg: Config, profile: str = DEFAULT_PROFILE, *, nodes: int | None = None,
             gpus_per_node: int | None = None, placement: str = "block", trace: bool | Sequence[int] = False,
             strict: bool = False, per_rank: bool = False) -> Simulation:
    """Simulates `cfg` on a hardware profile, as `ringlab sim` does (same numbers, same errors as ValueError).

    profile: a bundled name (see sim/README.md; default h100_sxm_calibrated) or a path to a .json.
    nodes, gpus_per_node: the cluster (None: as many nodes as the world needs, the profile's GPUs per node).
    placement: rank to GPU, "block" or "round-robin". trace: True for every rank (W <= 64), or a list of ranks.
    strict: an op outside the profile's measured data is an error. per_rank: keep each run's per-rank metrics.
    The GIL is released while the simulator runs."""
    ranks = None if trace is False else ([] if trace is True else [int(r) for r in trace])
    text, traces = _core.simulate(list(cfg.schedules()), profile, nodes, gpus_per_node, placement, ranks, strict,
                                  per_rank)
    frames = [trace_frame(t, json.loads(t["meta"]), "sim") for t in traces]
    return Simulation(json.loads(text), frames)


# The CLI's sweep columns before the configuration's (sim/sweep.cc SweepCsv).
_SWEEP_COLUMNS = ["world", "seq", "method", "pass", "step_ms", "compute_ms", "exposed_comm_ms", "overlap_fraction",
                  "tflops_per_gpu", "mfu", "load_imbalance", "peak_memory_gib", "memory_capacity_gib", "over_capacity",
                  "extrapolated_share", "extrapolated_dims", "transfer_extrapolated_share", "ops", "profile",
                  "topology"]
_GRID_LISTS = {"world": "worlds", "seq": "seqs", "method": "methods", "pass_": "passes"}


def _flatten_config(config: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """A sweep row's config as the CLI's CSV columns: problem fields bare, variants.*, the rest by name."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        if k == "problem":
            out.update({pk: pv for pk, pv in v.items() if pk not in row})
        elif isinstance(v, dict):
            out.update({f"{k}.{sk}": sv for sk, sv in v.items()})
        elif k not in row:
            out[k] = v
    return out


def sweep(grid: Mapping[str, Any], jobs: int | None = None, *, profile: str = DEFAULT_PROFILE,
          gpus_per_node: int | None = None, placement: str = "block", strict: bool = False) -> pd.DataFrame:
    """Simulates every point of a grid, as `ringlab sweep` does, on `jobs` threads (default: every core).

    grid: Config field -> value or list of values, e.g. ``{"world": [8, 64], "seq": [131072, 1048576],
    "method": ["allgather", "alltoall"], "pass_": ["forward", "both"], "heads": [32, 64]}``. world, seq, method
    and pass_ lists are the CLI's --worlds/--seqs/--methods/--passes (pass "both" is forward + backward summed);
    a list for any other field runs one CLI sweep per value (the product of all of them). Fields left out keep the
    CLI's defaults (world 8, seq 131072, both methods, forward).

    Returns one row per point with the CLI's columns (world, seq, method, pass, step_ms, compute_ms,
    exposed_comm_ms, overlap_fraction, tflops_per_gpu, mfu, ..., profile, topology), every configuration field
    (heads, kv_heads, head_dim, dtype, sharding, ulysses, ring, placement, variants.*, ...), and `error` (empty
    when the point simulated)."""
    grid = {("pass_" if k == "pass" else k): v for k, v in grid.items()}
    for k, v in grid.items():
        if k not in FIELDS:
            raise ValueError(f"unknown grid field '{k}'; allowed: {', '.join(FIELDS)}")
        # An empty list used to become the CLI's default (world, seq, method, pass_) or no rows at all (the others).
        if isinstance(v, (list, tuple, range)) and len(v) == 0:
            raise ValueError(f"grid field '{k}' is an empty list; give at least one value")

    def as_list(v: Any) -> list[Any]:
        return list(v) if isinstance(v, (list, tuple, range)) else [v]

    lists = {name: ",".join(str(x) for x in as_list(grid[k])) if k in grid else None
             for k, name in _GRID_LISTS.items()}
    lists = {"worlds": lists["worlds"] or "8", "seqs": lists["seqs"] or "131072",
             "methods": lists["methods"] or "allgather,alltoall", "passes": lists["passes"] or "forward"}
    others = {k: as_list(v) for k, v in grid.items() if k not in _GRID_LISTS}
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    rows: list[dict[str, Any]] = []
    for values in itertools.product(*others.values()):
        fields = dict(zip(others.keys(), values))
        text = _core.sweep(cli_flags(fields), lists["worlds"], lists["seqs"], lists["methods"], lists["passes"],
                           profile, gpus_per_node, placement, strict, workers)
        for r in json.loads(text):
            config = r.pop("config", None) or {}
            r.setdefault("error", "")
            error = r.pop("error")
            rows.append({**{k: r[k] for k in _SWEEP_COLUMNS}, **_flatten_config(config, r), "error": error})
    return pd.DataFrame(rows)


def plan(heads: int = 32, kv_heads: int = 8, dim: int = 128, seq: int = 131072, *, batch: int = 1,
         causal: bool = True, dtype: str = "bf16", gpus_per_node: int = 8, nodes: int = 1,
         profile: str = DEFAULT_PROFILE, methods: Sequence[str] = ("allgather", "alltoall"),
         shardings: Sequence[str] = ("head-tail", "contiguous"), jobs: int = 0) -> pd.DataFrame:
    """Which context-parallel layout to use, as `ringlab plan` decides: every valid (Ulysses U x ring R,
    placement, method, sharding) on gpus_per_node x nodes GPUs simulated forward and backward, ranked best first.

    Returns the ranked rows (layout, method, sharding, ulysses, ring, placement, forward_ms, backward_ms, step_ms,
    exposed_comm_ms, compute_ms, memory_gib, over_capacity, error); ``df.attrs`` holds the rest of the CLI's JSON
    (best_reason, world, profile, kv_head_cap, ...). jobs: simulation threads (0: every core)."""
    flags = cli_flags({"heads": heads, "kv_heads": kv_heads, "dim": dim, "seq": seq, "batch": batch,
                       "causal": causal, "dtype": dtype})
    data = json.loads(_core.plan(flags, gpus_per_node, nodes, profile, list(methods), list(shardings), jobs))
    df = pd.DataFrame(data.pop("rows"))
    df.attrs.update(data)
    return df


class Profile(dict):
    """A hardware profile's JSON (sim/profiles/*.json) as a dict, validated by the simulator's parser; `name`,
    `path`."""

    name: str
    path: str


def load_profile(name_or_path: str = DEFAULT_PROFILE) -> Profile:
    """Loads a hardware profile: a bundled name (h100_sxm_calibrated, h100_pytorch_peer, h100_sxm, h200,
    a100_sxm, b200) or a path to a .json. Raises ValueError with the simulator's message when it does not parse."""
    path, text = _core.profile_file(os.fspath(name_or_path))
    p = Profile(json.loads(text))
    p.name = str(p.get("name", os.path.splitext(os.path.basename(path))[0]))
    p.path = path
    return p
