"""What every notebook here starts with: the repository root (found from the working directory, as Jupyter runs a
notebook in its folder), the figure folder ($RINGLAB_NB_FIGDIR, else notebooks/figures), created, and how a notebook
runs the `ringlab` commands that make its data ($RINGLAB_BIN, else build/apps/ringlab)."""
import os
import pathlib
import subprocess


def repo_root():
    p = pathlib.Path.cwd().resolve()
    for q in [p, *p.parents]:
        if (q / "core" / "trace.h").exists() and (q / "notebooks").is_dir():
            return q
    raise RuntimeError("run this notebook inside the ringlab repository")


ROOT = repo_root()
FIG = pathlib.Path(os.environ.get("RINGLAB_NB_FIGDIR", ROOT / "notebooks/figures"))
FIG.mkdir(parents=True, exist_ok=True)
RINGLAB = os.environ.get("RINGLAB_BIN", str(ROOT / "build/apps/ringlab"))


def run_commands(commands):
    """Runs a notebook's data commands from the repository root, build/apps/ringlab replaced by RINGLAB; their
    outputs go to out/notebooks/ (created)."""
    (ROOT / "out/notebooks").mkdir(parents=True, exist_ok=True)
    for cmd in commands:
        cmd = cmd.replace("build/apps/ringlab", RINGLAB)
        print("$", cmd)
        subprocess.run(cmd, shell=True, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
