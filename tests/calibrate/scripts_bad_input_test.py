#!/usr/bin/env python3
"""The calibration scripts on bad JSON inputs: one line on stderr naming the file, exit 2, nothing written (they
used to end in a traceback, exit 1); so are entries with a missing or bad field (a string or negative time, a missing
"B"), naming the entry and the field; and the profile peer_sdpa_fit.py writes is whole or the old one.
usage: scripts_bad_input_test.py (RINGLAB_BIN for calibrate.py and peer_sdpa_fit.py --profile)"""
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
        # A fifo no writer opens (open() blocked forever) and an endless device (read until memory ran out).
        files = list(BODIES) + ["missing.json", "a_folder", "writerless.fifo", "/dev/zero"]
        os.mkdir(os.path.join(tmp, "a_folder"))
        os.mkfifo(os.path.join(tmp, "writerless.fifo"))
        for name in files:
            path = os.path.join(tmp, name)
            runs = [["kernel_model_fit.py", path, "--profile", profile, "--tag", "t"],
                    ["combine_samples.py", path, path, os.path.join(tmp, "out.json")],
                    ["calibrate.py", "--microbench", path, "--out", os.path.join(tmp, "out.json")]]
            if name not in ("missing.json", "no_kernels.json"):  # merge_head_dim: its own lines for those
                runs.append(["merge_head_dim.py", "ours", path, "--head-dim", "256", "--profile", profile,
                             "--tag", "t"])
            # The profiles and bases the other scripts read (they used json.load: a traceback).
            runs += [["calibrate.py", "--microbench", os.path.join(tmp, "no_kernels.json"), "--base", path,
                      "--out", os.path.join(tmp, "out.json")],
                     ["validate.py", "--profile", path, "--traces", os.path.join(tmp, "none*.json"), "--out",
                      os.path.join(tmp, "out")]]
            if os.environ.get("RINGLAB_BIN"):
                runs.append(["masked_cost_fit.py", "--ringlab", os.environ["RINGLAB_BIN"], "--profile", path,
                             "--train", path, "--write", os.path.join(tmp, "out.json")])
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
    failures += bad_entries() + whole_outputs() + replaced_outputs() + too_few_files()
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


def too_few_files():
    """combine_samples.py with fewer than its three files: one line, exit 2 (it printed its whole docstring, exit 1)."""
    why = one_line_error(run(["combine_samples.py", "only.json"]), ["combine_samples", "OUT.json"],
                         "combine_samples.py only.json")
    return [why] if why else []


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


def whole_outputs():
    """peer_sdpa_fit.py writes its samples and profile whole: a fit that fails leaves the old profile as it was and no
    temporary beside it (the profile was rewritten in place), and so does an output that cannot be written."""
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        records = os.path.join(tmp, "records.json")
        with open(records, "w") as f:
            # A host-bound record (the host time of one call: the others are well above it) and 4 kernel ones (H=4:
            # none of them a held-out shape, which would be dropped).
            json.dump([dict(RECORD, S=128, fwd_ms=0.02, fwdbwd_ms=0.06)] +
                      [dict(RECORD, H=4, S=s, fwd_ms=s / 1024, fwdbwd_ms=3 * s / 1024)
                       for s in (1024, 2048, 4096, 8192)], f)
        out = os.path.join(tmp, "out")
        os.mkdir(out)
        profile, samples = os.path.join(out, "profile.json"), os.path.join(out, "samples.json")
        with open(profile, "w") as f:
            f.write('{"old": "profile"}\n')
        binary = os.environ.get("RINGLAB_BIN")
        if binary:
            # The fit fails (no such base): exit 2 as fit-profile's, the old profile kept, no temporary left.
            p = run(["peer_sdpa_fit.py", records, "--samples", samples, "--profile", profile, "--base",
                     "no_such_profile"], env=dict(os.environ))
            left = sorted(set(os.listdir(out)) - {"profile.json", "samples.json"})
            if p.returncode != 2 or open(profile).read() != '{"old": "profile"}\n' or left:
                failures.append(f"failed fit: exit {p.returncode}, profile now {open(profile).read()[:60]!r}, "
                                f"left {left}\n    {p.stderr.strip()[-300:]}")
            with open(samples) as f:
                if len(json.load(f)["kernels"]) != 8:
                    failures.append("the samples of the failed fit are not the 8 kernel samples")
            if oct(os.stat(samples).st_mode & 0o777) == oct(0o600):
                failures.append("samples written with mkstemp's mode 0600")
        if binary:
            # fit-profile writes a profile the script cannot complete (here a stand-in that writes {}): the script
            # completed it in place, leaving fit-profile's half where the old profile was.
            fake = os.path.join(tmp, "fake_ringlab")
            with open(fake, "w") as f:
                f.write('#!/bin/sh\nwhile [ "$1" != --out ]; do shift; done; echo {} > "$2"\n')
            os.chmod(fake, 0o755)
            p = run(["peer_sdpa_fit.py", records, "--samples", samples, "--profile", profile],
                    env=dict(os.environ, RINGLAB_BIN=fake))
            left = sorted(set(os.listdir(out)) - {"profile.json", "samples.json"})
            why = one_line_error(p, [profile], "fit-profile's profile incomplete")
            if why or open(profile).read() != '{"old": "profile"}\n' or left:
                failures.append(f"{why or 'incomplete fit'}: profile now {open(profile).read()[:60]!r}, left {left}")
        # The writer itself: a failure part way leaves the old file and no temporary.
        sys.path.insert(0, SCRIPTS)
        import json_input
        try:
            json_input.write_json(profile, {"a": 1, "z": object()}, "test")  # not JSON: fails after "a"
            failures.append("write_json wrote what is not JSON")
        except TypeError:
            pass
        if open(profile).read() != '{"old": "profile"}\n' or len(os.listdir(out)) != 2:
            failures.append(f"write_json failing part way: {open(profile).read()[:60]!r}, {os.listdir(out)}")
        # The samples' folder does not exist: one line naming the file.
        missing = os.path.join(tmp, "no_folder", "samples.json")
        why = one_line_error(run(["peer_sdpa_fit.py", records, "--samples", missing]), [missing], "missing folder")
        if why:
            failures.append(why)
    return failures


def replaced_outputs():
    """The scripts that wrote their outputs in place (a failure part way left a truncated file where the old one was)
    write them whole through json_input: a new file renamed over the old one (its inode changes), no temporary left
    beside it; and merge_head_dim.py, reading SDPA records through peer_sdpa_fit.py, names itself in its errors."""
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        samples = os.path.join(tmp, "samples.json")
        with open(samples, "w") as f:
            json.dump({"sms": 132, "geometry": GEOMETRY, "kernels": [KERNEL]}, f)
        out = os.path.join(tmp, "out")
        os.mkdir(out)
        combined = os.path.join(out, "combined.json")
        with open(combined, "w") as f:
            f.write("old\n")
        inode = os.stat(combined).st_ino
        p = run(["combine_samples.py", samples, samples, combined])
        left = sorted(set(os.listdir(out)) - {"combined.json"})
        if p.returncode != 0 or os.stat(combined).st_ino == inode or left:
            failures.append(f"combine_samples.py: exit {p.returncode}, written in place "
                            f"{os.stat(combined).st_ino == inode}, left {left}\n    {p.stderr.strip()[-300:]}")
        elif json.load(open(combined))["kernels"] != [KERNEL]:
            failures.append("combine_samples.py: the combined samples lost the kernel")
        # The peer's records read for merge_head_dim.py: its own name on the error, exit 2.
        records = os.path.join(tmp, "records.json")
        with open(records, "w") as f:
            json.dump([dict(RECORD, D=256, fwd_ms="x")], f)
        profile = os.path.join(tmp, "profile.json")
        shutil.copy(os.path.join(ROOT, "sim", "profiles", "h100_pytorch_peer.json"), profile)
        not_a_list = os.path.join(tmp, "not_a_list.json")
        with open(not_a_list, "w") as f:
            f.write("{}")
        for bad in (records, not_a_list):
            p = run(["merge_head_dim.py", "peer", bad, "--log", os.path.join(tmp, "absent.log"), "--head-dim",
                     "256", "--profile", profile, "--tag", "t"])
            why = one_line_error(p, ["merge_head_dim: "], f"merge_head_dim.py peer {bad}") or \
                ("" if p.stderr.startswith("merge_head_dim: ") else f"merge_head_dim.py peer {bad}: {p.stderr}")
            if why:
                failures.append(why)
        # calibrate.py completed fit-profile's profile in place at --out: now fit-profile writes beside it and --out is
        # replaced once complete, or left as it was when the fit fails. A stand-in fit-profile writes a small profile.
        fit_ok, fit_fails = os.path.join(tmp, "fit_ok"), os.path.join(tmp, "fit_fails")
        with open(fit_ok, "w") as f:
            f.write('#!/bin/sh\nwhile [ "$1" != --out ]; do shift; done; echo \'{"name": "fitted"}\' > "$2"\n')
        with open(fit_fails, "w") as f:
            f.write("#!/bin/sh\necho 'fit-profile: bad samples' >&2; exit 2\n")
        os.chmod(fit_ok, 0o755)
        os.chmod(fit_fails, 0o755)
        cal = os.path.join(out, "calibrated.json")
        for fake in (fit_fails, fit_ok):
            with open(cal, "w") as f:
                f.write("old\n")
            inode = os.stat(cal).st_ino
            p = run(["calibrate.py", "--microbench", samples, "--out", cal], env=dict(os.environ, RINGLAB_BIN=fake))
            left = sorted(set(os.listdir(out)) - {"combined.json", "calibrated.json"})
            text = open(cal).read()
            if fake == fit_fails:
                ok = p.returncode == 2 and text == "old\n" and not left
            else:
                ok = p.returncode == 0 and os.stat(cal).st_ino != inode and not left and \
                    json.loads(text)["provenance"]["tool"] == "calibrate/scripts/calibrate.py"
            if not ok:
                failures.append(f"calibrate.py with {os.path.basename(fake)}: exit {p.returncode}, --out now "
                                f"{text[:60]!r}, left {left}\n    {p.stderr.strip()[-300:]}")
        # validate.py: the notes are read before anything is simulated or written (after OUT.json, with a
        # traceback), and traces that match nothing are exit 2 like any bad input (it was 1).
        for extra, name in ((["--notes", os.path.join(tmp, "absent.md")], "absent.md"), ([], "--traces")):
            args = ["validate.py", "--profile", os.path.join(ROOT, "sim", "profiles", "h100_sxm.json"), "--traces",
                    os.path.join(tmp, "none*.json"), "--out", os.path.join(tmp, "validation"), *extra]
            why = one_line_error(run(args), [name], " ".join(args)) or \
                (f"output written: {' '.join(args)}" if os.path.exists(os.path.join(tmp, "validation.json")) else "")
            if why:
                failures.append(why)
    return failures


if __name__ == "__main__":
    sys.exit(main())
