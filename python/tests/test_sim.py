"""simulate, sweep, plan and schedule from Python return the CLI's numbers."""
import io
import json
import os
import threading

import pandas as pd
import pytest

import ringlab

# Host wall times differ from run to run; everything else must be equal.
WALL = {"wall_s", "compile_s", "run_s"}


def without_wall(x):
    if isinstance(x, dict):
        return {k: without_wall(v) for k, v in x.items() if k not in WALL}
    if isinstance(x, list):
        return [without_wall(v) for v in x]
    return x


@pytest.mark.parametrize("kwargs,profile", [
    ({"world": 8, "seq": 65536, "method": "both", "pass_": "both"}, "h100_sxm_calibrated"),
    ({"world": 16, "seq": 262144, "heads": 64, "kv_heads": 8, "ulysses": 4}, "h100_sxm"),
    ({"world": 4, "seq": 32768, "unfused_merge": True, "pack_kv": True, "pass_": "backward"}, "h100_pytorch_peer"),
])
def test_simulate_equals_cli(cli_json, kwargs, profile):
    cfg = ringlab.Config(**kwargs)
    expected = cli_json("sim", *cfg.cli_flags("sim"), "--profile", profile, "--per-rank")
    got = ringlab.simulate(cfg, profile, per_rank=True)
    assert without_wall(got.data) == without_wall(expected)
    assert got.summary["step_time_us"].tolist() == [r["step_time_us"] for r in expected["runs"]]


def test_simulate_trace_and_step_time():
    cfg = ringlab.Config(world=4, seq=16384, heads=8, kv_heads=2, pass_="both")
    sim = ringlab.simulate(cfg, "h100_sxm", trace=True)
    assert len(sim.traces) == 2
    tr = sim.trace
    assert list(tr.columns) == ringlab.TRACE_COLUMNS
    assert set(tr["rank"]) == {0, 1, 2, 3} and tr.attrs["ringlab"]["source"] == "sim"
    fwd = sim.runs[0]["step_time_us"]
    assert (tr.ts_us + tr.dur_us).max() == pytest.approx(fwd, rel=0.02)
    assert len(tr) == len(ringlab.schedule(cfg.replace(pass_="forward")))  # every op of every rank, once
    assert sim.step_time_us == pytest.approx(sim.data["forward_plus_backward"]["alltoall"]["step_time_us"])
    ranks = ringlab.simulate(cfg.replace(pass_="forward"), "h100_sxm", trace=[1, 3]).trace
    assert set(ranks["rank"]) == {1, 3}


def test_simulate_errors_equal_cli(cli):
    cfg = ringlab.Config(world=4, seq=16384)
    for kwargs, flags in [({"nodes": 0}, ["--nodes", "0"]), ({"placement": "random"}, ["--placement", "random"]),
                          ({"gpus_per_node": 0}, ["--gpus-per-node", "0"])]:
        code, _, err = cli("sim", "--world", "4", "--seq", "16384", *flags)
        assert code == 2
        with pytest.raises(ValueError) as e:
            ringlab.simulate(cfg, **kwargs)
        assert err.strip().endswith(str(e.value))
    with pytest.raises(ValueError, match="cannot open profile"):
        ringlab.simulate(cfg, "no_such_profile")


def test_sweep_equals_cli(cli):
    grid = {"world": [4, 8, 16], "seq": [65536, 131072], "method": ["allgather", "alltoall"],
            "pass_": ["forward", "both"], "heads": 16, "kv_heads": 4}
    df = ringlab.sweep(grid, jobs=2, profile="h100_sxm")
    code, out, err = cli("sweep", "--worlds", "4,8,16", "--seqs", "65536,131072", "--methods", "allgather,alltoall",
                         "--passes", "forward,both", "--heads", "16", "--kv-heads", "4", "--profile", "h100_sxm",
                         "-j", "2", "--csv", "-")
    assert code == 0, err
    expected = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert len(df) == len(expected) == 24
    assert list(df.columns) == list(expected.columns)
    decimals = {"tflops_per_gpu": 3, "peak_memory_gib": 4, "memory_capacity_gib": 1, "extrapolated_share": 4}
    as_bit = {"true": "1", "false": "0"}
    for col in expected.columns:
        a, b = df[col].tolist(), expected[col].tolist()
        if pd.api.types.is_float_dtype(expected[col]):  # the CSV prints a fixed number of decimals
            assert a == pytest.approx(b, rel=0, abs=0.51 * 10 ** -decimals.get(col, 6)), col
        else:
            norm = [[as_bit.get(str(x).lower(), str(x)) for x in v] for v in (a, b)]
            assert norm[0] == norm[1], col


def test_sweep_product_over_other_fields():
    df = ringlab.sweep({"world": 8, "seq": 65536, "method": "alltoall", "heads": [16, 32], "dim": [64, 128]},
                       jobs=1, profile="h100_sxm")
    assert sorted(zip(df.heads, df.head_dim)) == [(16, 64), (16, 128), (32, 64), (32, 128)]
    assert (df.error == "").all() and (df.step_ms > 0).all()
    with pytest.raises(ValueError, match=r"--worlds '8,0': '0' is out of range; allowed: \[1, "):
        ringlab.sweep({"world": [8, 0]})
    with pytest.raises(ValueError, match="unknown grid field 'nodes'"):
        ringlab.sweep({"nodes": [1, 2]})
    for field in ("world", "seq", "pass_", "heads"):
        with pytest.raises(ValueError, match=f"grid field '{field}' is an empty list"):
            ringlab.sweep({field: []}, jobs=1)


def test_plan_equals_cli(cli_json):
    expected = cli_json("plan", "--heads", "32", "--kv-heads", "8", "--seq", "65536", "--nodes", "1",
                        "--profile", "h100_sxm")
    df = ringlab.plan(heads=32, kv_heads=8, seq=65536, nodes=1, profile="h100_sxm")
    assert df.attrs["best_reason"] == expected["best_reason"]
    assert without_wall(df.to_dict("records")) == without_wall(expected["rows"])


def test_schedule_matches_cli_json(cli_json):
    cfg = ringlab.Config(world=4, seq=8192, heads=4, kv_heads=2, dim=64, pass_="backward")
    df = ringlab.schedule(cfg)
    s = cli_json("schedule", *cfg.cli_flags())
    s = s[0] if isinstance(s, list) else s
    ops = [(r["rank"], o) for r in s["ranks"] for o in r["ops"]]
    assert len(df) == len(ops) == s["op_count"]
    for (rank, o), row in zip(ops, df.itertuples()):
        assert (row.rank, row.id, row.kind, row.stream, row.step, row.bytes, row.flops) == (
            rank, o["id"], o["kind"], o["stream"], o["step"], o["bytes"], o["flops"])
        assert row.peer == o.get("peer", -1) and row.deps == ",".join(map(str, o["deps"]))
        assert row.reads == ",".join(o["reads"]) and row.writes == ",".join(o["writes"])
        if "block" in o:
            assert [row.q_begin, row.q_end] == o["block"]["q"] and row.causal == o["block"]["causal"]
    assert set(ringlab.schedule(cfg, ranks=[2])["rank"]) == {2}
    with pytest.raises(ValueError, match="not a rank in 0..3"):
        ringlab.schedule(cfg, ranks=[4])


def test_load_profile():
    p = ringlab.load_profile("h100_sxm")
    assert p.name and p.path.endswith("h100_sxm.json") and isinstance(p, dict)
    assert json.load(open(p.path)) == dict(p)
    with pytest.raises(ValueError):
        ringlab.load_profile("no_such_profile")


def test_load_profile_reads_the_file_once(tmp_path):
    # The profile's text was read a second time after the parser's read: from a fifo (a shell's <(...)) that second
    # read found no writer and waited for ever.
    text = open(ringlab.load_profile("h100_sxm").path).read()
    fifo = tmp_path / "profile.json"
    os.mkfifo(fifo)
    # A daemon: were the read to fail before opening the fifo, the writer's open would block for ever.
    writer = threading.Thread(target=lambda: fifo.write_text(text), daemon=True)
    writer.start()
    p = ringlab.load_profile(str(fifo))
    writer.join(timeout=20)
    assert not writer.is_alive()
    assert dict(p) == json.loads(text) and p.path == str(fifo)
