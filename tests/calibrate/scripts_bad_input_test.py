#!/usr/bin/env python3
"""The calibration scripts on bad JSON inputs: one line on stderr naming the file, exit 2, nothing written (they
used to end in a traceback, exit 1). usage: scripts_bad_input_test.py (RINGLAB_BIN for calibrate.py)"""
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
    for f in failures:
        print("FAIL", f)
    print(f"scripts_bad_input_test: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
