#!/usr/bin/env python3
"""Builds notebooks/<name>.ipynb from notebooks/src/<name>.py (percent format, reviewable as plain Python).

Cells are separated by lines `# %%` (code) and `# %% [markdown]` (markdown; each line's leading `# ` is stripped).
The .ipynb files are committed with their outputs (scripts/run_notebooks.sh --inplace); this script rewrites only
the cell sources, so run it after editing a source and then re-execute.

    .venv/bin/python notebooks/build_notebooks.py            # all sources
    .venv/bin/python notebooks/build_notebooks.py scaling_study
"""
import pathlib
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent


def parse(text):
    cells, kind, lines = [], None, []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in body.split("\n"))
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif body:
            cells.append(nbformat.v4.new_code_cell(body))

    for line in text.split("\n"):
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def build(name):
    src = HERE / "src" / f"{name}.py"
    nb = nbformat.v4.new_notebook()
    nb.cells = parse(src.read_text())
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, c in enumerate(nb.cells):
        c["id"] = f"{name[:12]}-{i:02d}"
    out = HERE / f"{name}.ipynb"
    nbformat.write(nb, out)
    print(f"wrote {out.relative_to(HERE.parent)} ({len(nb.cells)} cells)")


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(p.stem for p in (HERE / "src").glob("*.py") if p.stem != "__init__")
    for n in names:
        build(n)
