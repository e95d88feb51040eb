"""Collects the per-case `ringlab plan` outputs of plan_llama3.sh into plan_llama3.json (all rows) and
plan_llama3_tables.md.part: the summary table and the top rows of every case, pasted into plan_llama3.md between its
hand-written caveats/headline and comparison. Usage: plan_llama3_collect.py OUT_DIR DEST"""
import json
import os
import sys

src, dest = sys.argv[1], sys.argv[2]
models = [("8B", 32), ("70B", 64), ("405B", 128)]
cases = []
for name, _ in models:
    for seq in (131072, 524288, 1048576):
        for nodes in (1, 8, 128):
            base = os.path.join(src, f"{name}_{seq}_{nodes}")
            with open(base + ".json") as f:
                plan = json.load(f)
            plan["model"] = f"Llama-3 {name}"
            cases.append(plan)
with open(os.path.join(dest, "plan_llama3.json"), "w") as f:
    json.dump(cases, f, indent=1)


def known(r):
    return r["step_ms_lower_bound"] if r.get("pruned") else r["step_ms"]


def best(plan, pred):
    """The row `pred` accepts with the least step, a pruned row counted with its lower bound (ringlab plan's rule)."""
    rows = [r for r in plan["rows"] if not r["error"] and not r["over_capacity"] and pred(r)]
    return min(rows, key=known) if rows else None


def step(r):
    """The row's fwd+bwd step as text: the simulated time, or '≥ bound' for a row the plan pruned."""
    return f"≥ {r['step_ms_lower_bound']:.1f}" if r.get("pruned") else f"{r['step_ms']:.1f}"


def ratio(r, b):
    if r.get("pruned"):
        return f"≥ {r['step_ms_lower_bound'] / b['step_ms']:.2f}×"
    return f"{r['step_ms'] / b['step_ms']:.2f}×"


lines = ["| model | S | GPUs | best layout | across R | fwd ms | fwd+bwd ms | exposed ms | best plain CP (fwd+bwd ms) "
         "| best U×R/Ulysses vs plain |", "|---|---:|---:|---|---|---:|---:|---:|---|---:|"]
for p in cases:
    b = p["rows"][0]
    ring = best(p, lambda r: r["ulysses"] == 1)
    lines.append(f"| {p['model']} | {p['problem']['seq'] // 1024}K | {p['world']} | {b['layout']} | {b['method']} | "
                 f"{b['forward_ms']:.1f} | {b['step_ms']:.1f} | {b['exposed_comm_ms']:.1f} | "
                 f"{ring['layout']} {ring['method']} {step(ring)} | {ratio(ring, b)} |")
details = []
for p in cases:
    details.append(f"\n#### {p['model']}, S = {p['problem']['seq']}, {p['world']} GPUs\n")
    details.append("| # | layout | across R | fwd ms | fwd+bwd ms | exposed ms | mem GiB |")
    details.append("|---|---|---|---:|---:|---:|---:|")
    for i, r in enumerate(p["rows"][:6]):
        if r.get("pruned"):
            details.append(f"| {i + 1} | {r['layout']} | {r['method']} | - | {step(r)} (pruned) | - | "
                           f"{r['memory_gib']:.2f} |")
            continue
        details.append(f"| {i + 1} | {r['layout']} | {r['method']} | {r['forward_ms']:.2f} | {r['step_ms']:.2f} | "
                       f"{r['exposed_comm_ms']:.2f} | {r['memory_gib']:.2f} |")
    simulated = sum(1 for r in p["rows"] if not r.get("pruned"))
    details.append(f"\n{p['best_reason']}  ({simulated} of {len(p['rows'])} layouts simulated, "
                   f"{p['wall_s']:.1f} s wall)")
with open(os.path.join(dest, "plan_llama3_tables.md.part"), "w") as f:
    f.write("\n".join(lines) + "\n\n### Top rows per case\n" + "\n".join(details) + "\n")
