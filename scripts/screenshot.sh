#!/usr/bin/env bash
# Writes a PNG of trace timelines with ringlab-view, headless: under `xvfb-run -a` when there is no DISPLAY.
#   scripts/screenshot.sh OUT.png TRACE.json [TRACE...] [ringlab-view options: --width --height --range-us ...]
# Finds ringlab-view in $RINGLAB_VIEW, else build*/apps/ringlab-view, else on PATH.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 OUT.png TRACE.json [TRACE...] [ringlab-view options]" >&2
  exit 2
fi
out=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
view=${RINGLAB_VIEW:-}
if [[ -z $view ]]; then
  for c in "$root"/build/apps/ringlab-view "$root"/build-*/apps/ringlab-view; do
    if [[ -x $c ]]; then view=$c; break; fi
  done
fi
if [[ -z $view ]]; then view=$(command -v ringlab-view || true); fi
if [[ -z $view ]]; then
  echo "$0: ringlab-view not found (build it, or set RINGLAB_VIEW)" >&2
  exit 2
fi
if [[ -n ${DISPLAY:-} ]]; then
  "$view" "$@" --screenshot "$out"
else
  if ! command -v xvfb-run > /dev/null; then
    echo "$0: no DISPLAY and xvfb-run is not installed (apt-get install xvfb)" >&2
    exit 2
  fi
  xvfb-run -a -s "-screen 0 3840x2160x24" "$view" "$@" --screenshot "$out"
fi
echo "screenshot: $(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
