#!/usr/bin/env python3
"""Masked attention on one GPU, ours against PyTorch's own paths (issue 19): document (packed, varlen) and causal
sliding-window masks at one shape, forward and forward+backward, in one run on one card.

    python3 bench/kernels/mask_peer_bench.py --ours build/bench/kernels/ringlab_mask_bench \\
        --seq 32768 --heads 32 --dim 128 --json out/mask.json --md out/mask.md --commit $(git rev-parse --short HEAD)

Cases: documents drawn from three length distributions (uniform 2k-8k, many short 256-1k, one long + short ones),
document-causal; causal windows of 1k and 4k keys over one document; documents with a window. Peers: SDPA with an
explicit S x S boolean mask, FlexAttention with a BlockMask (torch.compile'd; one mask_mod for every case, so it
compiles once), and SDPA on nested jagged tensors (varlen, is_causal) where the mask is document-causal alone.
Ours: ringlab_mask_bench (LaunchForward / LaunchBackward with a TokenMask) on the same documents, and our dense causal
kernel at the same shape (the floor: masked >= 0.9x dense TFLOP/s).

TFLOP/s count the visible (unmasked) pairs: 4 H D per pair forward, the diagonal counted half (so a plain causal
mask gives the dense causal count, 4 H D S^2 / 2); forward+backward = 3.5x forward, as bench/kernels/attention_bench.
Without --ours only the peers run. --cases-out writes the cases and exits (for running ours separately).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

import numpy as np


def draw_documents(kind, seq, rng):
    """cu_seqlens (0, ..., seq) of one named distribution."""
    cu = [0]
    if kind == "long+short":  # one document of half the sequence, then short ones
        cu.append(seq // 2)
    while cu[-1] < seq:
        lo, hi = {"uniform-2k-8k": (2048, 8192), "short-256-1k": (256, 1024), "long+short": (256, 2048),
                  "uniform-512-2k": (512, 2048), "uniform-4k-16k": (4096, 16384), "tiny-16-256": (16, 256)}[kind]
        cu.append(min(seq, cu[-1] + int(rng.integers(lo, hi + 1))))
    return cu


# Case sets: "issue19", the six cases of the table; "heldout", other document lengths and windows for checking
# the simulator's masked-kernel cost on masks it was not fitted on (bench/results/mask_kernels_h100.md).
CASE_SETS = {
    "issue19": (("uniform-2k-8k", "short-256-1k", "long+short"), (1024, 4096), ("uniform-2k-8k", 1024)),
    "heldout": (("uniform-512-2k", "uniform-4k-16k", "tiny-16-256"), (512, 2048, 8192), ("uniform-4k-16k", 2048)),
}


def make_cases(seq, seed, case_set="issue19"):
    rng = np.random.default_rng(seed)
    doc_kinds, windows, (both_kind, both_window) = CASE_SETS[case_set]
    cases = []
    for kind in doc_kinds:
        cases.append({"name": f"docs {kind}", "docs": draw_documents(kind, seq, rng), "window": -1})
    for w in windows:
        cases.append({"name": f"window {w}", "docs": [0, seq], "window": w})
    both_docs = next(c["docs"] for c in cases if c["name"] == f"docs {both_kind}")
    cases.append({"name": f"docs {both_kind} + window {both_window}", "docs": both_docs, "window": both_window})
    for c in cases:
        c["visible_pairs"] = visible_pairs(c["docs"], c["window"], seq)
    return cases


def visible_pairs(cu, window, seq):
    """Document-causal pairs with a window (keys q - window .. q), the diagonal counted half."""
    q = np.arange(seq, dtype=np.int64)
    start = np.repeat(np.array(cu[:-1], dtype=np.int64), np.diff(cu))
    lo = np.maximum(start, q - window) if window >= 0 else start
    return float((q - lo + 1).sum()) - 0.5 * seq


def time_ms(fn, iters, warmup=2):
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return sorted(times)[len(times) // 2]


class Peers:
    """PyTorch's paths for one shape; cases swap the documents and window in place (FlexAttention compiles once)."""

    def __init__(self, seq, heads, dim, iters):
        import torch
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        self.torch, self.seq, self.iters, dev = torch, seq, iters, "cuda"
        self.create_block_mask = create_block_mask
        shape = (1, heads, seq, dim)
        self.q, self.k, self.v = (torch.randn(shape, device=dev, dtype=torch.bfloat16, requires_grad=True)
                                  for _ in range(3))
        # Varlen operands in the packed (tokens, heads, dim) layout nested jagged tensors view without copies.
        self.packed = [torch.randn(seq, heads, dim, device=dev, dtype=torch.bfloat16, requires_grad=True)
                       for _ in range(3)]
        self.doc_id = torch.zeros(seq, dtype=torch.int32, device=dev)
        self.window = torch.full((), seq, dtype=torch.int64, device=dev)
        doc_id, window = self.doc_id, self.window

        def mask_mod(b, h, qi, ki):
            return (doc_id[qi] == doc_id[ki]) & (ki <= qi) & (qi - ki <= window)

        self.mask_mod = mask_mod
        self.flex = torch.compile(flex_attention)

    def set_case(self, case):
        torch, seq = self.torch, self.seq
        cu = case["docs"]
        ids = np.repeat(np.arange(len(cu) - 1, dtype=np.int32), np.diff(cu))
        self.doc_id.copy_(torch.from_numpy(ids))
        self.window.fill_(case["window"] if case["window"] >= 0 else seq)
        self.cu = torch.tensor(cu, dtype=torch.int64, device="cuda")

    def impls(self, case):
        torch, F = self.torch, self.torch.nn.functional
        q, k, v = self.q, self.k, self.v
        try:
            block_mask = self.create_block_mask(self.mask_mod, 1, 1, self.seq, self.seq, device="cuda")
        except Exception as e:  # recorded as FlexAttention's error below
            block_mask = e
        qi = torch.arange(self.seq, device="cuda")
        dense = (self.doc_id[:, None] == self.doc_id[None, :]) & (qi[None, :] <= qi[:, None])
        dense &= qi[:, None] - qi[None, :] <= self.window
        dense_leaves = (q, k, v)
        out = {"sdpa_explicit_mask": (lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=dense), dense_leaves)}
        if case["window"] < 0:  # varlen: one causal attention per document
            def varlen():
                nest = [torch.nested.nested_tensor_from_jagged(x, offsets=self.cu).transpose(1, 2) for x in self.packed]
                return F.scaled_dot_product_attention(*nest, is_causal=True).transpose(1, 2).values()
            out["sdpa_nested_varlen"] = (varlen, tuple(self.packed))
        # Last: it compiles the first time.
        def flex():
            if isinstance(block_mask, Exception):
                raise block_mask
            return self.flex(q, k, v, block_mask=block_mask)
        out["flex_blockmask"] = (flex, dense_leaves)
        return out

    def time(self, fn, leaves, slow):
        torch = self.torch
        iters, warmup = (3, 1) if slow else (self.iters, 2)
        with torch.no_grad():
            fwd = time_ms(fn, iters, warmup)
        grad = torch.randn_like(fn())
        both = time_ms(lambda: torch.autograd.grad(fn(), leaves, grad), iters, warmup)
        return fwd, both


def tflops(pairs, heads, dim, ms, factor=1.0):
    return factor * 4.0 * heads * dim * pairs / ms / 1e9 if ms else 0.0


def portable_command(argv):
    """The command line as results may quote it: absolute paths (a device's scratch folders) reduced to their file
    name, so that no machine's path lands in a committed result."""
    return " ".join(os.path.basename(x) if os.path.isabs(x) else x for x in argv)


def gpu_line():
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, check=True).stdout.strip().splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def dense_after_note(result, dense_pairs, h, d):
    """'; after them ...' when ringlab_mask_bench timed the dense kernel again after the cases (a clock drift shows)."""
    after = result["ours"].get("dense_causal_after", {})
    if "fwd_ms" not in after:
        return ""
    return (f"; after them fwd {tflops(dense_pairs, h, d, after.get('fwd_ms')):.1f}, fwd+bwd "
            f"{tflops(dense_pairs, h, d, after.get('fwdbwd_ms'), 3.5):.1f}")


def markdown(result):
    h, d, s = result["heads"], result["dim"], result["seq"]
    dense_pairs = s * s / 2
    dense = result["ours"].get("dense_causal", {})
    first = (f"fwd {tflops(dense_pairs, h, d, dense.get('fwd_ms')):.1f}, fwd+bwd "
             f"{tflops(dense_pairs, h, d, dense.get('fwdbwd_ms'), 3.5):.1f} TFLOP/s, timed before the cases"
             f"{dense_after_note(result, dense_pairs, h, d)}")
    if any("dense_fwd_ms" in v for v in result["ours"].get("cases", {}).values()):
        basis = ("ours/dense: against our dense causal kernel at the same shape timed right before each case "
                 f"(--dense-each: the card's clock drifts over a run; the first dense run: {first}).")
    else:
        basis = f"ours/dense: against our dense causal kernel at the same shape ({first})."
    sustain = result.get("ours_sustain_ms", 0)
    basis += (f" Ours timed sustained (each kernel back to back {sustain:g} ms first)." if sustain else
              " Ours timed in bursts (synchronised single runs after 3 warm-ups).")
    lines = [f"# Masked attention kernels vs PyTorch (issue 19), B1 H{h} S{s} D{d} bf16", "",
             f"card/driver: {result['gpu']}; torch {result['torch']}; date {result['date']}; commit "
             f"{result['commit']}", "", f"command: `{result['command']}`", "",
             "TFLOP/s on the visible pairs (4 H D per pair forward, diagonal half; fwd+bwd 3.5x). "
             + basis + " " +
             "Peers: SDPA with an explicit boolean mask, FlexAttention with a BlockMask (torch.compile), SDPA on "
             "nested jagged tensors (varlen, document-causal cases only); 0 or 'err': not run / failed. "
             f"Our kernels: {result.get('kernels', 'default dispatch')}.", ""]
    if "error" in result["ours"]:
        lines += ["ours: failed: `" + result["ours"]["error"].strip().replace("\n", "; ") + "`", ""]
    peers = ["sdpa_explicit_mask", "flex_blockmask", "sdpa_nested_varlen"]
    for label, key, factor in (("forward", "fwd_ms", 1.0), ("forward+backward", "fwdbwd_ms", 3.5)):
        lines += [f"## {label}", "", "| case | docs | visible | ours ms | ours TFLOP/s | ours/dense | "
                  + " | ".join(f"{p} TFLOP/s" for p in peers) + " | ours/best peer |",
                  "|---" * (7 + len(peers)) + "|"]
        dense_tf = tflops(dense_pairs, h, d, dense.get(key), factor)
        for c in result["cases"]:
            pairs = c["visible_pairs"]
            ours_row = result["ours"].get("cases", {}).get(c["name"], {})
            ours_ms = ours_row.get(key, 0.0)  # 0: failed or not run
            ours = tflops(pairs, h, d, ours_ms, factor)
            # --dense-each: the dense kernel timed right before this case (the card's clock drifts over a run)
            case_dense_tf = tflops(dense_pairs, h, d, ours_row["dense_" + key], factor) \
                if ours_row.get("dense_" + key) else dense_tf
            peer_tf = {}
            for p in peers:
                row = c.get("peers", {}).get(p)
                peer_tf[p] = "err" if row and "error" in row else tflops(pairs, h, d, row[key], factor) if row else 0.0
            best = max([x for x in peer_tf.values() if isinstance(x, float)] + [0.0])
            lines.append(f"| {c['name']} | {len(c['docs']) - 1} | {pairs / dense_pairs:.3f} | {ours_ms:.3f} | "
                         f"{ours:.1f} | {ours / case_dense_tf if case_dense_tf else 0:.2f} | "
                         + " | ".join(x if isinstance(x, str) else f"{x:.1f}" for x in peer_tf.values())
                         + f" | {ours / best if best else 0:.2f} |")
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq", type=int, default=32768)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--case-set", choices=sorted(CASE_SETS), default="issue19",
                    help="issue19: the issue's six cases; heldout: other document lengths and windows")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--dense-each", action="store_true",
                    help="ours: time the dense kernel again before every case; ours/dense then uses that one")
    ap.add_argument("--sustain-ms", type=float, default=0.0,
                    help="ours only: run each kernel back to back this long before timing it (0: bursts)")
    ap.add_argument("--ours", default="", help="ringlab_mask_bench binary; empty: peers only")
    ap.add_argument("--peers", default="sdpa_explicit_mask,flex_blockmask,sdpa_nested_varlen")
    ap.add_argument("--cases-out", default="")
    ap.add_argument("--json", default="")
    ap.add_argument("--md", default="")
    ap.add_argument("--commit", default="")
    a = ap.parse_args()
    cases = make_cases(a.seq, a.seed, a.case_set)
    spec = {"seq": a.seq, "heads": a.heads, "dim": a.dim, "cases": cases}
    cases_path = a.cases_out or "/tmp/ringlab_mask_cases.json"
    with open(cases_path, "w") as f:
        json.dump(spec, f)
    if a.cases_out:
        return
    import torch
    result = {"gpu": gpu_line(), "torch": torch.__version__, "seq": a.seq, "heads": a.heads, "dim": a.dim,
              "case_set": a.case_set,
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "commit": a.commit, "command": portable_command(sys.argv), "cases": cases, "ours": {},
              "ours_sustain_ms": a.sustain_ms,
              "kernels": "RINGLAB_FWD_KERNEL=%s RINGLAB_BWD_KERNEL=%s (unset: ws on sm_90)" % (
                  os.environ.get("RINGLAB_FWD_KERNEL", "unset"), os.environ.get("RINGLAB_BWD_KERNEL", "unset"))}
    if a.ours:
        # The newer flags only when asked, so that builds from before them (A/B runs of older binaries) still run.
        extra = (["--sustain-ms", str(a.sustain_ms)] if a.sustain_ms > 0 else []) + \
            (["--dense-each"] if a.dense_each else [])
        run = subprocess.run([a.ours, "--cases", cases_path, "--iters", str(a.iters), "--json", "-"] + extra,
                             capture_output=True, text=True)
        sys.stderr.write(run.stderr)
        result["ours"] = json.loads(run.stdout) if run.returncode == 0 else {"error": run.stderr[-500:]}
        write(result, a)
    wanted = set(a.peers.split(",")) - {"none"}
    if not wanted:  # ours only: no S x S peer masks to build
        print(markdown(result))
        return
    peers = Peers(a.seq, a.heads, a.dim, a.iters)
    for c in cases:
        peers.set_case(c)
        c["peers"] = {}
        for name, (fn, leaves) in peers.impls(c).items():
            if name not in wanted:
                continue
            t0 = time.time()
            try:
                fwd, both = peers.time(fn, leaves, slow=name == "sdpa_explicit_mask")
                c["peers"][name] = {"fwd_ms": fwd, "fwdbwd_ms": both}
            except Exception as e:  # a path PyTorch refuses for this mask: recorded, the others still run
                c["peers"][name] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
            print(f"{c['name']:34s} {name:20s} {c['peers'][name]} ({time.time() - t0:.0f} s)", file=sys.stderr)
            write(result, a)  # after every measurement: a run cut short keeps what it measured
        torch.cuda.empty_cache()
    print(markdown(result))


def write(result, a):
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    if a.md:
        with open(a.md, "w") as f:
            f.write(markdown(result) + "\n")


if __name__ == "__main__":
    main()
