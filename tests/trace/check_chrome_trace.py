#!/usr/bin/env python3
"""Strict checker of the Chrome Trace Event files ringlab writes (core/trace.h), by the rules a strict reader
(Perfetto's importer) applies, written apart from the writer so that it checks the writer rather than repeats it.

Rules: every event has a known phase and an integer pid; no NaN or Infinity anywhere; complete events ("X") have
finite ts and dur >= 0 in whole nanoseconds; on one track (pid, tid) complete events nest exactly or are disjoint;
every flow id has one start ("s") and one end ("f", "bp":"e"), the end not before the start, each inside a complete
event of its track, with matching name and category; metadata ("M") names only processes and threads that have
events. Events need not be sorted (the format does not require it). For ringlab traces also: every send and recv
whose peer is in the file, and every all-to-all with a traced group member, is the end of a flow.

usage: check_chrome_trace.py TRACE.json [...]   (exit 0: all pass; 1: violations, listed; 2: unreadable input)
Prints one JSON summary line per file to stdout.
"""
import bisect
import collections
import decimal
import json
import sys

PHASES = set("XBEiIsftMCbenSTFpPOND")
NS = decimal.Decimal(1000)


def reject_constant(name):
    raise ValueError(f"{name} is not JSON a strict reader accepts")


def load(path):
    with open(path, "rb") as f:
        return json.loads(f.read(), parse_float=decimal.Decimal, parse_constant=reject_constant)


def whole_ns(value):
    """The value in microseconds as integer nanoseconds, or None when it has a finer fraction."""
    ns = decimal.Decimal(value) * NS
    return int(ns) if ns == ns.to_integral_value() else None


class Checker:
    def __init__(self, path):
        self.path = path
        self.errors = []

    def error(self, index, what):
        if len(self.errors) < 50:
            self.errors.append(f"{self.path}: traceEvents[{index}]: {what}")

    def run(self, doc):
        events = doc["traceEvents"] if isinstance(doc, dict) else doc
        if not isinstance(events, list):
            self.errors.append(f"{self.path}: traceEvents is not an array")
            return {}
        slices = collections.defaultdict(list)  # (pid, tid) -> [(start_ns, end_ns, index)]
        flows = collections.defaultdict(lambda: {"s": [], "f": []})
        meta = []
        for i, e in enumerate(events):
            if not isinstance(e, dict):
                self.error(i, "not an object")
                continue
            ph = e.get("ph")
            if ph not in PHASES:
                self.error(i, f"ph {ph!r} is not a phase of the format")
                continue
            if not isinstance(e.get("pid"), int):
                self.error(i, "pid is missing or not an integer")
                continue
            if ph == "M":
                meta.append((i, e))
                continue
            ts = whole_ns(e["ts"]) if isinstance(e.get("ts"), (int, decimal.Decimal)) else None
            if ts is None:
                self.error(i, f"ts {e.get('ts')!r} is missing, not a number, or finer than a nanosecond")
                continue
            key = (e["pid"], e.get("tid", 0))
            if ph == "X":
                dur = whole_ns(e["dur"]) if isinstance(e.get("dur"), (int, decimal.Decimal)) else None
                if dur is None or dur < 0:
                    self.error(i, f"dur {e.get('dur')!r} is missing, negative or finer than a nanosecond")
                    continue
                slices[key].append((ts, ts + dur, i))
            elif ph in "sf":
                if "id" not in e:
                    self.error(i, "flow event without id")
                    continue
                if ph == "f" and e.get("bp") != "e":
                    self.error(i, "flow end without \"bp\":\"e\" (would bind to the next slice, not the enclosing one)")
                flows[e["id"]][ph].append((ts, key, i, e.get("name"), e.get("cat")))
        self.check_nesting(slices)
        bound = self.check_flows(flows, slices)
        self.check_metadata(meta, slices)
        if isinstance(doc, dict) and "ringlab" in doc:
            self.check_message_flows(events, bound, slices)
        return {"file": self.path, "complete_events": sum(len(v) for v in slices.values()), "tracks": len(slices),
                "flows": len(bound), "metadata": len(meta), "errors": len(self.errors)}

    def check_nesting(self, slices):
        for key, spans in slices.items():
            spans.sort(key=lambda s: (s[0], -s[1], s[2]))
            stack = []
            for start, end, i in spans:
                while stack and stack[-1][1] <= start and not (stack[-1][0] == stack[-1][1] == start == end):
                    stack.pop()
                if stack and end > stack[-1][1]:
                    top = stack[-1]
                    self.error(i, f"track pid {key[0]} tid {key[1]}: [{start}, {end}) ns overlaps traceEvents[{top[2]}] "
                                  f"[{top[0]}, {top[1]}) ns without nesting in it")
                    continue
                stack.append((start, end, i))

    @staticmethod
    def enclosing(spans, starts, key, ts):
        """The innermost complete event on `key` containing ts (start <= ts < end; a zero-length one at its ts).
        Spans are sorted by (start, longest first) and nest, so the innermost is the last one before ts that holds it;
        the search looks back a bounded number of events (deeper nesting than that is not a ringlab shape)."""
        track, track_starts = spans.get(key, []), starts.get(key, [])
        j = bisect.bisect_right(track_starts, ts)
        for start, end, i in reversed(track[max(0, j - 64):j]):
            if start <= ts < end or start == ts == end:
                return (start, end, i)
        return None

    def check_flows(self, flows, slices):
        bound = {}  # id -> (from event index, to event index)
        by_track = slices
        starts = {k: [s[0] for s in v] for k, v in slices.items()}
        for fid, ends in flows.items():
            if len(ends["s"]) != 1 or len(ends["f"]) != 1:
                where = (ends["s"] or ends["f"])[0][2]
                self.error(where, f"flow id {fid}: {len(ends['s'])} starts and {len(ends['f'])} ends (need one each)")
                continue
            (s_ts, s_key, s_i, s_name, s_cat), (f_ts, f_key, f_i, f_name, f_cat) = ends["s"][0], ends["f"][0]
            if (s_name, s_cat) != (f_name, f_cat):
                self.error(f_i, f"flow id {fid}: name/cat {f_name}/{f_cat} differ from the start's {s_name}/{s_cat}")
            if f_ts < s_ts:
                self.error(f_i, f"flow id {fid} ends at {f_ts} ns, before it starts ({s_ts} ns)")
            src = self.enclosing(by_track, starts, s_key, s_ts)
            dst = self.enclosing(by_track, starts, f_key, f_ts)
            if src is None:
                self.error(s_i, f"flow id {fid} starts outside every complete event of its track")
            if dst is None:
                self.error(f_i, f"flow id {fid} ends outside every complete event of its track")
            if src and dst:
                bound[fid] = (src[2], dst[2])
        return bound

    def check_metadata(self, meta, slices):
        pids = {k[0] for k in slices}
        for i, e in meta:
            name = e.get("name")
            if e["pid"] not in pids:
                self.error(i, f"metadata {name} for pid {e['pid']}, which has no events")
            elif name in ("thread_name", "thread_sort_index") and (e["pid"], e.get("tid")) not in slices:
                self.error(i, f"metadata {name} for pid {e['pid']} tid {e.get('tid')}, which has no events")
            if name in ("process_name", "thread_name") and not isinstance(e.get("args", {}).get("name"), str):
                self.error(i, f"metadata {name} without a string args.name")

    def check_message_flows(self, events, bound, slices):
        pids = {k[0] for k in slices}
        out_count = collections.Counter(a for a, _ in bound.values())
        in_count = collections.Counter(b for _, b in bound.values())
        groups = collections.defaultdict(list)
        for i, e in enumerate(events):
            if not isinstance(e, dict) or e.get("ph") != "X":
                continue
            cat, args = e.get("cat"), e.get("args", {})
            if cat == "send" and args.get("peer") in pids and out_count[i] != 1:
                self.error(i, f"send to traced rank {args['peer']} starts {out_count[i]} flows (need 1)")
            if cat == "recv" and args.get("peer") in pids and in_count[i] != 1:
                self.error(i, f"recv from traced rank {args['peer']} ends {in_count[i]} flows (need 1)")
            if cat == "alltoall":
                groups[args.get("tag")].append(i)
        for tag, members in groups.items():
            for i in members:
                if out_count[i] == 0 and len(members) > 1 and in_count[i] == 0:
                    self.error(i, f"all-to-all tag {tag} with other traced members has no flow")


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    failed = False
    for path in argv[1:]:
        try:
            doc = load(path)
        except (OSError, ValueError) as err:
            print(f"{path}: cannot read: {err}", file=sys.stderr)
            return 2
        checker = Checker(path)
        summary = checker.run(doc)
        print(json.dumps(summary))
        for line in checker.errors:
            print(line, file=sys.stderr)
        failed = failed or bool(checker.errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
