#!/usr/bin/env bash
# On the CPU machine, from the repository root, after `bench/kernels/device_gqa_call.sh` ran on a GPU: the kernel cost
# model against the GQA held-out shapes (bench/kernels/heldout_shapes_gqa.txt), ours and the peer.
#   bash bench/kernels/gqa_heldout_report.sh CALL_OUT RINGLAB_BIN CARD DATE
# CALL_OUT: the call's $OUT (gqa_split/, gqa_nosplit/ with shapes_ours.json / shapes_peer.json, the latter rebuilt from
# shapes.log's RESULT lines when the device tool left it out); RINGLAB_BIN: a CPU
# build's `ringlab`. Writes bench/results/kernel_model_heldout_gqa.json: the measurements as the call gave them
# ("measured") and two comparisons by calibrate/scripts/kernel_heldout.py: "split", ours with the group split against
# the profile as committed and the peer FLASH with enable_gqa against the peer profile; "nosplit", ours without the
# split (RINGLAB_BWD_GROUP_SPLITS=1) against the profile with `split_group` taken out (the model before the split) and
# the peer against its profile with `expand_group` taken out (the model before FlashAttention-2's GQA grid);
# and bench/results/kernel_model_heldout_gqa.md: both tables (hand-written reading goes below them). DEST=PREFIX writes
# PREFIX.json and PREFIX.md instead.
set -euo pipefail
call=${1:?CALL_OUT} bin=${2:?RINGLAB_BIN} card=${3:?CARD} date=${4:?DATE}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT  # also when a step refuses its input
python3 - "$call" "$card" "$date" $tmp/measured.json <<'PY'
import json, os, sys
call, card, date, dest = sys.argv[1:5]
def load(p):
    path = f"{call}/{p}"
    if not os.path.exists(path) and p.endswith("shapes_peer.json"):
        # The device tool returns a limited number of files: the peer's records are also the RESULT lines of the log.
        log = os.path.join(os.path.dirname(path), "shapes.log")
        rows = [json.loads(l[len("RESULT "):]) for l in open(log) if l.startswith("RESULT ")] \
            if os.path.exists(log) else []
        if not rows:
            print(f"gqa_heldout_report: {path} is missing and {log} has no RESULT lines", file=sys.stderr)
            sys.exit(2)
        print(f"gqa_heldout_report: {path} missing: {len(rows)} peer records from {log}", file=sys.stderr)
        return rows
    return json.load(open(path))
out = {"what": "GQA held-out shapes (bench/kernels/heldout_shapes_gqa.txt), sustained 500 ms then 7 timed",
       "card": card, "date": date, "ours": load("gqa_split/shapes_ours.json"),
       "ours_without_group_split": load("gqa_nosplit/shapes_ours.json"), "peer": load("gqa_split/shapes_peer.json")}
json.dump(out, open(dest, "w"), indent=1)
PY
python3 - $tmp/measured.json $tmp/nosplit_measured.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
json.dump({"card": m["card"], "date": m["date"], "ours": m["ours_without_group_split"], "peer": m["peer"]},
          open(sys.argv[2], "w"))
PY
profiles=$tmp/profiles
mkdir -p $profiles
cp sim/profiles/*.json "$profiles/"
python3 - "$profiles/h100_sxm_calibrated.json" "$profiles/h100_pytorch_peer.json" <<'PY'
import json, sys
def strip(x):  # the GQA fields: back to a CTA walking the whole group
    if isinstance(x, dict):
        x.pop("split_group", None)
        x.pop("expand_group", None)
        for v in x.values(): strip(v)
    elif isinstance(x, list):
        for v in x: strip(v)
for path in sys.argv[1:]:
    p = json.load(open(path))
    strip(p)
    json.dump(p, open(path, "w"), indent=1)
PY
py=$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )
RINGLAB_BIN=$bin RINGLAB_PROFILE_DIR=$PWD/sim/profiles $py calibrate/scripts/kernel_heldout.py \
  --measured $tmp/measured.json --out $tmp/split \
  --label "Ours with the backward's group split (the default) against h100_sxm_calibrated as committed; the peer: PyTorch SDPA FLASH with enable_gqa against h100_pytorch_peer."
RINGLAB_BIN=$bin RINGLAB_PROFILE_DIR=$profiles $py calibrate/scripts/kernel_heldout.py \
  --measured $tmp/nosplit_measured.json --out $tmp/nosplit \
  --label "Ours without the group split (RINGLAB_BWD_GROUP_SPLITS=1) against h100_sxm_calibrated with split_group taken out (the model before the split); the peer (the same measurements as above) against h100_pytorch_peer with expand_group taken out (a CTA walking the group, the model before)."
python3 - $tmp "${DEST:-bench/results/kernel_model_heldout_gqa}" <<'PY'
import json, os, sys
tmp, dest = sys.argv[1:3]
out = {"measured": json.load(open(f"{tmp}/measured.json"))}
for k in ("split", "nosplit"):
    r = json.load(open(f"{tmp}/{k}.json"))
    r.pop("measured", None)  # a temporary path; the measurements are this file's "measured"
    out[k] = r
with open(f"{dest}.json.tmp", "w") as f:  # both files land whole, renamed once both are written
    json.dump(out, f, indent=1)
md = []
for k, title in (("split", "With the group split (the kernels as they are)"),
                 ("nosplit", "The models before: ours without the group split (RINGLAB_BWD_GROUP_SPLITS=1), the peer "
                             "modelled walking the group")):
    text = open(f"{tmp}/{k}.md").read().split("\n")
    body = [l for l in text if l.startswith("|") or (l and not l.startswith("# ") and "Regenerate" not in l
                                                      and "against `" not in l)]
    md += [f"## {title}", ""] + body + [""]
with open(f"{dest}.md.tmp", "w") as f:
    f.write("\n".join(md))
os.replace(f"{dest}.json.tmp", f"{dest}.json")
os.replace(f"{dest}.md.tmp", f"{dest}.md")
PY
