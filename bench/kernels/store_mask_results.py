#!/usr/bin/env python3
"""Files a device call's masked-kernel results into bench/results/mask_kernels_h100.json (issue 19), so that the
file's top level is always the newest table and every earlier one stays under a key of its own.

  python3 bench/kernels/store_mask_results.py --into bench/results/mask_kernels_h100.json \\
      --call "COMMIT=... bash bench/kernels/device_mask_remeasure_call.sh .devbin/now (nvidia-h100-x1, ...)" \\
      [--top RESULTS/mask_kernels_h100.json --previous-as previous_top_level_DATE_COMMIT] \\
      [--put d256_DATE=RESULTS/mask_kernels_h100_d256.json] \\
      [--runs coverage_DATE=DIR --what "..." --time "..." --binaries "..." --command "..."]

--top replaces the top level (a mask_peer_bench.py result with PyTorch's paths) and moves the old one under
--previous-as; --put KEY=FILE stores one result under KEY (moving an existing KEY is refused); --runs KEY=DIR stores
every DIR/*_S*_H*_D*.json (device_mask_heldout.sh's files) under KEY.runs by shape, with the call's provenance.
Absolute paths in the results' strings (the device's temporary folders) are cut to file names. The file is written whole or not at all.
Bad input: one line naming the flag, exit 2.
"""
import argparse
import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "calibrate", "scripts"))
import json_input  # noqa: E402  (one-line errors, exit 2; outputs whole or not at all)

TOOL = "store_mask_results"
SHAPE = re.compile(r"_(S\d+_H\d+_D\d+)\.json$")


def fail(msg):
    json_input.fail(TOOL, msg)


def load(path, flag):
    return json_input.read_json(path, TOOL, f"{flag} file")


def strip_paths(text):
    """A command as run on the device names its files by absolute path (temporary folders); keep their names only."""
    return re.sub(r"(?<![\w.])/(?:[^\s'\"/]+/)*([^\s/'\"]+)", r"\1", text)


def clean(result):
    if isinstance(result, dict):
        return {k: clean(v) for k, v in result.items()}
    if isinstance(result, list):
        return [clean(v) for v in result]
    if isinstance(result, str):
        return strip_paths(result)
    return result


def key_value(text, flag):
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        fail(f"{flag} {text!r}: expected KEY=PATH")
    return key, value


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--into", required=True, help="the results file to update (created if missing)")
    ap.add_argument("--call", default="", help="the device call that measured these (stored with --top and --put)")
    ap.add_argument("--top", help="a mask_peer_bench.py result that becomes the top level")
    ap.add_argument("--previous-as", help="with --top: the key the old top level moves to")
    ap.add_argument("--put", action="append", default=[], help="KEY=FILE: one result under KEY")
    ap.add_argument("--runs", help="KEY=DIR: device_mask_heldout.sh's results under KEY.runs")
    ap.add_argument("--what", default="", help="--runs: what the set is")
    ap.add_argument("--card", default="NVIDIA H100 80GB HBM3", help="--runs: the card")
    ap.add_argument("--driver", default="", help="--runs: the driver")
    ap.add_argument("--time", default="", help="--runs: when (UTC)")
    ap.add_argument("--binaries", default="", help="--runs: the binaries' commit")
    ap.add_argument("--command", default="", help="--runs: the command")
    a = ap.parse_args()

    doc = load(a.into, "--into") if os.path.exists(a.into) else {}
    if not isinstance(doc, dict):
        fail(f"--into {a.into!r}: not a JSON object")
    if a.top:
        if not a.previous_as:
            fail("--top needs --previous-as KEY (where the old top level goes)")
        if a.previous_as in doc:
            fail(f"--previous-as {a.previous_as!r}: the file already has that key")
        top = clean(load(a.top, "--top"))
        if "ours" not in top:
            fail(f"--top {a.top!r}: no 'ours' (not a mask_peer_bench.py result)")
        old = {k: v for k, v in doc.items() if not isinstance(v, dict) or k in ("cases", "ours", "ours_sustain_ms")}
        rest = {k: v for k, v in doc.items() if k not in old}
        if a.call:
            top["call"] = a.call
        doc = dict(top)
        doc.update(rest)
        if old:
            doc[a.previous_as] = old
    for item in a.put:
        key, path = key_value(item, "--put")
        if key in doc:
            fail(f"--put {key!r}: the file already has that key")
        result = clean(load(path, "--put"))
        if a.call:
            result["call"] = a.call
        doc[key] = result
    if a.runs:
        key, folder = key_value(a.runs, "--runs")
        if key in doc:
            fail(f"--runs {key!r}: the file already has that key")
        runs = {}
        for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
            m = SHAPE.search(path)
            if m:
                runs[m.group(1)] = clean(load(path, "--runs"))
        if not runs:
            fail(f"--runs {folder!r}: no *_S<seq>_H<heads>_D<dim>.json files")
        doc[key] = {"what": a.what, "card": a.card, "driver": a.driver, "time": a.time, "binaries": a.binaries,
                    "command": a.command, "runs": runs}

    json_input.write_json(a.into, doc, TOOL)
    print(f"store_mask_results: wrote {a.into} ({len(doc)} top-level keys)")


if __name__ == "__main__":
    main()
