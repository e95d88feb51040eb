"""Shared helpers for calibrate.py and validate.py: reading ringlab traces, rebuilding their schedules."""
import glob
import json
import os
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
RINGLAB = os.environ.get("RINGLAB_BIN", str(ROOT / "build/apps/ringlab"))


def load_trace(path):
    d = json.load(open(path))
    meta = d.get("ringlab")
    if not meta:
        raise ValueError(f"{path}: no ringlab metadata (not a ringlab trace)")
    events = [e for e in d["traceEvents"] if e.get("ph") == "X"]
    return meta, events


def real_traces(patterns):
    out = []
    for pat in patterns:
        for p in sorted(glob.glob(pat, recursive=True)):
            try:
                meta, _ = load_trace(p)
            except (ValueError, KeyError, OSError, AttributeError, json.JSONDecodeError):
                continue
            if meta.get("source") == "real":
                out.append(p)
    return sorted(set(out))


def config_flags(meta):
    """ringlab CLI flags that rebuild the schedule described by a trace's metadata."""
    p = meta["problem"]
    flags = ["--world", str(meta["world"]), "--batch", str(p["batch"]), "--heads", str(p["heads"]),
             "--kv-heads", str(p["kv_heads"]), "--dim", str(p["head_dim"]), "--seq", str(p["seq"]),
             "--causal" if p["causal"] else "--no-causal", "--dtype", p["dtype"], "--method", meta["method"],
             "--sharding", meta["sharding"], "--pass", meta["pass"]]
    v = meta.get("variants", {})
    if not v.get("fused_merge", True):
        flags.append("--unfused-merge")
    if v.get("pack_kv", False):
        flags.append("--pack-kv")
    return flags


def schedule_ops(meta):
    """{(rank, op id): op dict} from `ringlab schedule --json` for the trace's configuration."""
    with tempfile.TemporaryDirectory() as td:
        out = os.path.join(td, "s.json")
        subprocess.run([RINGLAB, "schedule", *config_flags(meta), "--json", out, "--ranks", "0"],
                       check=True, stdout=subprocess.DEVNULL)
        s = json.load(open(out))
    return {(r["rank"], o["id"]): o for r in s["ranks"] for o in r["ops"]}


def step_time_us(events):
    return max(e["ts"] + e["dur"] for e in events) - min(e["ts"] for e in events)


def git_commit():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
