"""What every notebook here starts with: the repository root (found from the working directory, as Jupyter runs a
notebook in its folder) and the figure folder ($RINGLAB_NB_FIGDIR, else notebooks/figures), created."""
import os
import pathlib


def repo_root():
    p = pathlib.Path.cwd().resolve()
    for q in [p, *p.parents]:
        if (q / "core" / "trace.h").exists() and (q / "notebooks").is_dir():
            return q
    raise RuntimeError("run this notebook inside the ringlab repository")


ROOT = repo_root()
FIG = pathlib.Path(os.environ.get("RINGLAB_NB_FIGDIR", ROOT / "notebooks/figures"))
FIG.mkdir(parents=True, exist_ok=True)
