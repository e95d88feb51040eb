"""How often NCCL takes SMs from a full-mask kernel's last round in real runs (sim/profile.h
displaced_tail_fraction): a host/hardware race counted on the calibration traces, like the kernel-first fraction.

For each trace, `ringlab sim` runs its configuration twice from the profile being built: with the fraction at 1 and at
0. An attend op that the first run makes longer than the second by more than 5% is eligible (the simulator says a
transfer was posted before its last round, which does not fit beside NCCL's SMs); it counts as displaced when its
real duration exceeds the second run's by more than half of that extra time.
"""
import json
import os
import tempfile

from common import load_trace, simulate


def _sim_attend_durations(profile, meta):
    t = simulate(profile, meta, trace=True).trace
    t = t[t["kind"] == "attend"]
    return dict(zip(zip(t["rank"], t["op"]), t["dur_us"]))


def displaced_tail_counts(paths, profile_path):
    """{pass: [displaced, eligible]} over the attend ops of the traces at `paths`, simulated from `profile_path`."""
    prof = json.load(open(profile_path))
    counts = {"forward": [0, 0], "backward": [0, 0]}
    with tempfile.TemporaryDirectory() as td:
        variants = {}
        for f in (0.0, 1.0):
            p = json.loads(json.dumps(prof))
            p["compute"]["displaced_tail_fraction"] = {"value": f, "source": "displaced_tails.py probe"}
            for ps in ("forward", "backward"):
                p["compute"].pop(f"{ps}_displaced_tail_fraction", None)
            variants[f] = os.path.join(td, f"profile_{int(f)}.json")
            json.dump(p, open(variants[f], "w"))
        for path in paths:
            meta, events = load_trace(path)
            if meta["world"] < 2:
                continue
            never = _sim_attend_durations(variants[0.0], meta)
            always = _sim_attend_durations(variants[1.0], meta)
            for e in events:
                if e["cat"] != "attend":
                    continue
                key = (e["pid"], e["args"]["op"])
                if key not in never or key not in always:
                    continue
                extra = always[key] - never[key]
                if extra <= 0.05 * never[key]:
                    continue
                c = counts[meta["pass"]]
                c[1] += 1
                c[0] += e["dur"] > never[key] + 0.5 * extra
    return counts
