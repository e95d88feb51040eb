"""ringlab.Config validates with the CLI's code: the same values fail with the same messages."""
import pytest

import ringlab

# (Config keyword arguments, the same request as CLI flags)
BAD = [
    ({"world": 0}, ["--world", "0"]),
    ({"world": 2**31}, ["--world", str(2**31)]),
    ({"seq": 1000, "world": 16}, ["--seq", "1000", "--world", "16"]),
    ({"heads": 32, "kv_heads": 5}, ["--heads", "32", "--kv-heads", "5"]),
    ({"method": "ring"}, ["--method", "ring"]),
    ({"pass_": "sideways"}, ["--pass", "sideways"]),
    ({"sharding": "striped"}, ["--sharding", "striped"]),
    ({"dtype": "int8"}, ["--dtype", "int8"]),
    ({"ulysses": 3}, ["--ulysses", "3"]),
    ({"placement": "diagonal", "ulysses": 2}, ["--placement", "diagonal", "--ulysses", "2"]),
    ({"dim": 2.5}, ["--dim", "2.5"]),
]


def cli_message(stderr):
    """The CLI's error line without its prefix and the help pointer CLI11 errors carry."""
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("ringlab: error: "), stderr
    return line.removeprefix("ringlab: error: ").removesuffix(" (see ringlab --help)")


@pytest.mark.parametrize("kwargs,flags", BAD, ids=[str(k) for k, _ in BAD])
def test_errors_equal_the_cli(cli, kwargs, flags):
    code, _, err = cli("schedule", *flags)
    assert code == 2
    with pytest.raises(ValueError) as e:
        ringlab.Config(**kwargs)
    assert str(e.value) == cli_message(err)


def test_valid_config_expands_like_the_cli(cli_json):
    cfg = ringlab.Config(world=4, seq=4096, heads=8, kv_heads=2, dim=64, method="both", pass_="both")
    dicts = cfg.to_dicts()
    assert [(d["method"], d["pass"]) for d in dicts] == [
        ("allgather", "forward"), ("allgather", "backward"), ("alltoall", "forward"), ("alltoall", "backward")]
    cli = cli_json("schedule", *cfg.cli_flags(), "--ranks", "0")
    cli_configs = [s["config"] for s in (cli if isinstance(cli, list) else [cli])]
    assert cli_configs == dicts


def test_from_meta_round_trips():
    cfg = ringlab.Config(world=8, seq=65536, heads=16, kv_heads=4, ulysses=2, pass_="backward", pack_kv=True)
    assert ringlab.Config.from_meta(cfg.to_dicts()[0]) == cfg
    assert cfg.replace(**{"pass": "forward"}).pass_ == "forward"


def test_bool_fields_are_checked():
    with pytest.raises(ValueError, match="causal must be True or False"):
        ringlab.Config(causal="yes")


def test_sharding_defaults_like_the_cli():
    """Left out, the sharding is the CLI's default: head-tail for causal attention, contiguous for full attention
    (nothing to balance; head-tail is refused there), so Config(causal=False) is valid as `--no-causal` is."""
    assert ringlab.Config(world=4, seq=4096, heads=8, kv_heads=2).to_dicts()[0]["sharding"] == "head-tail"
    assert ringlab.Config(world=4, seq=4096, heads=8, kv_heads=2, causal=False).to_dicts()[0]["sharding"] == \
        "contiguous"
    with pytest.raises(ValueError, match="needs --causal"):
        ringlab.Config(world=4, seq=4096, heads=8, kv_heads=2, causal=False, sharding="head-tail")
    assert ringlab.Config(world=4, seq=4096, heads=8, kv_heads=2, causal=False).sharding == "contiguous"
    assert ringlab.Config().sharding == "head-tail"
