#!/bin/bash
# Regenerates the calibrated-profile scale table of bench/results/sim_scale.md: runs run_scale_matrix.sh for a
# "before" and an "after" ringlab binary (e.g. main and this branch, each built with scripts/build.sh), then writes the
# raw lines of both as one JSON array and prints the markdown table (scale_table.py) on stdout.
# Usage: bench/sim/regen_scale_table.sh <ringlab before> <ringlab after> <out.json> [cap s] [mem GiB] [worlds...]
#   bench/sim/regen_scale_table.sh ../main/build/apps/ringlab build/apps/ringlab bench/results/sim_scale.json \
#       120 8 4096 16384 65536 > table.md
# A "before" file of earlier lines can stand in for the before binary: pass BEFORE_JSONL=file and "-" as the binary.
set -euo pipefail
before_bin=$1; after_bin=$2; out_json=$3; cap=${4:-120}; mem=${5:-8}; shift 5 || shift $#
worlds=${*:-"4096 16384 65536"}
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "$before_bin" = "-" ]; then
  cp "${BEFORE_JSONL:?BEFORE_JSONL names the earlier lines when the before binary is -}" "$tmp/before.jsonl"
else
  "$here/run_scale_matrix.sh" "$before_bin" before h100_sxm_calibrated "$cap" "$mem" $worlds > "$tmp/before.jsonl"
fi
"$here/run_scale_matrix.sh" "$after_bin" after h100_sxm_calibrated "$cap" "$mem" $worlds > "$tmp/after.jsonl"
python3 -c "import json,sys; json.dump([json.loads(l) for f in sys.argv[1:] for l in open(f) if l.strip()], sys.stdout, indent=1)" \
  "$tmp/before.jsonl" "$tmp/after.jsonl" > "$tmp/all.json"
mv "$tmp/all.json" "$out_json"
python3 "$here/scale_table.py" "$tmp/before.jsonl" "$tmp/after.jsonl"
