#!/usr/bin/env python3
"""Writes the small Kineto-like PyTorch profiler captures the viewer tests read (tests/viz/data/kineto_rank{0,1}.json),
and two simulated traces of the same problem in plain Chrome JSON (pid = rank, tid 0 compute / 1 comm, the op kind as
category): sim_ring_w2.json (ring: send/recv, attention 10 % slower than measured) and sim_a2a_w2.json (all-to-all,
a different schedule, for compare mode's warning).

Shapes taken from PyTorch profiler exports of a context-parallel run: a host process with ProfilerStep#N annotations
and cpu ops, cudaLaunchKernel calls joined to their kernels by ac2g flow events (ph s / ph f with bp e), a GPU process
with a compute stream (flash attention and a merge kernel) and an NCCL stream (stream 19, SendRecv kernels), Kineto's
"Spans" process written with a string pid, distributedInfo with the rank, and one counter (link bytes/s). Two
iterations, 5 and 6; every duration below is what the tests expect back.

  python3 tests/viz/data/make_kineto_fixture.py tests/viz/data
"""
import json
import os
import sys

# Per rank: (iteration id, host annotation start, annotation duration) in microseconds.
STEPS = {0: [(5, 1000.0, 3000.0), (6, 4200.0, 2800.0)],
         1: [(5, 1000.0, 3100.0), (6, 4200.0, 2900.0)]}
FLASH_US = [400.0, 420.0]   # the two flash kernels of one iteration (ring steps 0 and 1)
MERGE_US = 35.0
SENDRECV_US = [300.0, 310.0]


def rank_trace(rank):
    host_pid, gpu_pid = 4000 + rank, rank
    ev = [
        {"ph": "M", "name": "process_name", "pid": host_pid, "args": {"name": "python3"}},
        {"ph": "M", "name": "process_name", "pid": gpu_pid, "args": {"name": "GPU %d" % rank}},
        {"ph": "M", "name": "thread_name", "pid": gpu_pid, "tid": 7, "args": {"name": "stream 7"}},
        {"ph": "M", "name": "thread_name", "pid": gpu_pid, "tid": 19, "args": {"name": "stream 19"}},
        {"ph": "X", "cat": "Trace", "name": "PyTorch Profiler (0)", "pid": "Spans", "tid": "PyTorch Profiler",
         "ts": 900.0, "dur": 6400.0},
    ]
    flow = 100 * rank
    for it, t0, dur in STEPS[rank]:
        ev.append({"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#%d" % it, "pid": host_pid,
                   "tid": host_pid, "ts": t0, "dur": dur})
        gpu = t0 + 100.0
        for step in range(2):
            launch = t0 + 20.0 + 200.0 * step
            ev.append({"ph": "X", "cat": "cpu_op", "name": "aten::_scaled_dot_product_flash_attention",
                       "pid": host_pid, "tid": host_pid, "ts": launch, "dur": 60.0})
            ev.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": host_pid,
                       "tid": host_pid, "ts": launch + 10.0, "dur": 8.0})
            flow += 1
            ev.append({"ph": "s", "cat": "ac2g", "name": "ac2g", "id": flow, "pid": host_pid, "tid": host_pid,
                       "ts": launch + 10.0})
            ev.append({"ph": "X", "cat": "kernel", "name": "pytorch_flash::flash_fwd_kernel", "pid": gpu_pid,
                       "tid": 7, "ts": gpu, "dur": FLASH_US[step]})
            ev.append({"ph": "f", "cat": "ac2g", "name": "ac2g", "id": flow, "bp": "e", "pid": gpu_pid, "tid": 7,
                       "ts": gpu})
            ev.append({"ph": "X", "cat": "kernel", "name": "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)",
                       "pid": gpu_pid, "tid": 19, "ts": gpu + 5.0, "dur": SENDRECV_US[step]})
            ev.append({"ph": "C", "name": "link bytes/s", "pid": gpu_pid, "ts": gpu + 5.0,
                       "args": {"value": 2.0e11 + 1.0e10 * rank}})
            ev.append({"ph": "C", "name": "link bytes/s", "pid": gpu_pid, "ts": gpu + 5.0 + SENDRECV_US[step],
                       "args": {"value": 0}})
            gpu += max(FLASH_US[step], SENDRECV_US[step] + 5.0) + 10.0
        ev.append({"ph": "X", "cat": "kernel", "name": "void at::native::elementwise_kernel<merge>", "pid": gpu_pid,
                   "tid": 7, "ts": gpu, "dur": MERGE_US})
    return {"schemaVersion": 1, "deviceProperties": [],
            "distributedInfo": {"backend": "nccl", "rank": rank, "world_size": 2}, "traceEvents": ev}


def sim_trace(alltoall):
    """Per rank: attend, comm, attend, comm, merge; as the viewer tests' SimulatedRing(1.1)."""
    ev = []
    for r in range(2):
        comm = [("all-to-all", "alltoall")] if alltoall else [("send", "send"), ("recv", "recv")]
        ev.append({"ph": "X", "cat": "attend", "name": "attend", "pid": r, "tid": 0, "ts": 0.0, "dur": 440.0})
        for cat, name in comm:
            ev.append({"ph": "X", "cat": cat, "name": name, "pid": r, "tid": 1, "ts": 5.0, "dur": 280.0,
                       "args": {"step": 0, "peer": 1 - r}})
        ev.append({"ph": "X", "cat": "attend", "name": "attend", "pid": r, "tid": 0, "ts": 450.0, "dur": 462.0})
        for cat, name in comm:
            ev.append({"ph": "X", "cat": cat, "name": name, "pid": r, "tid": 1, "ts": 455.0, "dur": 290.0,
                       "args": {"step": 1, "peer": 1 - r}})
        ev.append({"ph": "X", "cat": "merge", "name": "merge", "pid": r, "tid": 0, "ts": 920.0, "dur": 30.0})
    return {"traceEvents": ev}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for rank in (0, 1):
        with open(os.path.join(out, "kineto_rank%d.json" % rank), "w") as f:
            json.dump(rank_trace(rank), f, indent=0)
            f.write("\n")
    for name, a2a in (("sim_ring_w2.json", False), ("sim_a2a_w2.json", True)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(sim_trace(a2a), f, indent=0)
            f.write("\n")


if __name__ == "__main__":
    main()
