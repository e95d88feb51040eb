#!/usr/bin/env python3
"""Random odd shapes and masks through our GPU kernels, each checked against the CPU float64 reference: `ringlab run
--world 1 --verify --pass both` over configurations no test names (batch, heads and GQA groups, head dims, sequence
lengths off every tile multiple, element types, causal/full, windows, packed documents, their combinations).

  python3 bench/kernels/odd_shape_sweep.py --ringlab BIN/apps/ringlab --count 80 --seed 7 --out OUT
  python3 bench/kernels/odd_shape_sweep.py --list --count 80 --seed 7      # the configurations only, no GPU

A run passes when it exits 0 with its verification passed; a refusal (exit 2, one stderr line naming a flag) is
counted apart (e.g. a head dim the GPU kernels do not have); anything else (exit 1: verification failed, exit 3,
a signal, a timeout, a refusal of more than one line) is a failure. Writes OUT/odd_shapes.json (every run: command,
exit code, seconds, stderr tail) and prints one table line per outcome class, failures listed. Exit 1 when any run
failed, 2 on bad input.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

# Under apps/cmd_run.cc's kMaxCpuFlops (2e10), so that the CPU float64 reference runs, and small enough that it
# takes seconds, not minutes.
CPU_REFERENCE_FLOPS = 2e9


def fail(message):
    print(f"odd_shape_sweep: {message}", file=sys.stderr)
    sys.exit(2)


def draw(rng, tmp, k):
    """One configuration: (flags, files it needs)."""
    heads = rng.choice([1, 2, 3, 4, 6, 8, 12])
    kv = rng.choice([d for d in range(1, heads + 1) if heads % d == 0])
    dim = rng.choice([64, 64, 128, 128, 128, 256])
    batch = rng.choice([1, 1, 2, 3])
    base = rng.choice(["causal", "causal", "full"])
    seq = rng.choice([rng.randint(1, 200), rng.randint(200, 1500), rng.randint(1500, 4100)])
    # Small enough that `run --verify` also checks against the CPU float64 reference (forward FLOPs counted without
    # the window or documents), not only against the same kernels at W = 1.
    pair_flops = 4 * batch * heads * dim * (0.5 if base == "causal" else 1.0)
    seq = max(1, min(seq, int((CPU_REFERENCE_FLOPS / pair_flops) ** 0.5)))
    flags = ["--batch", str(batch), "--heads", str(heads), "--kv-heads", str(kv), "--dim", str(dim),
             "--seq", str(seq), "--dtype", rng.choice(["bf16", "bf16", "fp16"])]
    terms = [base]
    shape = rng.random()
    if shape < 0.3:
        left = rng.choice([0, 1, 17, 64, 127, 128, 129, 300, 1000, -1])
        right = 0 if base == "causal" else rng.choice([0, 5, 128, 400, -1])
        terms.append(f"window:{left},{right}")
    elif shape < 0.55:
        terms.append(rng.choice(["docs-synthetic:uniform", "docs-synthetic:lognormal", "docs-synthetic:pretrain-mix",
                                 f"docs-synthetic:fixed-{rng.choice([1, 7, 64, 128, 129, 500])}"]) +
                     f":{rng.randint(1, 99)}")
    elif shape < 0.8:
        cuts = sorted(set(rng.sample(range(1, seq), min(seq - 1, rng.randint(1, 12))))) if seq > 1 else []
        path = os.path.join(tmp, f"cu{k}.txt")
        with open(path, "w") as f:
            f.write(" ".join(str(x) for x in [0] + cuts + [seq]) + "\n")
        terms.append("cu-seqlens:" + path)
        if rng.random() < 0.4:
            terms.append(f"window:{rng.choice([3, 100, 256, 700])},{0 if base == 'causal' else rng.choice([0, 50])}")
    flags += ["--mask", "+".join(terms)]
    return flags


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringlab", default="", help="a CUDA build's ringlab binary")
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=60, help="seconds per run")
    ap.add_argument("--budget", type=float, default=0, help="stop starting runs after this many seconds (0: none)")
    ap.add_argument("--out", default="", help="folder for odd_shapes.json")
    ap.add_argument("--list", action="store_true", help="print the configurations and exit")
    a = ap.parse_args()
    if a.count < 1 or a.count > 10000:
        fail(f"--count must be in [1, 10000] (got {a.count})")
    if not a.list and not os.access(a.ringlab, os.X_OK):
        fail(f"--ringlab {a.ringlab!r}: not an executable")
    rng = random.Random(a.seed)
    runs, counts = [], {"pass": 0, "refused": 0, "failed": 0}
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(a.count):
            flags = draw(rng, tmp, k)
            if a.budget and time.time() - start > a.budget and not a.list:
                print(f"odd_shape_sweep: --budget {a.budget:.0f} s spent after {k} of {a.count} runs", file=sys.stderr)
                break
            cmd = [a.ringlab or "ringlab", "run", "--world", "1", "--sharding", "contiguous", "--pass", "both",
                   "--verify", "--warmup", "0", "--warmup-ms", "0", "--iters", "1", "--seed", str(k + 1)] + flags
            if a.list:
                try:
                    print(" ".join(cmd), flush=True)
                except BrokenPipeError:  # the reader stopped (e.g. `| head`): stop quietly, as a C++ tool would
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                    return 0
                continue
            t0 = time.time()
            try:
                run = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
                code, err = run.returncode, run.stderr
            except subprocess.TimeoutExpired as e:
                code, err = "timeout", (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) \
                    else (e.stderr or "")
            lines = [x for x in err.splitlines() if x.strip()]
            out = run.stdout if code != "timeout" else ""
            if code == 0 and "CPU fp64" in out + err and "verify: PASS" in out + err:
                outcome = "pass"
            elif code == 0:  # exit 0 without the float64 comparison: not the check this sweep is for
                outcome, lines = "failed", lines + ["(no CPU fp64 verification in the output)"]
            elif code == 2 and len([x for x in lines if "error" in x]) == 1:
                outcome = "refused"
            else:
                outcome = "failed"
            counts[outcome] += 1
            errors = [float(x.split()[3]) for x in (out + err).splitlines()
                      if x.strip().startswith(("CPU fp64", "1 GPU")) and len(x.split()) > 3]
            runs.append({"cmd": " ".join(cmd), "exit": code, "seconds": round(time.time() - t0, 2),
                         "outcome": outcome, "max_rel_error": max(errors, default=None),
                         "stderr_tail": "\n".join(lines[-6:])})
            print(f"[{k + 1}/{a.count}] {outcome:8s} exit {code} {time.time() - t0:5.1f} s  {' '.join(flags)}",
                  file=sys.stderr)
    if a.list:
        return
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "odd_shapes.json.tmp"), "w") as f:
            json.dump({"seed": a.seed, "count": a.count, "ran": len(runs), "counts": counts, "runs": runs}, f, indent=1)
        os.replace(os.path.join(a.out, "odd_shapes.json.tmp"), os.path.join(a.out, "odd_shapes.json"))
    print(f"{len(runs)} of {a.count} configurations ran")
    print("| outcome | runs |\n|---|---|")
    for k, v in counts.items():
        print(f"| {k} | {v} |")
    for r in runs:
        if r["outcome"] != "pass":
            print(f"{r['outcome']}: exit {r['exit']}: {r['cmd']}\n    {r['stderr_tail'][-400:]}")
    sys.exit(1 if counts["failed"] else 0)


if __name__ == "__main__":
    main()
