#!/usr/bin/env bash
# The package from scratch: clones this checkout's HEAD into a temporary folder, creates a fresh virtual environment,
# runs `pip install .` there (build isolation: pip fetches the pinned nanobind and scikit-build-core from PyPI) and
# imports ringlab, simulating one configuration. Prints each step's time; exit 0 when all of it works.
#   python/fresh_venv_check.sh [KEEP_DIR]     (KEEP_DIR: clone and venv there, left in place)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d)}"
[[ -n "${1:-}" ]] || trap 'rm -rf "$work"' EXIT
t0=$SECONDS
git clone -q --no-local . "$work/ringlab"
python3 -m venv "$work/venv"
if command -v ccache > /dev/null 2>&1; then  # as scripts/build.sh: compiles keyed relative to the clone
  export CCACHE_BASEDIR="$work/ringlab" CCACHE_NOHASHDIR=1 CMAKE_ARGS="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
fi
(cd "$work/ringlab" && "$work/venv/bin/python" -m pip install -q --disable-pip-version-check .)
t1=$SECONDS
cd "$work"  # away from the clone: the installed package, not the source folder, is imported
"$work/venv/bin/python" - <<'PY'
import ringlab
cfg = ringlab.Config(world=8, seq=131072, method="alltoall", pass_="both")
sim = ringlab.simulate(cfg, "h100_sxm_calibrated")
print(f"import ringlab: ok ({ringlab.__file__}); fwd+bwd step {sim.step_time_us / 1e3:.3f} ms")
PY
echo "fresh_venv_check: clone + venv + pip install . in $((t1 - t0)) s, import and simulate ok"
