#!/usr/bin/env python3
"""Bad-input sweep of the ringlab CLI: odd and hostile values for every flag of sim, sweep, plan, schedule, check,
balance, fit-profile and calibrate (the parts that run without a GPU), hostile files (profiles, histograms, samples)
and unwritable outputs.

The rule every run must keep: exit 0 (the value is accepted) or exit 2 with exactly one stderr line
'ringlab: error: ...' naming the flag (or its field); never a signal, another exit code, a hang (60 s) or more memory
than a few GiB (RLIMIT_AS, unless the binary has AddressSanitizer); a run that fails leaves no output file behind.
Cases found by hand where a value used to be accepted silently or fail badly are listed in REGRESSIONS with the text
the error must contain.

usage: bad_input_sweep.py RINGLAB_BIN SOURCE_DIR      (exit 0: every case kept the rule; 1: the failures are listed)
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

BIN, SOURCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
TIMEOUT_S = 60
MEMORY_LIMIT = 6 << 30

with open(BIN, "rb") as f:
    UNDER_ASAN = b"AddressSanitizer" in f.read()

# A small valid problem per subcommand (long flag names, so a case can replace one).
BASE = {
    "sim": ["--world", "2", "--seq", "1024", "--heads", "8", "--kv-heads", "2"],
    "sweep": ["--worlds", "2", "--seqs", "1024", "--heads", "8", "--kv-heads", "2", "--workers", "1"],
    "plan": ["--heads", "8", "--kv-heads", "2", "--seq", "4096", "--gpus-per-node", "2", "--nodes", "1",
             "--workers", "1"],
    "schedule": ["--world", "2", "--seq", "64", "--heads", "8", "--kv-heads", "2"],
    "check": ["--world", "2", "--seq", "64", "--heads", "4", "--kv-heads", "2", "--dim", "16"],
    "balance": ["--world", "8", "--seq", "4096", "--simulate-up-to", "8"],
    "calibrate": ["--dry-run"],
}
INTEGER_FLAGS = {
    "sim": ["--world", "--batch", "--heads", "--kv-heads", "--dim", "--seq", "--ulysses", "--ring", "--nodes",
            "--gpus-per-node"],
    "sweep": ["--world", "--seq", "--batch", "--heads", "--kv-heads", "--dim", "--ulysses", "--ring",
              "--gpus-per-node", "--workers"],
    "plan": ["--heads", "--kv-heads", "--dim", "--seq", "--batch", "--gpus-per-node", "--nodes", "--workers"],
    "schedule": ["--world", "--batch", "--heads", "--kv-heads", "--dim", "--seq", "--ulysses", "--ring", "--ranks"],
    "check": ["--world", "--batch", "--heads", "--kv-heads", "--dim", "--seq", "--ulysses", "--ring", "--seed"],
    "balance": ["--seq", "--batch", "--heads", "--kv-heads", "--dim", "--simulate-up-to"],
    "calibrate": ["--gpus", "--warmup", "--reps", "--ctas-per-sm"],
}
TEXT_FLAGS = {
    "sim": ["--mask", "--method", "--sharding", "--pass", "--dtype", "--ulysses-placement", "--profile", "--placement",
            "--trace-ranks"],
    "sweep": ["--worlds", "--seqs", "--methods", "--passes", "--shard", "--mask", "--sharding", "--profile",
              "--placement", "--dtype"],
    "plan": ["--profile", "--methods", "--shardings", "--dtype"],
    "schedule": ["--mask", "--method", "--sharding", "--pass", "--dtype", "--placement"],
    "check": ["--mask", "--method", "--sharding", "--pass", "--dtype", "--precision", "--tolerance", "--placement"],
    "balance": ["--mask", "--world", "--profile", "--tflops", "--link-gbps"],
    "calibrate": ["--head-dims", "--fwd-tile", "--bwd-tile", "--sustain-ms", "--preheat-ms", "--base"],
}
INTEGERS = ["0", "-1", "-9223372036854775808", "9223372036854775807", "9223372036854775808",
            "4611686018427387904", "2147483648", "2147483647", "3037000500", "abc", "", "1.5", "1e3", "nan"]
TEXTS = ["", "bogus", ",", ",,", "-", "x,y", "1,2,", "999999999999999999999", "-1", "0", "nan", "inf"]

# Values that once crashed, hung, ran out of memory, overflowed or named the wrong flag: (args, text the single error
# line must contain).
REGRESSIONS = [
    # seq 2^62: the wave model listed the kernel's CTAs one by one (out of memory, exit 3); 2^34: the op durations
    # overflowed int64 picoseconds ("stalled", exit 3); 2^40: 13 GB and a hang.
    (["sim", "--world", "2", "--seq", "4611686018427387904"], "seq must be at most 3037000499"),
    (["sim", "--world", "2", "--seq", "17179869184"], "seq must be at most"),
    (["sim", "--world", "2", "--seq", "1099511627776"], "seq must be at most"),
    (["sim", "--world", "2", "--seq", "1073741824"], "the simulator's clock"),
    (["schedule", "--world", "2", "--seq", "4611686018427387904"], "seq must be at most"),
    (["sim", "--world", "2", "--seq", "1024", "--batch", "2147483647", "--heads", "2147483647", "--kv-heads", "1"],
     "batch x heads x seq x dim"),
    # Documents drawn one by one for a huge seq (a hang) or of length 1 (memory).
    (["balance", "--world", "8", "--seq", "4611686018427387904"], "--seq must be at most"),
    (["sim", "--world", "2", "--seq", "3037000448", "--mask", "causal+docs-synthetic:fixed-1"], "documents"),
    # plan: a problem error used to read "no valid layout: check that seq is divisible by the GPU count and heads by 1".
    (["plan", "--heads", "8", "--kv-heads", "7", "--seq", "4096"], "kv-heads must divide heads"),
    (["plan", "--heads", "8", "--kv-heads", "2", "--seq", "4096", "--dim", "2147483647"], "dim (head dim)"),
    (["plan", "--heads", "8", "--kv-heads", "2", "--seq", "4096", "--gpus-per-node", "7"],
     "seq 4096 must be divisible by world = 7"),
    # Every sharding refused said only "no valid layout for W = 2 GPUs", not why.
    (["plan", "--heads", "8", "--kv-heads", "2", "--seq", "4096", "--gpus-per-node", "2", "--no-causal",
      "--shardings", "head-tail"], "--shardings head-tail: sharding head-tail is causal load balancing"),
    # sim's --placement is the rank-to-GPU placement: a bad Ulysses placement must name --ulysses-placement.
    (["sim", "--world", "8", "--ulysses", "2", "--ulysses-placement", "diagonal"], "--ulysses-placement 'diagonal'"),
    (["sim", "--world", "2", "--seq", "1024", "--profile", "no_such_profile.json"], "--profile"),
    (["check", "--world", "2", "--seq", "64", "--heads", "4", "--kv-heads", "2", "--batch", "2147483647"],
     "--batch 2147483647"),
    # A 3000 x 3000 grid kept every row: 7 GB before its first row, no answer in a minute. Here ~800 GiB of rows
    # (an argument stays under the kernel's 128 KiB).
    (["sweep", "--worlds", ",".join(str(w) for w in range(1, 3001)),
      "--seqs", ",".join(str(1024 * k) for k in range(1, 12001)), "--methods", "allgather,alltoall",
      "--passes", "forward,backward,both"], "--shard i/n"),
    # balance's what-if rates: NaN was taken for 'not given' (the profile was used), extreme rates gave infinite step
    # times (null in the JSON), and --profile beside them was ignored.
    (["balance", "--world", "8", "--seq", "4096", "--tflops", "nan", "--link-gbps", "nan"], "--tflops"),
    (["balance", "--world", "8", "--seq", "4096", "--tflops", "400", "--link-gbps", "1e-308", "--json", "-"],
     "--link-gbps"),
    (["balance", "--world", "8", "--seq", "4096", "--tflops", "inf", "--link-gbps", "25"], "--tflops"),
    (["balance", "--world", "8", "--seq", "4096", "--tflops", "400", "--link-gbps", "25", "--profile", "h200"],
     "--profile"),
    # check's CPU guard counted FLOPs only: a small head dim (the time goes per score pair) and a second method
    # passed it and ran past 60 s.
    (["check", "--world", "16", "--ulysses", "16", "--heads", "48", "--kv-heads", "2", "--seq", "4096", "--sharding",
      "balanced", "--dim", "7", "--method", "both", "--pass", "forward"], "--force"),
    # A --mask causal or full term silently overrode a given --no-causal or --causal.
    (["sim", "--world", "2", "--seq", "1024", "--mask", "causal", "--no-causal"], "--no-causal"),
    (["schedule", "--world", "2", "--seq", "64", "--mask", "full+window:4,0", "--causal", "--sharding", "contiguous"],
     "--causal"),
    (["sweep", "--worlds", "2", "--seqs", "1024", "--mask", "full", "--causal", "--sharding", "contiguous"],
     "--causal"),
    # A sweep's cu_seqlens was checked against a placeholder seq of 2, whatever --seqs said.
    (["sweep", "--worlds", "2", "--seqs", "1024,2048", "--mask", "causal+cu-seqlens:cu_seqlens_1024.txt", "-j", "1"],
     "for --seqs value 2048"),
    # A mask term file was read whole, whatever it was: /dev/zero until memory ran out, a folder as an empty file.
    (["sim", "--world", "2", "--seq", "1024", "--mask", "causal+docs:/dev/zero"], "is not a regular file"),
    # JSON inputs (profiles, calibration samples) were read whole the same way: --profile /dev/zero ran out of memory.
    (["sim", "--world", "2", "--seq", "1024", "--profile", "/dev/zero"], "is not a regular file"),
    (["fit-profile", "--samples", "/dev/zero", "--out", "p.json"], "is not a regular file"),
    (["sim", "--world", "2", "--seq", "1024", "--mask", "causal+cu-seqlens:."], "'.' is a directory"),
    # fit-profile samples: a provenance that was not an object threw out of the fit (exit 3); a geometry that was not
    # one was ignored (the default geometry fitted, exit 0).
    (["fit-profile", "--samples", "samples_provenance_list.json", "--out", "p.json"], "provenance must be an object"),
    (["fit-profile", "--samples", "samples_geometry_number.json", "--out", "p.json"], "geometry must be an object"),
    (["fit-profile", "--samples", "samples_geometry_by_head_dim.json", "--out", "p.json"],
     "geometry_by_head_dim.128 must be an object"),
]
# calibrate's plan modes measure nothing: --dry-run --out F exited 0 without writing F; --coverage-shapes beside
# --dry-run was ignored.
REGRESSIONS += [(["calibrate", "--dry-run", "--out", "p.json"], "--out"),
                (["calibrate", "--coverage-shapes", "--samples", "s.json"], "--samples"),
                (["calibrate", "--dry-run", "--skip-kernels"], "--skip-kernels"),
                (["calibrate", "--dry-run", "--coverage-shapes"], "--coverage-shapes")]

# Files the cases below name, written into the run's folder.
GOOD_FILES = {"cu_seqlens_1024.txt": "0 100 1000 1024\n", "cu_seqlens_1200.txt": "0 7 600 1200\n",
              "samples_provenance_list.json": '{"launch_gaps_us": [1, 2, 3], "provenance": [1]}',
              "samples_geometry_number.json": '{"launch_gaps_us": [1, 2, 3], "geometry": 5}',
              "samples_geometry_by_head_dim.json": '{"launch_gaps_us": [1, 2, 3], "geometry_by_head_dim": {"128": 5}}'}
# A valid kernel sample, for samples files whose one field is changed.
KERNEL = {"pass": "forward", "mask": "full", "head_dim": 128, "batch": 1, "heads": 8, "kv_heads": 8, "q": 4096,
          "kv": 4096, "pairs": 4096 * 4096, "us": 900}
TRANSFER = {"kind": "p2p", "world": 2, "bytes": 1 << 20, "us": 20}
NARROWED = {"heads": {"kernels": [dict(KERNEL, heads=4294967304)]},
            "q": {"kernels": [dict(KERNEL, q=4096.5)]},
            "kv_heads": {"kernels": [dict(KERNEL, kv_heads=True, heads=1)]},
            "sms": {"sms": 4294967428, "kernels": [KERNEL]},
            "tile_q": {"kernels": [KERNEL], "geometry": {"forward": {"grid": "q", "tile_q": 4294967424,
                                                                     "tile_kv": 128, "ctas_per_sm": 1}}},
            "world": {"transfers": [dict(TRANSFER, world=4294967298)]},
            "bytes": {"transfers": [dict(TRANSFER, bytes=9223372036854775808)]}}
GOOD_FILES.update({f"samples_narrowed_{k}.json": json.dumps(v) for k, v in NARROWED.items()})
# fit-profile samples: integer fields were narrowed or truncated silently (4294967304 heads fitted as 8, a
# 4096.5-token q as 4096, true as 1 kv head, an sms of 2^32 + 132 as 132).
REGRESSIONS += [(["fit-profile", "--samples", f"samples_narrowed_{k}.json", "--out", "p.json"],
                 f"{k}: must be an integer in") for k in NARROWED]

# Valid runs that once crashed or were reported invalid: exit 0 expected.
MUST_RUN = [
    # W = 1 (or pure Ulysses, a ring of one) with a mask or balanced chunks and unfused merges: the schedule wrote
    # partial outputs it never declared and the CPU executor crashed (signal 11).
    ["check", "--world", "1", "--seq", "32", "--unfused-merge", "--mask", "causal+window:4,0", "--pass", "both"],
    ["check", "--world", "3", "--heads", "6", "--kv-heads", "6", "--dim", "8", "--seq", "24", "--sharding", "balanced",
     "--mask", "full", "--ulysses", "3", "--unfused-merge", "--pack-kv", "--pass", "both"],
    # Balanced sharding under a plain mask was reported invalid by the validator (exit 1).
    ["schedule", "--world", "2", "--seq", "32", "--heads", "4", "--kv-heads", "2", "--sharding", "balanced",
     "--pass", "both"],
    ["check", "--world", "7", "--seq", "28", "--heads", "1", "--kv-heads", "1", "--sharding", "balanced",
     "--method", "both", "--pass", "both"],
    # Chunks of one token (seq = 2*world head-tail, seq = world contiguous): the validator called the diagonal chunk
    # full and rejected the schedule (schedule exit 1, check exit 3).
    ["check", "--world", "2", "--seq", "4", "--heads", "2", "--kv-heads", "1", "--dim", "4", "--method", "both"],
    ["check", "--world", "4", "--seq", "4", "--heads", "2", "--kv-heads", "1", "--dim", "4", "--sharding",
     "contiguous", "--unfused-merge", "--pack-kv"],
    ["check", "--world", "4", "--seq", "4", "--heads", "2", "--kv-heads", "1", "--dim", "4", "--ulysses", "2"],
    ["schedule", "--world", "1", "--seq", "1", "--heads", "2", "--kv-heads", "1", "--sharding", "contiguous",
     "--pass", "both"],
    # A --mask causal/full term that agrees with --causal/--no-causal.
    ["check", "--world", "2", "--seq", "32", "--heads", "2", "--kv-heads", "1", "--dim", "4", "--mask",
     "full+window:3,3", "--no-causal", "--sharding", "contiguous"],
    ["sim", "--world", "2", "--seq", "1024", "--heads", "4", "--kv-heads", "2", "--mask", "causal", "--causal"],
    # A sweep drew a mask's documents once for a placeholder seq of 2, so every job with documents failed (exit 1)
    # and a cu_seqlens file was bad input (exit 2) unless it ended at 2.
    ["sweep", "--worlds", "2,4", "--seqs", "4096,8192", "--heads", "4", "--kv-heads", "2", "-j", "1", "--mask",
     "causal+docs-synthetic:uniform", "--passes", "forward,both"],
    ["sweep", "--worlds", "2", "--seqs", "1024", "--heads", "4", "--kv-heads", "2", "-j", "1", "--mask",
     "causal+cu-seqlens:cu_seqlens_1024.txt"],
    # A sweep checked its base configuration at a placeholder seq of 2, which balanced sharding (4 chunks per rank)
    # cannot split: every balanced sweep was bad input.
    ["sweep", "--worlds", "2,3", "--seqs", "1200", "--heads", "4", "--kv-heads", "2", "-j", "1", "--sharding",
     "balanced", "--mask", "causal+cu-seqlens:cu_seqlens_1200.txt"],
]


def limit_memory():
    if not UNDER_ASAN:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(args, cwd):
    try:
        p = subprocess.run([BIN] + args + ["-q"], capture_output=True, timeout=TIMEOUT_S, preexec_fn=limit_memory,
                           cwd=cwd)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    return p.returncode, p.stderr.decode(errors="replace")


def without(args, flag):
    out, i = [], 0
    while i < len(args):
        if args[i] == flag:
            i += 2
            continue
        out.append(args[i])
        i += 1
    return out


def verdict(args, code, err, names):
    """'' when the run kept the rule, else what it broke."""
    errors = [line for line in err.splitlines() if line.startswith("ringlab: error:")]
    if code == "timeout":
        return f"no answer in {TIMEOUT_S} s"
    if code < 0:
        return f"killed by signal {-code}"
    # sweep puts a job's own error in its row's error column and exits 1 (tests/cli/sim_honesty_test.cc).
    if code == 1 and args[0] == "sweep" and "jobs failed (see error column)" in err:
        return ""
    if code not in (0, 2):
        return f"exit {code}"
    if code == 2 and len(errors) != 1:
        return f"{len(errors)} 'ringlab: error:' lines"
    if code == 2 and not any(n in errors[0] for n in names):
        return f"the error names none of {names}"
    return ""


def hostile_files(folder):
    profile = os.path.join(SOURCE, "sim", "profiles", "h100_sxm.json")
    with open(profile) as f:
        text = f.read()
    files = {
        "missing.json": None,
        "empty.json": "",
        "garbage.json": "garbage{{",
        "truncated.json": text[: len(text) // 3],
        "array.json": "[]",
        "object.json": "{}",
        "binary.json": "\x00\x01\x02",
        "ones.txt": "1 1\n",
        "badline.txt": "12 x\n",
        "negative.txt": "-5 1\n",
    }
    for name, body in files.items():
        if body is not None:
            with open(os.path.join(folder, name), "w") as f:
                f.write(body)
    os.mkdir(os.path.join(folder, "a_folder"))
    return list(files) + ["a_folder", "/dev/null"]


def cases(folder):
    for cmd in BASE:
        for flag in INTEGER_FLAGS[cmd]:
            for v in INTEGERS:
                yield [cmd] + without(BASE[cmd], flag) + [flag, v], [flag, flag.lstrip("-")]
        for flag in TEXT_FLAGS[cmd]:
            for v in TEXTS:
                yield [cmd] + without(BASE[cmd], flag) + [flag, v], [flag, flag.lstrip("-")]
    for f in hostile_files(folder):
        for cmd in ("sim", "sweep", "plan", "balance"):
            yield [cmd] + BASE[cmd] + ["--profile", f], ["--profile", "profile"]
        for cmd in ("sim", "schedule", "balance"):
            yield [cmd] + BASE[cmd] + ["--mask", "causal+docs:" + f], ["--mask"]
        yield ["fit-profile", "--samples", f, "--out", "fitted.json"], ["--samples", "samples"]
        yield ["calibrate", "--dry-run", "--base", f], ["--base"]
    # Samples for fit-profile whose entries have the wrong shape: the message names the list.
    for i, (body, field) in enumerate([('{"start_skews_us": [-1]}', "start_skews_us"),
                                       ('{"launch_gaps_us": 5}', "launch_gaps_us"),
                                       ('{"transfers": [{}]}', "transfers"),
                                       ('{"kernels": [{"pass": 1}]}', "kernels"),
                                       ('{"overlap_us": [[1]]}', "overlap_us"),
                                       ('{"launch_gaps_us": [1e308, 1e308, 1e308]}', "launch_us"),
                                       ('{"geometry": {"forward": {"grid": 1}}}', "geometry")]):
        name = f"samples_{i}.json"
        with open(os.path.join(folder, name), "w") as f:
            f.write(body)
        yield ["fit-profile", "--samples", name, "--out", "fitted.json"], [field]
    for out in ("/nonexistent_ringlab_dir/x.json", "a_folder", ""):
        yield ["sim"] + BASE["sim"] + ["--json", out], ["--json", "write", out or "--json"]
        yield ["sim"] + BASE["sim"] + ["--trace", out], ["--trace", "write", out or "--trace"]
        yield ["schedule"] + BASE["schedule"] + ["--json", out], ["--json", "write", out or "--json"]
        yield ["sweep"] + BASE["sweep"] + ["--csv", out], ["--csv", "write", out or "--csv"]
        yield ["plan"] + BASE["plan"] + ["--json", out], ["--json", "write", out or "--json"]
        yield ["balance"] + BASE["balance"] + ["--json", out], ["--json", "write", out or "--json"]
        yield ["check"] + BASE["check"] + ["--trace", out], ["--trace", "write", out or "--trace"]
    # One bad output among good ones: nothing is written.
    yield ["sim"] + BASE["sim"] + ["--json", "whole.json", "--trace", "a_folder"], ["a_folder"]
    # --chakra's folder clashing with another output: refused after the simulation, leaving the empty folder behind.
    yield ["sim"] + BASE["sim"] + ["--chakra", "whole.json", "--json", "whole.json"], ["--chakra"]


def main():
    folder = tempfile.mkdtemp(prefix="ringlab_sweep_")
    failures, count = [], 0
    for name, body in GOOD_FILES.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(body)
    try:
        for args, names in cases(folder):
            count += 1
            code, err = run(args, folder)
            why = verdict(args, code, err, names)
            if not why and code != 0 and os.path.exists(os.path.join(folder, "whole.json")):
                why = "a failed run left whole.json behind"
            if why:
                failures.append(f"{why}: ringlab {' '.join(repr(a) if not a or ' ' in a else a for a in args)}\n"
                                f"    {err.strip()[:300]}")
        for args, text in REGRESSIONS:
            count += 1
            code, err = run(args, folder)
            why = verdict(args, code, err, [text])
            if not why and code != 2:
                why = "accepted (exit 0)"
            if why:
                failures.append(f"{why}: ringlab {' '.join(args)}\n    {err.strip()[:300]}")
        for args in MUST_RUN:
            count += 1
            code, err = run(args, folder)
            if code != 0:
                failures.append(f"exit {code}, expected 0: ringlab {' '.join(args)}\n    {err.strip()[:300]}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for f in failures:
        print("FAIL", f)
    print(f"bad-input sweep: {count} runs, {len(failures)} broke the rule")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
