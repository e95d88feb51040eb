"""The calibration scripts' JSON inputs: a file that is missing, not JSON or not the object expected is one line on
stderr naming it (TOOL: FILE: why) and exit 2, not a traceback (exit 1)."""
import json
import sys


def fail(tool, message):
    print(f"{tool}: {message}", file=sys.stderr)
    sys.exit(2)


def read_object(path, tool, what, lists=()):
    """The JSON object in `path` (`what` names the kind of file in messages); each key of `lists` present must be a
    JSON array of objects."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        fail(tool, f"{path}: cannot read {what} ({e.strerror or e})")
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        fail(tool, f"{path}: {what} is not JSON ({e})")
    if not isinstance(data, dict):
        fail(tool, f"{path}: {what} must be a JSON object, got {type(data).__name__}")
    for key in lists:
        if key in data and not (isinstance(data[key], list) and all(isinstance(x, dict) for x in data[key])):
            fail(tool, f"{path}: {key} must be an array of objects")
    return data


def read_samples(path, tool):
    """A samples JSON (`ringlab calibrate --samples`, peer_sdpa_fit.py --samples, calibrate.py --samples-out)."""
    return read_object(path, tool, "samples", lists=("kernels", "beside_kernels", "transfers", "memory"))
