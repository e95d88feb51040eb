"""Runs ../shared/bench/torch_cp_bench.py unchanged except that every result it emits also carries the peak GPU
memory of rank 0 since the previous result (torch.cuda.max_memory_allocated / max_memory_reserved, then reset):
for a cp_sdpa row that is the peak over that row's forward and forward+backward measurements.

    torchrun --standalone --nproc-per-node=W peer_with_memory.py PATH/torch_cp_bench.py [its options]
"""
import sys

path = sys.argv[1]
sys.argv = [path] + sys.argv[2:]
src = open(path).read()
hook = "def emit(**kw):\n"
assert hook in src, "torch_cp_bench.py changed: no emit()"
src = src.replace(hook, hook + "    kw.update(peak_mem_allocated_bytes=torch.cuda.max_memory_allocated(), "
                  "peak_mem_reserved_bytes=torch.cuda.max_memory_reserved())\n"
                  "    torch.cuda.reset_peak_memory_stats()\n", 1)
exec(compile(src, path, "exec"), {"__name__": "__main__", "__file__": path})
