#!/usr/bin/env python3
"""The strict checker (check_chrome_trace.py) passes a well-formed trace and names each rule a broken one breaks."""
import json
import os
import subprocess
import sys
import tempfile

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_chrome_trace.py")


def meta(pid, tid=None):
    out = [{"ph": "M", "name": "process_name", "pid": pid, "args": {"name": f"rank {pid}"}}]
    if tid is not None:
        out.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": "t"}})
    return out


def x(pid, tid, ts, dur, cat="attend", peer=None):
    args = {} if peer is None else {"peer": peer}
    return {"ph": "X", "pid": pid, "tid": tid, "ts": ts, "dur": dur, "name": cat, "cat": cat, "args": args}


def flow(fid, s, f, bp="e"):
    start = {"ph": "s", "id": fid, "pid": s[0], "tid": s[1], "ts": s[2], "name": "message", "cat": "flow"}
    end = {"ph": "f", "id": fid, "pid": f[0], "tid": f[1], "ts": f[2], "name": "message", "cat": "flow"}
    if bp:
        end["bp"] = bp
    return [start, end]


def good():
    return (meta(0, 1) + meta(1, 2) + [x(0, 0, 0, 5), x(0, 0, 1, 2), x(0, 0, 5, 1),  # nested, then touching
                                       x(0, 1, 1.5, 2.25, "send", 1), x(1, 2, 1.5, 2.25, "recv", 0)]
            + flow(1, (0, 1, 1.5), (1, 2, 1.5)))


def run(events, text=None):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(text if text is not None else json.dumps({"ringlab": {"version": 2}, "traceEvents": events}))
        path = f.name
    try:
        p = subprocess.run([sys.executable, CHECKER, path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    return p.returncode, p.stderr


def expect(name, events, code, fragment, text=None):
    rc, err = run(events, text)
    ok = rc == code and fragment in err
    print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {rc}{' ' + err.strip().splitlines()[0] if err.strip() else ''}")
    return ok


def main():
    g = good()
    cases = [
        ("well-formed trace passes", g, 0, ""),
        ("partial overlap on a track", g + [x(0, 0, 4, 2)], 1, "without nesting"),
        ("flow end before its start", [e for e in g if e.get("ph") not in "sf"] + flow(1, (0, 1, 3), (1, 2, 2)),
         1, "before it starts"),
        ("flow end without bp e", [e for e in g if e.get("ph") not in "sf"] + flow(1, (0, 1, 1.5), (1, 2, 1.5), None),
         1, "bp"),
        ("flow end outside every slice", [e for e in g if e.get("ph") not in "sf"] + flow(1, (0, 1, 1.5), (1, 2, 9)),
         1, "outside every complete event"),
        ("send with a traced peer and no flow", [e for e in g if e.get("ph") not in "sf"], 1, "starts 0 flows"),
        ("flow id used twice", g + flow(1, (0, 1, 1.5), (1, 2, 1.5)), 1, "2 starts"),
        ("metadata for an absent rank", g + meta(7), 1, "pid 7, which has no events"),
        ("thread metadata for an absent track", g + meta(0, 9)[1:], 1, "tid 9, which has no events"),
        ("ts finer than a nanosecond", g + [x(0, 3, 0.0001, 1)], 1, "finer than a nanosecond"),
        ("negative dur", g + [x(0, 3, 1, -1)], 1, "negative"),
        ("NaN", None, 2, "NaN", '{"traceEvents": [{"ph": "X", "pid": 0, "tid": 0, "ts": NaN, "dur": 1}]}'),
    ]
    results = [expect(*c) for c in cases]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
