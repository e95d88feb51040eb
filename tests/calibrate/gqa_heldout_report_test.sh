#!/usr/bin/env bash
# bench/kernels/gqa_heldout_report.sh on the committed GQA held-out measurement: a call's folder is rebuilt from
# bench/results/kernel_model_heldout_gqa.json's "measured" (the peer's records only as RESULT lines of gqa_split's log,
# as when the device tool leaves shapes_peer.json out), the report runs into a temporary prefix, and its tables must
# equal the committed ones: the committed result reproduces from its data with today's simulator and profiles.
# Then a folder with neither the peer's file nor its log must be refused in one line with exit 2.
#   RINGLAB_BIN=<CPU build's ringlab> bash tests/calibrate/gqa_heldout_report_test.sh   (from the repository root)
set -euo pipefail
: "${RINGLAB_BIN:?RINGLAB_BIN=path to ringlab}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - bench/results/kernel_model_heldout_gqa.json "$tmp/call" <<'PY'
import json, os, sys
m = json.load(open(sys.argv[1]))["measured"]
call = sys.argv[2]
for d in ("gqa_split", "gqa_nosplit"):
    os.makedirs(f"{call}/{d}")
json.dump(m["ours"], open(f"{call}/gqa_split/shapes_ours.json", "w"))
json.dump(m["ours_without_group_split"], open(f"{call}/gqa_nosplit/shapes_ours.json", "w"))
with open(f"{call}/gqa_split/shapes.log", "w") as f:
    f.write("a line the report must skip\n")
    for r in m["peer"]:
        f.write("RESULT " + json.dumps(r) + "\n")
PY
DEST=$tmp/report bash bench/kernels/gqa_heldout_report.sh "$tmp/call" "$RINGLAB_BIN" "NVIDIA H100 80GB HBM3" 2026-12-07 \
  > "$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
grep -q "9 peer records from" "$tmp/log" || { echo "FAIL: the peer's records were not taken from the log"; exit 1; }
if ! diff <(grep '^|' bench/results/kernel_model_heldout_gqa.md) <(grep '^|' "$tmp/report.md"); then
  echo "FAIL: the report's tables differ from bench/results/kernel_model_heldout_gqa.md"; exit 1
fi
n=$(grep -c '^| \(ours\|peer FLASH\) |' "$tmp/report.md")
[ "$n" -eq 40 ] || { echo "FAIL: $n model rows (want 2 x (2 summary + 18 shape) = 40)"; exit 1; }
rm "$tmp/call/gqa_split/shapes.log"
set +e
DEST=$tmp/bad bash bench/kernels/gqa_heldout_report.sh "$tmp/call" "$RINGLAB_BIN" x y > "$tmp/bad.log" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/bad.log")" -eq 1 ] && grep -q "shapes_peer.json is missing" "$tmp/bad.log" \
  || { echo "FAIL: a folder without the peer's records: rc $rc, $(cat "$tmp/bad.log")"; exit 1; }
[ ! -e "$tmp/bad.json" ] && [ ! -e "$tmp/bad.md" ] || { echo "FAIL: a refused report left files"; exit 1; }
echo "PASS: the committed GQA held-out tables reproduce ($n model rows); a call without the peer's records is refused"
