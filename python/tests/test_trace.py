"""load_trace on our traces (plain and gzip) and on a PyTorch-style Chrome capture; summarize_trace against sim."""
import gzip
import json
import shutil

import pytest

import ringlab

CFG = dict(world=4, seq=16384, heads=8, kv_heads=2, dim=64, method="alltoall")


@pytest.fixture(scope="module")
def cli_trace(cli, tmp_path_factory):
    """A simulated trace written by the CLI, and the same simulation from Python."""
    path = tmp_path_factory.mktemp("trace") / "sim.json"
    cfg = ringlab.Config(**CFG)
    code, _, err = cli("sim", *cfg.cli_flags("sim"), "--profile", "h100_sxm", "--trace", path)
    assert code == 0, err
    return path, ringlab.simulate(cfg, "h100_sxm", trace=True)


def test_our_trace_equals_the_simulation(cli_trace):
    path, sim = cli_trace
    df = ringlab.load_trace(path)
    # Format version 2 adds `track` (the tid: compute, send, recv, collective); `stream` stays 0 compute / 1 comm.
    assert list(df.columns) == ringlab.TRACE_COLUMNS + ["track"]
    assert set(df["stream"]) <= {0, 1} and set(df["track"]) <= {1, 2, 3, 4}
    assert df.attrs["source"] == "sim" and df.attrs["ringlab"]["world"] == 4
    assert ringlab.Config.from_meta(df.attrs["ringlab"]) == ringlab.Config(**CFG)
    key = ["rank", "op"]
    a = df.sort_values(key).reset_index(drop=True)
    b = sim.trace.sort_values(key).reset_index(drop=True)
    for col in ("rank", "stream", "op", "step", "peer", "bytes"):
        assert a[col].tolist() == b[col].tolist(), col
    assert a["kind"].astype(str).tolist() == b["kind"].astype(str).tolist()
    for col in ("ts_us", "dur_us", "flops"):  # the file rounds times to the nanosecond
        assert a[col].tolist() == pytest.approx(b[col].tolist(), abs=1e-3, rel=1e-9), col


def test_gzip_trace_reads_the_same(cli_trace, tmp_path):
    path, _ = cli_trace
    gz = tmp_path / "sim.json.gz"
    with open(path, "rb") as f, gzip.open(gz, "wb") as g:
        shutil.copyfileobj(f, g)
    a, b = ringlab.load_trace(path), ringlab.load_trace(gz)
    assert a.equals(b) and b.attrs["ringlab"] == a.attrs["ringlab"]


def test_summarize_trace_matches_the_simulator(cli_trace):
    path, sim = cli_trace
    s = ringlab.summarize_trace(path)
    assert s["step_time_us"] == pytest.approx(sim.runs[0]["step_time_us"], abs=2e-3)
    pr = ringlab.per_rank(s)
    assert len(pr) == 4 and (pr.compute_us > 0).all() and (pr.comm_exposed_us >= 0).all()


def test_pytorch_chrome_capture(tmp_path):
    """A capture shaped like torch.profiler's export_chrome_trace: metadata names, string tids, ph X kernels and
    NCCL ops with args, instant events and flows that are not complete events; gzip-compressed."""
    events = [
        {"ph": "M", "name": "process_name", "pid": 0, "args": {"name": "python3 rank 0"}},
        {"ph": "M", "name": "thread_name", "pid": 0, "tid": 7, "args": {"name": "stream 7"}},
        {"ph": "X", "cat": "kernel", "name": "flash_fwd_kernel", "pid": 0, "tid": 7, "ts": 1000.5, "dur": 250.25,
         "args": {"device": 0, "stream": 7, "correlation": 11}},
        {"ph": "X", "cat": "kernel", "name": "ncclDevKernel_SendRecv", "pid": 0, "tid": 19, "ts": 1001.0,
         "dur": 180.0, "args": {"device": 0, "stream": 19}},
        {"ph": "X", "cat": "cpu_op", "name": "aten::_scaled_dot_product_flash_attention", "pid": 123,
         "tid": "main thread", "ts": 990.0, "dur": 12.0},
        {"ph": "i", "name": "marker", "pid": 0, "tid": 7, "ts": 1100.0, "s": "t"},
        {"ph": "s", "id": 11, "pid": 123, "tid": "main thread", "ts": 995.0, "cat": "ac2g", "name": "ac2g"},
    ]
    path = tmp_path / "capture.pt.trace.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump({"schemaVersion": 1, "traceEvents": events}, f)
    df = ringlab.load_trace(path)
    assert len(df) == 3 and df.attrs["source"] == "chrome" and df.attrs["ringlab"] is None
    k = df.set_index("name")
    assert k.loc["flash_fwd_kernel", "dur_us"] == 250.25 and k.loc["flash_fwd_kernel", "ts_us"] == 1000.5
    assert k.loc["flash_fwd_kernel", "process"] == "python3 rank 0"
    assert k.loc["flash_fwd_kernel", "thread"] == "stream 7"
    assert k.loc["ncclDevKernel_SendRecv", "kind"] == "kernel"
    assert k.loc["aten::_scaled_dot_product_flash_attention", "stream"] == "main thread"
    assert k.loc["flash_fwd_kernel", "args"]["correlation"] == 11
    plain = tmp_path / "array.json"  # the JSON Array Format
    plain.write_text(json.dumps(events))
    assert len(ringlab.load_trace(plain)) == 3


def test_not_json_is_an_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError):
        ringlab.load_trace(bad)


@pytest.mark.parametrize("text, part", [
    ("42", "expected a JSON object"),
    ("null", "expected a JSON object"),
    ('{"traceEvents": {"ph": "X"}}', "traceEvents must be an array"),
    ('{"traceEvents": null}', "traceEvents must be an array"),
    ('{"traceEvents": [1, 2]}', "traceEvents[0] must be an object"),
    ('{"traceEvents": [], "ringlab": [1]}', "ringlab metadata must be an object"),
    ('{"traceEvents": [{"ph": "X", "ts": [1], "dur": 1}]}', "traceEvents[0].ts must be a finite number"),
    ('{"traceEvents": [{"ph": "X", "ts": "12", "dur": 1}]}', "traceEvents[0].ts must be a finite number"),
    ('{"traceEvents": [{"ph": "X", "ts": 0, "dur": NaN}]}', "traceEvents[0].dur must be a finite number"),
    ('{"traceEvents": [{"ph": "X", "ts": Infinity, "dur": 1}]}', "traceEvents[0].ts must be a finite number"),
    ('{"traceEvents": [{"ph": "X", "ts": 0, "dur": -5}]}', "traceEvents[0].dur is negative"),
    ('{"traceEvents": [], "ringlab": {"version": null}}', "ringlab.version must be an integer"),
    ('{"traceEvents": [' + "[" * 100000 + "]" * 100000 + "]}", "nested too deeply"),
])
def test_malformed_traces_are_a_value_error_naming_the_file(tmp_path, text, part):
    # These used to raise AttributeError or TypeError from inside the loader, or (NaN, inf, negative durations) load.
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    with pytest.raises(ValueError) as e:
        ringlab.load_trace(bad)
    assert part in str(e.value) and "bad.json" in str(e.value)


def test_an_error_quoting_invalid_utf8_is_still_a_value_error(tmp_path):
    # The JSON parser's message quotes the bytes it read; Python raised UnicodeDecodeError decoding it instead.
    bad = tmp_path / "bad_utf8.json"
    bad.write_bytes(b'{"traceEvents": [], "ringlab": {"version": 2, "source": "s\xffm"}}')
    with pytest.raises(ValueError) as e:
        ringlab.summarize_trace(bad)
    assert "bad_utf8.json" in str(e.value)
