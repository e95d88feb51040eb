#!/usr/bin/env bash
# Executes every notebook in notebooks/ with `jupyter nbconvert --to notebook --execute`. Each notebook is a jupytext
# pair (notebooks/jupytext.toml): <name>.py is the source, <name>.ipynb is rebuilt from it (outputs kept) before it
# runs. The notebooks compute through the `ringlab` package (scripts/setup_python.sh --package installs it). A
# notebook whose first code cell assigns COMMANDS = [...] (the exact commands that produced its data; the
# calibration report) gets them run from the repository root first, so it reads fresh output.
#
#   scripts/run_notebooks.sh                 # execute into out/notebooks/executed/ (tracked files untouched)
#   scripts/run_notebooks.sh --inplace       # execute in place and write figures to notebooks/figures/ (to commit)
#   scripts/run_notebooks.sh --out DIR       # execute into DIR (figures into DIR/figures)
#   scripts/run_notebooks.sh --no-regen      # use existing data (a notebook still runs its commands if data is missing)
#   scripts/run_notebooks.sh scaling_study   # only these notebooks
#
# Environment: RINGLAB_BIN (default build/apps/ringlab; replaces that prefix in every command), RINGLAB_VENV (.venv),
# RINGLAB_NB_TIMEOUT (seconds per cell, default 900).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
VENV="${RINGLAB_VENV:-.venv}"
PY="$VENV/bin/python"
[[ -x "$PY" ]] || { echo "run_notebooks: no venv at $VENV; run scripts/setup_python.sh first" >&2; exit 2; }
export RINGLAB_BIN="${RINGLAB_BIN:-$ROOT/build/apps/ringlab}"
[[ -x "$RINGLAB_BIN" ]] || { echo "run_notebooks: no ringlab binary at $RINGLAB_BIN (build first or set RINGLAB_BIN)" >&2; exit 2; }

mode=out; outdir="out/notebooks/executed"; regen=1; names=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --inplace) mode=inplace; shift ;;
    --out) outdir="$2"; shift 2 ;;
    --no-regen) regen=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "run_notebooks: unknown option $1" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
if [[ ${#names[@]} -eq 0 ]]; then
  for nb in notebooks/*.py; do  # the jupytext pairs (cells marked "# %%"), not helper modules such as nbsetup.py
    grep -q '^# %%' "$nb" && names+=("$(basename "$nb" .py)")
  done
fi

if [[ $mode == inplace ]]; then
  export RINGLAB_NB_FIGDIR="$ROOT/notebooks/figures"
else
  mkdir -p "$outdir"
  outdir="$(cd "$outdir" && pwd)"
  export RINGLAB_NB_FIGDIR="$outdir/figures"
fi
mkdir -p "$RINGLAB_NB_FIGDIR"
# No MPLBACKEND=Agg: the kernel's inline backend embeds every figure in the executed notebook.
export PYDEVD_DISABLE_FILE_VALIDATION=1
# The kernels import notebooks/nbsetup.py wherever the executed copy lies (Jupyter opened in notebooks/ finds it anyway).
export PYTHONPATH="$ROOT/notebooks${PYTHONPATH:+:$PYTHONPATH}"

# Prints the first code cell's COMMANDS list, one command per line, with build/apps/ringlab replaced by RINGLAB_BIN.
commands_of() {
  "$PY" - "$1" <<'EOF'
import ast, json, os, sys
nb = json.load(open(sys.argv[1]))
src = next("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
for node in ast.parse(src).body:
    if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "COMMANDS" for t in node.targets):
        for cmd in ast.literal_eval(node.value):
            print(cmd.replace("build/apps/ringlab", os.environ["RINGLAB_BIN"]))
        break
else:
    pass  # no COMMANDS: the notebook makes its own data
EOF
}

total_start=$SECONDS
status=0
for name in "${names[@]}"; do
  src="notebooks/$name.py"
  [[ -f "$src" ]] || { echo "run_notebooks: no $src" >&2; exit 2; }
  # The .ipynb from its paired script: the committed one updated in place (outputs kept), or a copy in outdir.
  if [[ $mode == inplace ]]; then
    nb="notebooks/$name.ipynb"
    "$VENV/bin/jupytext" -q --to ipynb --update "$src"
  else
    nb="$outdir/$name.ipynb"
    "$VENV/bin/jupytext" -q --to ipynb --output "$nb" "$src"
  fi
  t0=$SECONDS
  if [[ $regen == 1 ]]; then
    mkdir -p out/notebooks
    while IFS= read -r cmd; do
      [[ -z "$cmd" ]] && continue
      echo "[$name] \$ $cmd"
      bash -c "$cmd" >> "out/notebooks/$name.commands.log" 2>&1 || {
        echo "run_notebooks: $name: command failed: $cmd" >&2; tail -20 "out/notebooks/$name.commands.log" >&2; status=1; continue 2; }
    done < <(commands_of "$nb")
  fi
  t1=$SECONDS
  args=(--to notebook --execute --ExecutePreprocessor.timeout="${RINGLAB_NB_TIMEOUT:-900}"
        --ExecutePreprocessor.kernel_name=python3)
  args+=(--inplace)
  # Run from notebooks/ as Jupyter would; the notebooks find the repository root themselves.
  if "$VENV/bin/jupyter" nbconvert "${args[@]}" "$nb" > "out/notebooks/$name.nbconvert.log" 2>&1; then
    echo "[$name] ok: data $((t1 - t0)) s, execute $((SECONDS - t1)) s"
  else
    echo "run_notebooks: $name failed to execute:" >&2
    tail -40 "out/notebooks/$name.nbconvert.log" >&2
    status=1
  fi
done
where="$outdir"; [[ $mode == inplace ]] && where="notebooks/ (in place)"
echo "run_notebooks: ${#names[@]} notebook(s) in $((SECONDS - total_start)) s -> $where, figures in $RINGLAB_NB_FIGDIR"
exit $status
