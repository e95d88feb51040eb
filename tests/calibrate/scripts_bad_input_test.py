#!/usr/bin/env python3
"""The calibration scripts on bad JSON inputs: one line on stderr naming the file, exit 2, nothing written (they
used to end in a traceback, exit 1); so are entries with a missing or bad field (a string or negative time, a missing
"B"), naming the entry and the field.
usage: scripts_bad_input_test.py (RINGLAB_BIN for calibrate.py)"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "calibrate", "scripts")
BODIES = {"garbage.json": "garbage{", "array.json": "[]", "kernels_of_numbers.json": '{"kernels": [1]}',
          "no_kernels.json": "{}", "binary.json": "\xff\xfe\x00"}


def main():
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        profile = os.path.join(tmp, "profile.json")
        for name, body in BODIES.items():
            with open(os.path.join(tmp, name), "w", encoding="latin-1") as f:
                f.write(body)
        files = list(BODIES) + ["missing.json", "a_folder"]
        os.mkdir(os.path.join(tmp, "a_folder"))
        for name in files:
            path = os.path.join(tmp, name)
            runs = [["kernel_model_fit.py", path, "--profile", profile, "--tag", "t"],
                    ["combine_samples.py", path, path, os.path.join(tmp, "out.json")],
                    ["calibrate.py", "--microbench", path, "--out", os.path.join(tmp, "out.json")]]
            if name not in ("missing.json", "no_kernels.json"):  # merge_head_dim: its own lines for those
                runs.append(["merge_head_dim.py", "ours", path, "--head-dim", "256", "--profile", profile,
                             "--tag", "t"])
            for args in runs:
                shutil.copy(os.path.join(ROOT, "sim", "profiles", "h100_sxm.json"), profile)
                before = open(profile).read()
                p = subprocess.run([sys.executable, os.path.join(SCRIPTS, args[0]), *args[1:]], capture_output=True,
                                   text=True, timeout=120)
                lines = p.stderr.strip().splitlines()
                why = ("" if p.returncode == 2 else f"exit {p.returncode}") or \
                      ("" if len(lines) == 1 else f"{len(lines)} stderr lines") or \
                      ("" if name in lines[0] else "the error does not name the file") or \
                      ("" if not os.path.exists(os.path.join(tmp, "out.json")) else "out.json written") or \
                      ("" if open(profile).read() == before else "the profile was changed")
                if why:
                    failures.append(f"{why}: {' '.join(args)}\n    {p.stderr.strip()[-300:]}")
    failures += bad_entries()
    for f in failures:
        print("FAIL", f)
    print(f"scripts_bad_input_test: {len(failures)} failures")
    return 1 if failures else 0


KERNEL = {"pass": "forward", "mask": "causal", "head_dim": 128, "batch": 1, "heads": 8, "kv_heads": 8, "q": 1024,
          "kv": 1024, "pairs": 524288.0, "us": 100.0}
GEOMETRY = {"forward": {"grid": "q", "tile_q": 128, "tile_kv": 64, "ctas_per_sm": 0},
            "backward": {"grid": "kv", "tile_q": 64, "tile_kv": 128, "ctas_per_sm": 0}}
RECORD = {"kind": "single_gpu_sdpa", "backend": "FLASH_ATTENTION", "B": 1, "H": 8, "S": 1024, "D": 128,
          "causal": True, "fwd_ms": 1.0, "fwdbwd_ms": 3.0}


def run(args, env=None):
    return subprocess.run([sys.executable, os.path.join(SCRIPTS, args[0]), *args[1:]], capture_output=True,
                          text=True, timeout=120, env=env)


def one_line_error(p, names, what):
    """'' when `p` exited 2 with one stderr line holding every string of `names`, else why not."""
    lines = p.stderr.strip().splitlines()
    why = ("" if p.returncode == 2 else f"exit {p.returncode}") or \
          ("" if len(lines) == 1 else f"{len(lines)} stderr lines") or \
          next((f"the error does not name {n}" for n in names if n not in lines[0]), "")
    return f"{why}: {what}\n    {p.stderr.strip()[-300:]}" if why else ""


def bad_entries():
    """Entries with a missing or bad field: one line naming the file, the entry and the field; nothing written."""
    failures = []
    kernel_cases = {"us_string": ("kernels", 1, "us", "x"), "us_negative": ("kernels", 1, "us", -5.0),
                    "q_missing": ("kernels", 0, "q", None), "heads_float": ("kernels", 0, "heads", 8.5),
                    "pass_unknown": ("kernels", 1, "pass", "sideways"),
                    "beside_overlap": ("beside_kernels", 0, "overlap", 1.5)}
    record_cases = {"fwd_string": (0, "fwd_ms", "1.5"), "fwd_negative": (1, "fwd_ms", -1.0),
                    "b_missing": (1, "B", None), "causal_number": (0, "causal", "yes")}
    with tempfile.TemporaryDirectory() as tmp:
        profile, out = os.path.join(tmp, "profile.json"), os.path.join(tmp, "out.json")
        for name, (where, index, field, value) in kernel_cases.items():
            data = {"sms": 132, "geometry": GEOMETRY, "kernels": [dict(KERNEL), dict(KERNEL, pass_="x")]}
            data["kernels"][1].pop("pass_")
            data["beside_kernels"] = [dict(KERNEL, overlap=0.5)]
            entry = data[where][index]
            if value is None:
                del entry[field]
            else:
                entry[field] = value
            path = os.path.join(tmp, f"{name}.json")
            with open(path, "w") as f:
                json.dump(data, f)
            shutil.copy(os.path.join(ROOT, "sim", "profiles", "h100_sxm.json"), profile)
            before = open(profile).read()
            for args in (["kernel_model_fit.py", path, "--profile", profile, "--tag", "t"],
                         ["merge_head_dim.py", "ours", path, "--head-dim", "128", "--profile", profile, "--tag", "t"],
                         ["combine_samples.py", path, path, out]):
                why = one_line_error(run(args), [path, f"{where}[{index}]", field], " ".join(args)) or \
                      (f"out.json written: {' '.join(args)}" if os.path.exists(out) else "") or \
                      (f"the profile was changed: {' '.join(args)}" if open(profile).read() != before else "")
                if why:
                    failures.append(why)
        for name, (index, field, value) in record_cases.items():
            records = [dict(RECORD), dict(RECORD, S=2048, fwd_ms=4.0, fwdbwd_ms=12.0),
                       {"kind": "single_gpu_sdpa", "backend": "FLASH_ATTENTION", "error": "OOM"}]  # skipped
            if value is None:
                del records[index][field]
            else:
                records[index][field] = value
            path = os.path.join(tmp, f"{name}.json")
            with open(path, "w") as f:
                json.dump(records, f)
            for args in (["peer_sdpa_fit.py", path, "--samples", out],
                         ["kernel_heldout.py", "--measured", os.path.join(tmp, f"{name}_measured.json"),
                          "--out", os.path.join(tmp, "heldout")]):
                if args[0] == "kernel_heldout.py":
                    with open(args[2], "w") as f:
                        json.dump({"ours": records[:2], "peer": records}, f)
                    names = [args[2], f"ours[{index}]", field]
                else:
                    names = [path, f"records[{index}]", field]
                why = one_line_error(run(args), names, " ".join(args)) or \
                      (f"output written: {' '.join(args)}" if os.path.exists(out) or
                       os.path.exists(os.path.join(tmp, "heldout.json")) else "")
                if why:
                    failures.append(why)
        # A RESULT line of a log that is not JSON: its file and line.
        log = os.path.join(tmp, "peer.log")
        with open(log, "w") as f:
            f.write("RESULT " + json.dumps(RECORD) + "\nRESULT {\"B\": \n")
        args = ["peer_sdpa_fit.py", os.path.join(tmp, "absent.json"), "--log", log, "--samples", out]
        why = one_line_error(run(args), [log + ":2"], " ".join(args))
        if why:
            failures.append(why)
    return failures


if __name__ == "__main__":
    sys.exit(main())
