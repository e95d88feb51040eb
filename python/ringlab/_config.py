"""ringlab.Config: one problem and layout, validated by the CLI's own flag table (apps/common_options.h)."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, Optional

from ringlab import _core

# Python name -> CLI flag. `pass_` is `--pass` (`pass` is a Python keyword); `placement` is the Ulysses placement.
_FLAGS = {
    "world": "--world", "batch": "--batch", "heads": "--heads", "kv_heads": "--kv-heads", "dim": "--dim",
    "seq": "--seq", "method": "--method", "sharding": "--sharding", "pass_": "--pass", "dtype": "--dtype",
    "ulysses": "--ulysses", "ring": "--ring", "placement": "--placement",
}


def cli_flags(fields: Mapping[str, Any], command: str = "schedule") -> list[str]:
    """The `ringlab` common flags for keyword fields (Config's names; booleans become --causal/--no-causal,
    --unfused-merge, --pack-kv). Fields left out keep the CLI's defaults. `command` "sim" or "sweep" spells the
    Ulysses placement --ulysses-placement (their --placement places ranks on GPUs)."""
    flags: list[str] = []
    for name, value in fields.items():
        if name == "sharding" and value is None:
            continue  # the CLI chooses: head-tail, or contiguous for full attention
        if name == "placement" and command in ("sim", "sweep"):
            flags += ["--ulysses-placement", str(value)]
        elif name in _FLAGS:
            flags += [_FLAGS[name], str(value)]
        elif name == "causal":
            flags.append("--causal" if value else "--no-causal")
        elif name in ("unfused_merge", "pack_kv"):
            if value:
                flags.append("--" + name.replace("_", "-"))
        else:
            raise ValueError(f"unknown configuration field '{name}'; allowed: {', '.join(FIELDS)}")
    return flags


@dataclasses.dataclass(frozen=True)
class Config:
    """A context-parallel attention problem and layout: the fields of the CLI's common flags.

    Validated on construction by the CLI's own code: a bad value raises ValueError with the message
    `ringlab` prints (``Config(world=0)`` -> ``--world: '0' is out of range; allowed: [1, 2147483647]``).
    ``method="both"`` and ``pass_="both"`` select several schedules, as on the command line.

    >>> cfg = ringlab.Config(world=8, seq=131072, heads=32, kv_heads=8, method="alltoall", pass_="both")
    >>> cfg.cli_flags()[:4]
    ['--world', '8', '--batch', '1']
    """

    world: int = 8
    batch: int = 1
    heads: int = 32
    kv_heads: int = 8
    dim: int = 128
    seq: int = 131072
    causal: bool = True
    method: str = "alltoall"  # allgather | alltoall | both
    # contiguous | head-tail | balanced; None (left out): the CLI's default, head-tail, or contiguous for full attention;
    # the field then holds the one chosen
    sharding: Optional[str] = None
    pass_: str = "forward"  # forward | backward | both
    dtype: str = "bf16"  # bf16 | fp16 | fp32 | fp64
    unfused_merge: bool = False  # merge partial outputs in separate ops (PyTorch)
    pack_kv: bool = False  # copy K and V into one buffer before each send (PyTorch)
    ulysses: int = 1  # Ulysses degree U
    ring: int = 0  # ring degree R (0: world / ulysses)
    placement: str = "consecutive"  # consecutive | strided (where the Ulysses groups lie)

    def __post_init__(self) -> None:
        for name in ("causal", "unfused_merge", "pack_kv"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        object.__setattr__(self, "_schedules", tuple(_core.configs_from_flags(self.cli_flags())))
        if self.sharding is None:  # the CLI chose: keep its choice, so that the field says what runs
            object.__setattr__(self, "sharding", self.to_dicts()[0]["sharding"])

    def cli_flags(self, command: str = "schedule") -> list[str]:
        """The `ringlab COMMAND` flags of this configuration (for "sim" and "sweep" the Ulysses placement is
        --ulysses-placement)."""
        return cli_flags({f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, command)

    def schedules(self) -> tuple[Any, ...]:
        """One validated C++ ScheduleConfig per (method, pass) selected, allgather before alltoall, forward first."""
        return self._schedules  # type: ignore[attr-defined]

    def replace(self, **changes: Any) -> "Config":
        """A copy with some fields changed (validated again); accepts `pass` for `pass_`."""
        if "pass" in changes:
            changes["pass_"] = changes.pop("pass")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Config":
        """From keyword names, accepting `pass` and `kv-heads` spellings."""
        kw = {k.replace("-", "_"): v for k, v in d.items()}
        if "pass" in kw:
            kw["pass_"] = kw.pop("pass")
        return cls(**kw)

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> "Config":
        """The configuration a trace or summary was made with: its `ringlab` metadata or `config` object
        (core/config_json.h: problem, world, method, sharding, pass, variants, ulysses, ring, placement)."""
        p = meta["problem"]
        v = meta.get("variants", {})
        return cls(world=meta["world"], batch=p["batch"], heads=p["heads"], kv_heads=p["kv_heads"],
                   dim=p["head_dim"], seq=p["seq"], causal=p["causal"], dtype=p["dtype"], method=meta["method"],
                   sharding=meta["sharding"], pass_=meta["pass"], unfused_merge=not v.get("fused_merge", True),
                   pack_kv=v.get("pack_kv", False), ulysses=meta.get("ulysses", 1),
                   placement=meta.get("placement", "consecutive"))

    def to_dicts(self) -> list[dict[str, Any]]:
        """Each selected schedule's config as core's JSON object (the `config` of traces and summaries)."""
        return [json.loads(s.to_json()) for s in self.schedules()]


FIELDS = tuple(f.name for f in dataclasses.fields(Config))
