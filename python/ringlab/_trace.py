"""Trace loading: ringlab traces (core/trace.h) and PyTorch/Chrome captures (JSON or gzip) as pandas frames."""
from __future__ import annotations

import gzip
import json
import math
import os
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ringlab import _core

# The columns every trace frame has, in this order (ringlab traces fill op/step/peer/bytes/flops from `args`).
TRACE_COLUMNS = ["rank", "stream", "name", "kind", "ts_us", "dur_us", "op", "step", "peer", "bytes", "flops"]


def _read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rt") if gz else open(path)) as f:
        try:
            return json.load(f)
        except RecursionError:  # the stdlib parser recurses per nesting level
            raise ValueError(f"trace file '{os.fspath(path)}': JSON nested too deeply") from None


def _names(events: list[Mapping[str, Any]], kind: str) -> dict[Any, str]:
    key = "pid" if kind == "process_name" else ("pid", "tid")
    out: dict[Any, str] = {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == kind:
            k = e.get("pid") if key == "pid" else (e.get("pid"), e.get("tid"))
            out[k] = str(e.get("args", {}).get("name", ""))
    return out


def _checked_events(d: Any, path: str) -> tuple[list[Mapping[str, Any]], Mapping[str, Any] | None,
                                                 list[Mapping[str, Any]]]:
    """The events, the ringlab metadata and the complete events of a parsed trace, with the shapes the frame needs
    checked: a ValueError naming the file and field, as the viewer and summarize_trace give, instead of an
    AttributeError or TypeError from deep inside (and NaN or negative times taken silently)."""
    def bad(what: str) -> ValueError:
        return ValueError(f"trace file '{path}': {what}")

    if not isinstance(d, dict):
        raise bad(f"expected a JSON object with traceEvents or an array of events, got {type(d).__name__}")
    events = d.get("traceEvents", [])
    if not isinstance(events, list):
        raise bad("traceEvents must be an array")
    meta = d.get("ringlab")
    if meta is not None and not isinstance(meta, dict):
        raise bad("ringlab metadata must be an object")
    if meta and (isinstance(meta.get("version", 1), bool) or not isinstance(meta.get("version", 1), int)):
        raise bad(f"ringlab.version must be an integer, got {meta.get('version')!r}")
    xs = []
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            raise bad(f"traceEvents[{i}] must be an object, got {type(e).__name__}")
        if e.get("ph") != "X":
            continue
        for key in ("ts", "dur"):
            v = e.get(key, 0)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad(f"traceEvents[{i}].{key} must be a finite number, got {v!r}")
        if e.get("dur", 0) < 0:
            raise bad(f"traceEvents[{i}].dur is negative ({e['dur']!r})")
        xs.append(e)
    return events, meta, xs


def trace_frame(columns: Mapping[str, Any], meta: Mapping[str, Any] | None, source: str) -> pd.DataFrame:
    """Builds a trace frame from the simulator's columns (the `_core` trace dict)."""
    kinds = pd.Categorical.from_codes(columns["kind"], categories=_core.op_kind_names())
    df = pd.DataFrame({"rank": columns["rank"], "stream": columns["stream"], "name": kinds.astype(str),
                       "kind": kinds, "ts_us": columns["ts_us"], "dur_us": columns["dur_us"], "op": columns["op"],
                       "step": columns["step"], "peer": columns["peer"], "bytes": columns["bytes"],
                       "flops": columns["flops"]})
    df.attrs.update(ringlab=dict(meta) if meta else None, source=source)
    return df


def load_trace(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Loads a trace's complete events ("ph": "X") as a DataFrame, one row per event.

    Reads ringlab traces (`ringlab sim/check/run --trace`) and any Chrome Trace Event capture, such as PyTorch
    profiler exports (`prof.export_chrome_trace`), plain or gzip-compressed. Columns: rank (the event's pid), stream
    (0 compute, 1 comm; a version-2 ringlab trace also has `track`, its tid), name, kind (ringlab op kind, else the event's `cat`), ts_us, dur_us, op, step, peer, bytes, flops
    (from ringlab's `args`; -1 / 0 where absent), plus `process` and `thread` (metadata names) and `args` (the raw
    dict) for captures of other tools. ``df.attrs["ringlab"]`` holds a ringlab trace's metadata (problem, method,
    pass, world, source, hardware, ...) and ``df.attrs["source"]`` is its source (real, sim, cpu) or "chrome".
    """
    d = _read_json(path)
    if isinstance(d, list):  # the JSON Array Format of the Chrome trace spec
        d = {"traceEvents": d}
    events, meta, xs = _checked_events(d, os.fspath(path))

    def arg(name: str, default: Any) -> list[Any]:
        return [e.get("args", {}).get(name, default) if isinstance(e.get("args"), dict) else default for e in xs]

    df = pd.DataFrame({
        "rank": [e.get("pid") for e in xs], "stream": [e.get("tid") for e in xs],
        "name": [e.get("name", "") for e in xs], "kind": [e.get("cat", "") for e in xs],
        "ts_us": np.array([float(e.get("ts", 0)) for e in xs]), "dur_us": np.array([float(e.get("dur", 0)) for e in xs]),
        "op": arg("op", -1), "step": arg("step", -1), "peer": arg("peer", -1),
        "bytes": arg("bytes", 0), "flops": arg("flops", 0.0),
    }, columns=TRACE_COLUMNS)
    if meta:
        df["kind"] = pd.Categorical(df["kind"], categories=_core.op_kind_names())
        if int(meta.get("version", 1)) >= 2:
            # Format version 2 (core/trace.h) draws each stream's ops on tracks of their own: tid 1 compute, 2 send,
            # 3 recv, 4 collectives (the comm stream). `stream` stays 0 compute / 1 comm as in version 1; `track` keeps
            # the tid.
            df["track"] = df["stream"]
            df["stream"] = (df["stream"] != 1).astype("int64")
    else:
        procs, threads = _names(events, "process_name"), _names(events, "thread_name")
        df["process"] = [procs.get(e.get("pid"), "") for e in xs]
        df["thread"] = [threads.get((e.get("pid"), e.get("tid")), "") for e in xs]
        df["args"] = [e.get("args", {}) for e in xs]
    for col in ("op", "step", "peer", "bytes"):
        if pd.api.types.is_numeric_dtype(df[col]):
            df[col] = df[col].astype("int64")
    df.attrs.update(ringlab=meta, source=(meta or {}).get("source", "chrome"), path=os.fspath(path))
    return df


def summarize_trace(path: str | os.PathLike[str], peak_tflops: float = 0.0) -> dict[str, Any]:
    """core's run summary of a ringlab trace file (core/metrics.h, the numbers `ringlab sim` prints): step_time_us,
    per-rank compute/comm/both/idle (`ranks`), exposed_comm_us, overlap_fraction, load_imbalance, tflops_per_gpu."""
    return json.loads(_core.summarize_trace_file(os.fspath(path), peak_tflops))


def per_rank(summary: Mapping[str, Any]) -> pd.DataFrame:
    """The `ranks` of a run summary (summarize_trace, or a simulate(per_rank=True) run) as a frame: compute_us,
    comm_us, overlap_us (both streams busy), idle_us, flops, and comm_exposed_us (comm not under compute)."""
    df = pd.DataFrame(summary["ranks"])
    df.index.name = "rank"
    df["comm_exposed_us"] = df["comm_us"] - df["overlap_us"]  # comm not under compute
    return df
