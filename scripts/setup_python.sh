#!/usr/bin/env bash
# Creates ./.venv with the pinned Python packages the ringlab package build, its tests, the notebooks and
# calibrate/scripts need (nanobind, scikit-build-core, pytest, jupytext, jupyter nbconvert, nbclient, ipykernel,
# matplotlib, pandas, numpy; exact versions in scripts/python-requirements.txt).
# Idempotent: a venv whose stamp matches the requirements file is left alone.
#   --package                 then `pip install .` this checkout's ringlab package into the venv (the notebooks,
#                             calibrate/scripts and python/tests import it); incremental: build-python/ keeps the
#                             build, ccache the compiles.
#   RINGLAB_VENV=DIR          put the venv elsewhere (default ./.venv)
#   RINGLAB_NOTEBOOK_UI=1     also install the `jupyter` metapackage (JupyterLab, Notebook) to edit notebooks
#                             interactively; executing them (scripts/run_notebooks.sh, CI) needs only the pinned set.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${RINGLAB_VENV:-.venv}"
REQ=scripts/python-requirements.txt
STAMP="$VENV/.ringlab-requirements"

package=0
[[ "${1:-}" == --package ]] && package=1

# `pip install .` from this checkout with the venv's pinned build tools (no download), CPU only.
install_package() {
  local launcher=()
  mkdir -p build-python
  if command -v ccache > /dev/null 2>&1; then
    export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
    launcher=(-C cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps "${launcher[@]}" . \
    > build-python/pip.log 2>&1 || { tail -40 build-python/pip.log >&2; echo "setup_python: pip install . failed (log in build-python/pip.log)" >&2; exit 1; }
  echo "setup_python: ringlab package installed into $VENV ($("$VENV/bin/python" -c 'import ringlab; print(ringlab.__file__)'))"
}

want="$(sha256sum "$REQ" | cut -d' ' -f1)${RINGLAB_NOTEBOOK_UI:+-ui}"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "setup_python: $VENV up to date"
  [[ $package == 1 ]] && install_package
  exit 0
fi

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  # Debian splits venv/ensurepip into python3-venv.
  SUDO=""; [[ "$(id -u)" != 0 ]] && SUDO=sudo
  ver="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq python3-venv "python${ver}-venv" >/dev/null 2>&1 || $SUDO apt-get install -y -qq python3-venv
fi

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
# Keep git from seeing the venv without touching the top-level .gitignore.
echo '*' > "$VENV/.gitignore"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip==24.3.1
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
if [[ -n "${RINGLAB_NOTEBOOK_UI:-}" ]]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check jupyter==1.1.1
fi
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ringlab .venv)" >/dev/null
echo "$want" > "$STAMP"
echo "setup_python: $VENV ready ($("$VENV/bin/python" --version), $(grep -c '==' "$REQ") pinned packages)"
[[ $package == 1 ]] && install_package
exit 0
