"""The project's peer benchmark: PyTorch's own attention, timed the way ringlab's benchmarks time ours.

Three parts, each a subcommand; every record is one JSON object (printed as `RESULT {...}` by rank 0 and written to
--json FILE as a list, whole or not at all):

  sdpa   single-GPU scaled_dot_product_attention, FLASH (FlashAttention-2) and CUDNN backends, forward and
         forward+backward, for every (head dim, sequence, mask) asked for. Plain `python3 peer_bench.py sdpa ...`.
  cp     PyTorch Context Parallel (torch.distributed.tensor.experimental.context_parallel, FLASH backend, load
         balancing on) over W ranks, both rotate methods (allgather, alltoall), forward and forward+backward; also
         the tutorial's own small correctness check. Launch with `torchrun --standalone --nproc-per-node=W`.
  nccl   raw NCCL all-gather and one ring send/recv step of a rank's K+V shard. Launch with torchrun.

Examples:
  python3 bench/peer/peer_bench.py sdpa --seqs 8192,32768 --dims 128,64 --masks causal,full --json peer_sdpa.json
  python3 bench/peer/peer_bench.py sdpa --shapes coverage_shapes.txt --json peer_sdpa.json   # "B H S D mask" lines
  torchrun --standalone --nproc-per-node=4 bench/peer/peer_bench.py cp --seqs 32768,131072 --json peer_cp.json

FLOPs as every ringlab benchmark counts them: forward = 4·B·H·S²·D, halved when causal; forward+backward = 3.5 ×
forward. Times are medians of CUDA-event-timed repetitions after warm-up; a context-parallel time is the slowest
rank's median. Every record carries rank 0's peak GPU memory since the previous record (allocated and reserved).
Compare only against ringlab measured in the same call on the same card.
"""
import argparse
import json
import os
import sys
import tempfile

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

BACKENDS = {"FLASH_ATTENTION": SDPBackend.FLASH_ATTENTION, "CUDNN_ATTENTION": SDPBackend.CUDNN_ATTENTION}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["sdpa", "cp", "nccl"], help="what to measure")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--dims", default="128", help="head dims, comma separated (cp and nccl take the first)")
    ap.add_argument("--seqs", default="32768,131072", help="global sequence lengths, comma separated")
    ap.add_argument("--masks", default="causal", help="causal,full (comma separated)")
    ap.add_argument("--methods", default="allgather,alltoall", help="cp rotate methods")
    ap.add_argument("--backends", default="FLASH_ATTENTION,CUDNN_ATTENTION", help="sdpa backends")
    ap.add_argument("--iters", type=int, default=10, help="timed repetitions (median reported)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed repetitions first")
    ap.add_argument("--sustain-ms", type=float, default=0.0, help="sdpa: > 0 runs each call back to back for about "
                    "this much GPU time first, then times --iters calls back to back (an event between consecutive "
                    "ones): the clocks the card's power limit allows, as `ringlab calibrate --sustain-ms`; 0: each "
                    "call timed alone after --warmup")
    ap.add_argument("--json", default="", help="write every record to this file ('-' = stdout)")
    ap.add_argument("--shapes", default="", help="sdpa: a file of 'B H S D mask [Hkv]' lines (# comments), e.g. the "
                    "output of `ringlab calibrate --coverage-shapes` or bench/kernels/heldout_shapes.txt; replaces "
                    "--batch, --heads, --dims, --seqs and --masks. Hkv < H (dividing it) is grouped-query attention, "
                    "run with enable_gqa=True")
    a = ap.parse_args(argv)
    a.shape_list = []
    if a.shapes:
        with open(a.shapes) as f:
            for line in f:
                fields = line.split("#")[0].split()
                if not fields:
                    continue
                numbers = fields[:4] + fields[5:]
                if (len(fields) not in (5, 6) or fields[4] not in ("causal", "full")
                        or not all(x.isdigit() and int(x) > 0 for x in numbers)):
                    ap.error(f"--shapes {a.shapes}: '{line.strip()}' is not 'B H S D causal|full [Hkv]' (positive "
                             "integers)")
                h = int(fields[1])
                hkv = int(fields[5]) if len(fields) == 6 else h
                if h % hkv:
                    ap.error(f"--shapes {a.shapes}: '{line.strip()}': Hkv must divide H")
                a.shape_list.append((int(fields[0]), h, int(fields[2]), int(fields[3]), fields[4], hkv))
        if not a.shape_list:
            ap.error(f"--shapes {a.shapes}: no shapes")

    def ints(field, text):
        try:
            vals = [int(x) for x in text.split(",") if x]
        except ValueError:
            ap.error(f"--{field} takes comma-separated positive integers, got '{text}'")
        if not vals or min(vals) <= 0:
            ap.error(f"--{field} takes comma-separated positive integers, got '{text}'")
        return vals

    a.dims, a.seqs = ints("dims", a.dims), ints("seqs", a.seqs)
    a.masks = [m for m in a.masks.split(",") if m]
    if not a.masks or any(m not in ("causal", "full") for m in a.masks):
        ap.error(f"--masks takes causal and/or full, got '{','.join(a.masks)}'")
    a.methods = [m for m in a.methods.split(",") if m]
    if any(m not in ("allgather", "alltoall") for m in a.methods):
        ap.error(f"--methods takes allgather and/or alltoall, got '{','.join(a.methods)}'")
    a.backends = [b for b in a.backends.split(",") if b]
    if any(b not in BACKENDS for b in a.backends):
        ap.error(f"--backends takes {','.join(BACKENDS)}, got '{','.join(a.backends)}'")
    if a.iters <= 0 or a.warmup < 0 or a.batch <= 0 or a.heads <= 0:
        ap.error("--iters, --batch and --heads must be positive and --warmup non-negative")
    if not 0 <= a.sustain_ms <= 10000:
        ap.error(f"--sustain-ms takes 0..10000 ms, got {a.sustain_ms}")
    return a


class Recorder:
    """Collects records on rank 0, each with the peak memory since the previous one."""

    def __init__(self, rank, world):
        self.rank, self.world, self.rows = rank, world, []

    def emit(self, **kw):
        kw.update(world=self.world, torch=torch.__version__, gpu=torch.cuda.get_device_name(),
                  peak_mem_allocated_bytes=torch.cuda.max_memory_allocated(),
                  peak_mem_reserved_bytes=torch.cuda.max_memory_reserved())
        torch.cuda.reset_peak_memory_stats()
        self.rows.append(kw)
        if self.rank == 0:
            print("RESULT " + json.dumps(kw), flush=True)

    def write(self, path):
        if self.rank != 0 or not path:
            return
        if path == "-":
            json.dump(self.rows, sys.stdout, indent=1)
            return
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".peer_bench.")
        with os.fdopen(fd, "w") as f:  # whole or not at all: written aside, renamed into place
            json.dump(self.rows, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def random_bf16(shape, seed):
    g = torch.Generator(device="cuda").manual_seed(seed)
    return torch.randn(shape, dtype=torch.bfloat16, device="cuda", generator=g)


def median_ms(fn, iters, warmup, reduce_max=None):
    """Median of CUDA-event-timed calls; with reduce_max, the maximum over ranks of each rank's median."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    if reduce_max is not None:
        reduce_max.barrier()
    times = []
    for _ in range(iters):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop))
    med = sorted(times)[len(times) // 2]
    if reduce_max is None:
        return med
    t = torch.tensor(med, device="cuda")
    reduce_max.all_reduce(t, op=reduce_max.ReduceOp.MAX)
    return t.item()


def sustained_median_ms(fn, iters, warmup, sustain_ms):
    """Median of `iters` back-to-back calls (an event between consecutive ones) after about sustain_ms of GPU time of
    back-to-back calls: the clocks the card's power limit allows under this work."""
    for _ in range(max(warmup, 1)):
        fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    stop.record()
    torch.cuda.synchronize()
    for _ in range(int(min(max(sustain_ms / max(start.elapsed_time(stop), 1e-3), 1), 100000))):
        fn()
    events = [torch.cuda.Event(enable_timing=True) for _ in range(iters + 1)]
    for i in range(iters):
        events[i].record()
        fn()
    events[iters].record()
    torch.cuda.synchronize()
    times = [events[i].elapsed_time(events[i + 1]) for i in range(iters)]
    return sorted(times)[len(times) // 2]


def forward_flops(b, h, s, d, causal):
    f = 4.0 * b * h * s * s * d
    return f / 2 if causal else f


def sdpa_shapes(a):
    """(B, H, S, D, mask, Hkv) in the order measured: --shapes, else the product of the flags (Hkv = H)."""
    if a.shape_list:
        return a.shape_list
    return [(a.batch, a.heads, s, d, mask, a.heads) for d in a.dims for s in a.seqs for mask in a.masks]


def run_sdpa(a, rec):
    for b, h, s, d, mask, hkv in sdpa_shapes(a):
        causal = mask == "causal"
        for name in a.backends:
            q = random_bf16((b, h, s, d), 0).requires_grad_()
            k, v = [random_bf16((b, hkv, s, d), i).requires_grad_() for i in (1, 2)]
            grad = random_bf16((b, h, s, d), 3)
            gqa = {"enable_gqa": True} if hkv != h else {}  # older PyTorch without the flag still runs MHA shapes
            fwd = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal, **gqa)
            try:
                with sdpa_kernel(BACKENDS[name]):
                    if a.sustain_ms > 0:
                        tf = sustained_median_ms(fwd, a.iters, a.warmup, a.sustain_ms)
                        tfb = sustained_median_ms(lambda: fwd().backward(grad), a.iters, a.warmup, a.sustain_ms)
                    else:
                        tf = median_ms(fwd, a.iters, a.warmup)
                        tfb = median_ms(lambda: fwd().backward(grad), a.iters, a.warmup)
                fl = forward_flops(b, h, s, d, causal)
                rec.emit(kind="single_gpu_sdpa", backend=name, B=b, H=h, Hkv=hkv, S=s, D=d, causal=causal,
                         fwd_ms=tf, fwdbwd_ms=tfb, fwd_tflops=fl / tf / 1e9, fwdbwd_tflops=3.5 * fl / tfb / 1e9,
                         sustain_ms=a.sustain_ms)
            except RuntimeError as ex:  # a backend that does not support the shape says so in its record
                rec.emit(kind="single_gpu_sdpa", backend=name, B=b, H=h, Hkv=hkv, S=s, D=d, causal=causal,
                         error=str(ex).splitlines()[0][:300])
            del q, k, v, grad
            torch.cuda.empty_cache()


def run_cp(a, rec, dist, mesh):
    from torch.distributed.tensor.experimental import context_parallel
    from torch.distributed.tensor.experimental._attention import context_parallel_unshard, set_rotate_method
    rank, world, d = dist.get_rank(), dist.get_world_size(), a.dims[0]
    for method in a.methods:  # the tutorial's own check on small shapes, against one GPU's SDPA
        set_rotate_method(method)
        qkv = [random_bf16((8, 8, 64 * world, 32), i) for i in range(3)]
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            ref = F.scaled_dot_product_attention(*qkv, is_causal=True)
            shards = [t.detach().clone() for t in qkv]
            with context_parallel(mesh, buffers=tuple(shards), buffer_seq_dims=(2, 2, 2)):
                out = F.scaled_dot_product_attention(*shards, is_causal=True)
            (out,) = context_parallel_unshard(mesh, [out], [2])
        rel = ((out.double() - ref.double()).norm() / ref.double().norm()).item()
        rec.emit(kind="seed_check", method=method, rel_err=rel)
    for s in a.seqs:
        for mask in a.masks:
            causal = mask == "causal"
            for method in a.methods:
                set_rotate_method(method)
                q, k, v = [random_bf16((a.batch, a.heads, s, d), i) for i in range(3)]
                try:
                    with sdpa_kernel(SDPBackend.FLASH_ATTENTION), context_parallel(
                            mesh, buffers=(q, k, v), buffer_seq_dims=(2, 2, 2), no_restore_buffers={q, k, v}):
                        for t in (q, k, v):  # after sharding: a leaf that requires grad cannot be resized
                            t.requires_grad_(True)
                        grad = random_bf16(tuple(q.shape), 3 + rank)
                        fwd = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                        tf = median_ms(fwd, a.iters, a.warmup, reduce_max=dist)
                        tfb = median_ms(lambda: fwd().backward(grad), a.iters, a.warmup, reduce_max=dist)
                    fl = forward_flops(a.batch, a.heads, s, d, causal)
                    rec.emit(kind="cp_sdpa", method=method, B=a.batch, H=a.heads, S=s, D=d, causal=causal, fwd_ms=tf,
                             fwdbwd_ms=tfb, fwd_tflops_per_gpu=fl / tf / 1e9 / world,
                             fwdbwd_tflops_per_gpu=3.5 * fl / tfb / 1e9 / world)
                except RuntimeError as ex:
                    rec.emit(kind="cp_sdpa", method=method, S=s, causal=causal, error=str(ex).splitlines()[0][:400])
                del q, k, v
                torch.cuda.empty_cache()


def run_nccl(a, rec, dist):
    rank, world, d = dist.get_rank(), dist.get_world_size(), a.dims[0]
    for s in a.seqs:
        n = 2 * a.batch * a.heads * (s // world) * d  # K and V elements of one rank's shard
        x = random_bf16((n,), rank)
        gathered = torch.empty(n * world, dtype=torch.bfloat16, device="cuda")
        t_ag = median_ms(lambda: dist.all_gather_into_tensor(gathered, x), a.iters, a.warmup, reduce_max=dist)
        y = torch.empty_like(x)

        def ring_step():
            ops = [dist.P2POp(dist.isend, x, (rank + 1) % world), dist.P2POp(dist.irecv, y, (rank - 1) % world)]
            for req in dist.batch_isend_irecv(ops):
                req.wait()
        t_ring = median_ms(ring_step, a.iters, a.warmup, reduce_max=dist)
        nbytes = 2 * n
        rec.emit(kind="nccl", S=s, shard_bytes=nbytes, allgather_ms=t_ag,
                 allgather_busbw_GBps=nbytes * (world - 1) / t_ag / 1e6, ring_step_ms=t_ring,
                 ring_GBps=nbytes / t_ring / 1e6)


def main(argv):
    a = parse_args(argv)
    if not torch.cuda.is_available():
        print("peer_bench: error: no CUDA device visible", file=sys.stderr)
        return 3
    if a.part == "sdpa":
        torch.cuda.set_device(0)
        rec = Recorder(0, 1)
        run_sdpa(a, rec)
        rec.write(a.json)
        return 0
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        print(f"peer_bench: error: part '{a.part}' needs torchrun (RANK and WORLD_SIZE unset)", file=sys.stderr)
        return 2
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    dist.init_process_group("nccl", device_id=torch.device("cuda", torch.cuda.current_device()))
    rec = Recorder(rank, world)
    try:
        if a.part == "cp":
            run_cp(a, rec, dist, init_device_mesh("cuda", (world,), mesh_dim_names=("cp",)))
        else:
            run_nccl(a, rec, dist)
        rec.write(a.json)
    finally:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
