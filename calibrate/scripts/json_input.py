"""The calibration scripts' JSON inputs: a file that is missing, not JSON or not the object expected is one line on
stderr naming it (TOOL: FILE: why) and exit 2, not a traceback (exit 1); so is an entry with a missing or bad field
(TOOL: FILE: kernels[3].us must be a number > 0, got "x"): check_entries. Outputs are written whole or not at all
(write_json, write_text): a temporary beside the file, renamed over it."""
import json
import math
import os
import select
import stat
import sys
import tempfile
import time

MAX_INPUT_BYTES = 256 << 20   # as core/input_file.h: a measurement file is megabytes; /dev/zero is endless
FIFO_WRITER_WAIT_S = 2.0      # as core's ReadInputFile: a fifo's writer started beside the reader still works


def fail(tool, message):
    print(f"{tool}: {message}", file=sys.stderr)
    sys.exit(2)


def _read_bytes(path, tool, what):
    """The bytes of `path`: a regular file or a fifo of at most MAX_INPUT_BYTES, as core's ReadInputFile takes. A folder
    or device is one line naming it; a fifo is opened non-blocking (a plain open() of a fifo without a writer blocks
    forever) and refused when no writer shows within FIFO_WRITER_WAIT_S."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        fail(tool, f"{path}: {what} is a directory (allowed: a regular file or a fifo)")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        fail(tool, f"{path}: {what} is not a regular file (allowed: a regular file or a fifo)")
    fd = os.open(path, os.O_RDONLY | (os.O_NONBLOCK if stat.S_ISFIFO(mode) else 0))
    try:
        chunks, size, seen_writer = [], 0, False
        deadline = time.monotonic() + FIFO_WRITER_WAIT_S
        while True:
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:  # a writer holds the fifo open, nothing written yet
                seen_writer = True
                select.select([fd], [], [])
                continue
            if chunk:
                seen_writer = True
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_INPUT_BYTES:
                    fail(tool, f"{path}: {what} is larger than {MAX_INPUT_BYTES >> 20} MiB")
                continue
            if not stat.S_ISFIFO(mode) or seen_writer:
                return b"".join(chunks)
            left = deadline - time.monotonic()  # a fifo that no writer opened yet: wait for one, boundedly
            if left <= 0:
                fail(tool, f"{path}: {what} is a fifo with no writer (waited {FIFO_WRITER_WAIT_S:g} s; start the "
                           "writer first, or give a regular file)")
            seen_writer = bool(select.select([fd], [], [], left)[0])
    finally:
        os.close(fd)


def read_json(path, tool, what):
    """The JSON value in `path` (`what` names the kind of file in messages); a file that cannot be read or is not
    JSON is one line naming it, exit 2."""
    try:
        return json.loads(_read_bytes(path, tool, what))
    except OSError as e:
        fail(tool, f"{path}: cannot read {what} ({e.strerror or e})")
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        fail(tool, f"{path}: {what} is not JSON ({e})")


def read_object(path, tool, what, lists=()):
    """The JSON object in `path` (`what` names the kind of file in messages); each key of `lists` present must be a
    JSON array of objects."""
    data = read_json(path, tool, what)
    if not isinstance(data, dict):
        fail(tool, f"{path}: {what} must be a JSON object, got {type(data).__name__}")
    for key in lists:
        if key in data and not (isinstance(data[key], list) and all(isinstance(x, dict) for x in data[key])):
            fail(tool, f"{path}: {key} must be an array of objects")
    return data


def read_text(path, tool, what):
    """The text of `path` (a markdown file of notes): one line naming it, exit 2, when it cannot be read. Read before
    any output is written, so that a wrong path does not leave half the outputs behind."""
    try:
        return _read_bytes(path, tool, what).decode()
    except OSError as e:
        fail(tool, f"{path}: cannot read {what} ({e.strerror or e})")
    except ValueError as e:  # UnicodeDecodeError
        fail(tool, f"{path}: {what} is not text ({e})")


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# Field checks for check_entries: (what the value must be, test). bool is an int to Python: refused as a number.
POSITIVE = ("a number > 0", lambda v: _number(v) and v > 0)
NON_NEGATIVE = ("a number >= 0", lambda v: _number(v) and v >= 0)
POSITIVE_INT = ("an integer > 0", lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0)
INTEGER = ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
BOOL = ("true or false", lambda v: isinstance(v, bool))
FRACTION = ("a number in [0, 1]", lambda v: _number(v) and 0 <= v <= 1)


def one_of(*values):
    return ("one of " + ", ".join(json.dumps(v) for v in values), lambda v: v in values)


def check_entries(tool, path, where, entries, required, optional=None, applies=None):
    """Each entry of the list `entries` (`where` in `path`) must be an object whose `required` fields are present and
    pass their check ({field: (what, test)}), as must the `optional` fields it has; entries for which `applies` (if
    given) is false are skipped. Else one line naming the entry's index and field, exit 2: a string or negative
    time, or a missing field, ended in a traceback deep in the fit (or in a wrong fit)."""
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            fail(tool, f"{path}: {where}[{i}] must be a JSON object, got {json.dumps(entry)[:80]}")
        if applies is not None and not applies(entry):
            continue
        for fields, needed in ((required, True), (optional or {}, False)):
            for name, (what, ok) in fields.items():
                if name not in entry:
                    if needed:
                        fail(tool, f"{path}: {where}[{i}] has no \"{name}\" ({what})")
                    continue
                if not ok(entry[name]):
                    fail(tool, f"{path}: {where}[{i}].{name} must be {what}, got {json.dumps(entry[name])[:80]}")


# A kernel sample as calibrate/samples.cc reads it (kernels and beside_kernels; "batch" defaults to 1 there).
KERNEL_REQUIRED = {"pass": one_of("forward", "backward"), "mask": one_of("full", "causal"),
                   "head_dim": POSITIVE_INT, "heads": POSITIVE_INT, "kv_heads": POSITIVE_INT, "q": POSITIVE_INT,
                   "kv": POSITIVE_INT, "pairs": POSITIVE, "us": POSITIVE}
KERNEL_OPTIONAL = {"batch": POSITIVE_INT, "diagonal_offset": INTEGER, "mode": one_of("merge", "overwrite", ""),
                   "overlap": FRACTION}

# A single-GPU timing record of bench/peer/peer_bench.py sdpa (and the ours/peer records of the held-out files): the
# problem B x H x S x S at head dim D, its forward and forward+backward times; "Hkv" < "H" for GQA.
SDPA_RECORD_REQUIRED = {"B": POSITIVE_INT, "H": POSITIVE_INT, "S": POSITIVE_INT, "D": POSITIVE_INT, "causal": BOOL,
                        "fwd_ms": POSITIVE, "fwdbwd_ms": POSITIVE}
SDPA_RECORD_OPTIONAL = {"Hkv": POSITIVE_INT}


def read_samples(path, tool):
    """A samples JSON (`ringlab calibrate --samples`, peer_sdpa_fit.py --samples, calibrate.py --samples-out), its
    kernel samples checked field by field ("batch" may be absent: 1, as the C++ reader takes it)."""
    data = read_object(path, tool, "samples", lists=("kernels", "beside_kernels", "transfers", "memory"))
    if "sms" in data and not POSITIVE_INT[1](data["sms"]):
        fail(tool, f"{path}: sms must be {POSITIVE_INT[0]}, got {json.dumps(data['sms'])[:80]}")
    for where in ("kernels", "beside_kernels"):
        check_entries(tool, path, where, data.get(where, []), KERNEL_REQUIRED, KERNEL_OPTIONAL)
    return data


def write_json(path, data, tool, indent=1):
    """Writes `data` as indented JSON to `path` whole or not at all (write_text). Data that is not JSON raises
    TypeError before anything is written."""
    write_text(path, json.dumps(data, indent=indent) + "\n", tool)


def write_text(path, text, tool):
    """Writes `text` to `path` whole or not at all: into a temporary in the same folder, renamed over `path` once
    written (a failure part way, or a kill, left a truncated profile or samples file where the old one was). The file
    gets the mode a plain open() would give it (mkstemp's is 0600). A path that cannot be written is one line naming
    it, exit 2."""
    if os.path.exists(path) and not os.path.isfile(path):  # a fifo or device: written in place, never replaced
        try:
            with open(path, "w") as out:
                out.write(text)
        except OSError as e:
            fail(tool, f"{path}: cannot write ({e.strerror or e})")
        return
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as e:
        fail(tool, f"{path}: cannot write ({e.strerror or e})")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            fail(tool, f"{path}: cannot write ({e.strerror or e})")
        raise
