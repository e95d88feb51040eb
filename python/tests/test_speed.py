"""A 1,000-point sweep from Python is no slower than the CLI's (python/bench/sweep_speed.py measures it properly; this
test runs it once each and allows for a shared machine's noise)."""
import os
import sys
import tempfile

import pytest

sys.path.append(os.path.join(os.path.dirname(__file__), "..", "bench"))
import sweep_speed  # noqa: E402


@pytest.mark.skipif(os.environ.get("RINGLAB_SKIP_SPEED") == "1", reason="RINGLAB_SKIP_SPEED=1")
def test_thousand_point_sweep_not_slower_than_cli(cli):
    with tempfile.TemporaryDirectory() as td:
        cli_s = sweep_speed.time_cli(cli.binary, 2, os.path.join(td, "s.json"))
    py_s = sweep_speed.time_python(2)
    assert py_s <= 1.25 * cli_s + 0.5, (py_s, cli_s)
