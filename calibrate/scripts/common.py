"""Shared helpers for the calibration scripts: ringlab traces and their schedules through the `ringlab` Python package
(scripts/setup_python.sh --package installs it into .venv)."""
import glob
import json
import pathlib
import subprocess

import ringlab

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_trace(path):
    """(ringlab metadata, complete events as Chrome event dicts: pid, tid, cat, ts, dur, args{op, step, peer, bytes,
    flops}) of a ringlab trace; ValueError when it is not one."""
    df = ringlab.load_trace(path)
    meta = df.attrs["ringlab"]
    if not meta:
        raise ValueError(f"{path}: no ringlab metadata (not a ringlab trace)")
    cols = [df[c].tolist() for c in ("rank", "stream", "kind", "ts_us", "dur_us", "op", "step", "peer", "bytes",
                                     "flops")]
    events = [{"pid": r, "tid": s, "cat": k, "ts": ts, "dur": dur,
               "args": {"op": op, "step": st, "peer": pe, "bytes": b, "flops": f}}
              for r, s, k, ts, dur, op, st, pe, b, f in zip(*cols)]
    return meta, events


def real_traces(patterns):
    out = []
    for pat in patterns:
        for p in sorted(glob.glob(pat, recursive=True)):
            try:
                meta, _ = load_trace(p)
            except (ValueError, KeyError, OSError, AttributeError):
                continue
            if meta.get("source") == "real":
                out.append(p)
    return sorted(set(out))


def config_of(meta):
    """The ringlab.Config a trace's metadata describes."""
    return ringlab.Config.from_meta(meta)


def schedule_ops(meta, ranks=None):
    """{(rank, op id): {"kind", "deps": [op ids], "block": {"q": [b, e], "kv": [b, e], "causal"}}} of the trace's
    schedule (the fields of `ringlab schedule --json` the scripts read)."""
    df = ringlab.schedule(config_of(meta), ranks=ranks)
    ops = {}
    for row in df.itertuples(index=False):
        op = {"kind": row.kind, "deps": [int(d) for d in row.deps.split(",") if d]}
        if row.q_begin >= 0:
            op["block"] = {"q": [row.q_begin, row.q_end], "kv": [row.kv_begin, row.kv_end], "causal": row.causal}
        ops[(row.rank, row.id)] = op
    return ops


def simulate(profile, meta, trace=False):
    """ringlab.simulate of the trace's configuration on `profile` (a name or a path)."""
    return ringlab.simulate(config_of(meta), str(profile), trace=trace)


def step_time_us(events):
    return max(e["ts"] + e["dur"] for e in events) - min(e["ts"] for e in events)


def git_commit():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
