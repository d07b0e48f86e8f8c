"""The only networks a checkpoint may ask us to build, with plain keyword arguments only.

A checkpoint's ``vsr_model`` is attacker-controlled once a file comes from elsewhere (``enhance --stage1``,
a planted ``final.ckpt`` in a shared runs folder). Handing it to ``hydra.utils.instantiate`` would let its
``_target_`` walk module attributes to any function (``vsr_lightning.models.checkpoints.os.system``) and
undo the safety of ``torch.load(weights_only=True)``. So a target is looked up in an exact table of
classes, every argument must be a named constructor parameter holding a plain value, and the class is
called directly. Every refusal is a one-line ``ValueError`` naming the file and the key.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.swinir import SwinIR

NETWORKS: dict[str, type[nn.Module]] = {
    "vsr_lightning.models.basicvsr_pp.BasicVSRPlusPlus": BasicVSRPlusPlus,
    "vsr_lightning.models.swinir.SwinIR": SwinIR,
}
"""Exact ``_target_`` strings of ``conf/model/*.yaml``; SPyNet is only ever built inside BasicVSR++."""

IGNORED_KEYS = frozenset({"_convert_"})
"""Hydra's conversion hint (``conf/model/swinir*.yaml``): meaningless for a direct call, so harmless."""

DROPPED_ARGS = frozenset({"spynet_path"})
"""Checked like any argument, then not passed: the checkpoint holds the flow weights already, and the
SPyNet file named at training time may not exist where inference runs."""

_SCALARS = (bool, int, float, str, type(None))


def _fail(path: str | Path, message: str) -> ValueError:
    return ValueError(f"checkpoint {path}: model config {message}")


def _plain(value: Any) -> bool:
    """int, float, str, bool, None, or a flat list/tuple of those (SwinIR's ``depths``)."""
    if isinstance(value, _SCALARS):
        return True
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return all(isinstance(v, _SCALARS) for v in value)
    return False


def _kind(value: Any) -> str:
    """``dict``, or ``list holding dict``: what a refused value is, for the error line."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        bad = next((v for v in value if not isinstance(v, _SCALARS)), None)
        return f"{type(value).__name__} holding {type(bad).__name__}"
    return type(value).__name__


def network_class(config: Mapping[str, Any], path: str | Path) -> type[nn.Module]:
    """The allowed class ``config['_target_']`` names exactly; anything else is refused."""
    if "_target_" not in config:
        raise _fail(path, "has no '_target_'")
    target = config["_target_"]
    cls = NETWORKS.get(target) if isinstance(target, str) else None
    if cls is None:
        raise _fail(path, f"key '_target_': {target!r} is not an allowed network (allowed: {', '.join(NETWORKS)})")
    return cls


def network_kwargs(cls: type[nn.Module], config: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """Checked constructor arguments of ``config`` for ``cls`` (lists as lists, dropped keys removed)."""
    params = {
        name
        for name, p in inspect.signature(cls).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    kwargs: dict[str, Any] = {}
    for key, value in config.items():
        if key == "_target_" or key in IGNORED_KEYS:
            continue
        if not isinstance(key, str) or key not in params:
            raise _fail(path, f"key {key!r}: not a parameter of {cls.__name__}")
        if not _plain(value):
            raise _fail(
                path, f"key {key!r}: must be an int, float, str, bool, None or a list of those, got {_kind(value)}"
            )
        if key not in DROPPED_ARGS:
            kwargs[key] = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value
    return kwargs


def build_network(config: Mapping[str, Any], path: str | Path = "<config>") -> nn.Module:
    """Build an allowed network from a config read from a file, calling the class directly."""
    if not isinstance(config, Mapping):
        raise _fail(path, f"must be a mapping, got {type(config).__name__}")
    cls = network_class(config, path)
    return construct(cls, network_kwargs(cls, config, path), path)


MAX_PARAMETERS = 500_000_000
"""2 GB of float32 weights, far above any published restoration network (BasicVSR++ has 7.3 M): a config
asking for more (``mid_channels: 100000``) is refused before any memory is allocated."""


def construct(cls: type[nn.Module], kwargs: Mapping[str, Any], path: str | Path) -> nn.Module:
    """Call an allowed class with checked arguments; its own argument errors name the file too.

    The network is built on the ``meta`` device first (no memory), so a config that would exhaust the
    machine's memory gets a one-line refusal instead of the out-of-memory killer."""
    try:
        with torch.device("meta"):
            size = sum(p.numel() for p in cls(**kwargs).parameters())
        if size > MAX_PARAMETERS:
            raise _fail(
                path,
                f"asks for a {cls.__name__} with {size / 1e6:,.0f} M parameters "
                f"(more than {MAX_PARAMETERS / 1e6:,.0f} M: not a network this project runs)",
            )
        return cls(**kwargs)
    except (TypeError, ValueError, NotImplementedError, RuntimeError) as exc:
        if str(exc).startswith(f"checkpoint {path}:"):
            raise
        raise _fail(path, f"cannot build {cls.__name__} ({exc})") from None
