#!/usr/bin/env python3
"""Writes the before/after scale table (markdown) from run_scale_matrix.sh's JSON lines.

Usage: bench/sim/scale_table.py before.jsonl after.jsonl > table.md   (rows: W x method x pass x sharding)
"""
import json
import sys


def load(path):
    rows = {}
    for line in open(path):
        line = line.strip()
        if line:
            d = json.loads(line)
            rows[(d["world"], d["method"], d["pass"], d["sharding"])] = d
    return rows


def cell(d):
    if d is None:
        return "not run", ""
    cpu = f' ({d["user_s"]:.1f} CPU s)' if d.get("user_s") is not None else ""
    if d["status"] != "ok":
        cap = "CPU " if d["status"] == "cpu-limit" else ""
        return (f'{d["status"]} (cap {cap}{d["limit_s"]} s, {d["mem_limit_gib"]} GiB)',
                f'{d["peak_rss_mib"]} MiB at stop')
    return f'{d["wall_s"]:.2f} s{cpu}', f'{d["peak_rss_mib"]} MiB'


def main():
    before, after = load(sys.argv[1]), load(sys.argv[2])
    print("| W | method | pass | sharding | before: wall | before: peak RSS | after: wall | after: peak RSS | "
          "after: programs | step time (ms) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        bw, bm = cell(b)
        aw, am = cell(a)
        progs = ""
        step = ""
        for d in (a, b):
            if d and d["status"] == "ok":
                step = f'{d["step_time_us"] / 1e3:.3f}'
                break
        if a and a["status"] == "ok":
            progs = "shared" if a.get("distinct_rank_programs") == 1 else "spliced"
        if a and b and a["status"] == "ok" and b["status"] == "ok" and a["step_time_us"] != b["step_time_us"]:
            step += " (DIFFERS)"
        print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {bw} | {bm} | {aw} | {am} | {progs} | {step} |")


if __name__ == "__main__":
    main()
