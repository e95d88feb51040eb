"""Shared fixtures: the CLI to compare against ($RINGLAB_BIN, else build/apps/ringlab) and a runner for it."""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli():
    """Runs `ringlab ARGS...`; returns (exit code, stdout, stderr)."""
    binary = os.environ.get("RINGLAB_BIN", str(ROOT / "build/apps/ringlab"))
    if not os.access(binary, os.X_OK):
        pytest.fail(f"no ringlab CLI at {binary}: build it (scripts/build.sh) or set RINGLAB_BIN")

    def run(*args):
        p = subprocess.run([binary, *map(str, args)], capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr

    run.binary = binary
    return run


@pytest.fixture(scope="session")
def cli_json(cli):
    """Runs `ringlab ARGS... --json -` and returns the parsed JSON (the run must succeed)."""

    def run(*args):
        code, out, err = cli(*args, "--json", "-")
        assert code == 0, err
        return json.loads(out)

    return run
