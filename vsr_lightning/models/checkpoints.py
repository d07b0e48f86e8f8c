"""Checkpoint files and their layouts: reading one safely, pulling out its state dict, official key names
to ours and back, and a strict load that names the file. The loading door is :mod:`~vsr_lightning.models.loading`;
what is particular to one network sits next to it (``models/<network>_weights.py``).

Layouts handled (detected automatically):

* MMEditing/MMagic: ``{'state_dict': {'generator.<key>': ...}, ...}``. SPyNet convs sit in ConvModules, so
  ``spynet.basic_module.<i>.basic_module.<j>.conv.{weight,bias}`` with ``j`` in 0..4 maps to our ``j*2``;
  ``upsample1.upsample_conv`` / ``upsample2.upsample_conv`` (PixelShufflePack) map to ``upconv1`` / ``upconv2``.
* BasicSR: ``{'params': ..., 'params_ema': ...}`` with our key names (``params_ema`` preferred by default).
* A plain state dict (optionally with a DataParallel ``module.`` prefix).
* Standalone SPyNet weights in either layout, with or without a ``spynet.`` prefix.

Every failure raises ``ValueError`` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from vsr_lightning.zoo.registry import resolve_weights_path

Layout = Literal["auto", "mmagic", "basicsr", "plain"]

_MM_SPYNET = re.compile(r"(basic_module\.\d+\.basic_module\.)(\d+)\.conv\.(weight|bias)$")
_BSR_SPYNET = re.compile(r"(basic_module\.\d+\.basic_module\.)(\d+)\.(weight|bias)$")
_MM_RENAMES = (("upsample1.upsample_conv.", "upconv1."), ("upsample2.upsample_conv.", "upconv2."))
# Constant buffers some files omit: filled from the model when absent.
_CONSTANT_SUFFIXES = ("spynet.mean", "spynet.std", "mean", "std")
# Buffers derived from patch/window size: always taken from the model (the file's may be for another size).
_DERIVED_SUFFIXES = ("attn_mask", "relative_position_index")
_BLOCKED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def read_checkpoint(path: str | Path) -> Mapping[str, Any]:
    """torch.load with weights_only=True; any failure becomes a ValueError naming the file.

    ``path`` may be a zoo name (``zoo:spynet``): its shipped file, checked against the manifest's hash.
    """
    path = resolve_weights_path(path)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ValueError(f"checkpoint {path}: file not found") from exc
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        raise ValueError(f"checkpoint {path}: {_read_problem(exc)}") from exc
    if not isinstance(obj, Mapping):
        raise ValueError(f"checkpoint {path}: expected a dict, got {type(obj).__name__}")
    return obj


def _read_problem(exc: Exception) -> str:
    """One line for a failed ``torch.load``: the blocked global when the file carries pickled code."""
    text = str(exc)
    if blocked := _BLOCKED_GLOBAL.search(text):
        return (
            f"refused: it asks to load {blocked.group(1)} (pickled code or objects; only tensors and plain "
            "containers are read, weights_only=True)"
        )
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"cannot be read as a torch checkpoint ({type(exc).__name__}: {first[:200]})"


def extract_state_dict(
    obj: Mapping[str, Any], path: str | Path = "<memory>", prefer_ema: bool = True
) -> tuple[dict[str, Tensor], str]:
    """Pull the generator's tensors out of a checkpoint object; returns (state_dict, detected layout)."""
    if isinstance(obj.get("state_dict"), Mapping):
        sd = dict(obj["state_dict"])
        if any(k.startswith("generator.") for k in sd):
            sd = {k[len("generator.") :]: v for k, v in sd.items() if k.startswith("generator.")}
        layout = "mmagic"
    elif isinstance(obj.get("params_ema"), Mapping) or isinstance(obj.get("params"), Mapping):
        if prefer_ema and isinstance(obj.get("params_ema"), Mapping):
            sd = dict(obj["params_ema"])
        elif isinstance(obj.get("params"), Mapping):
            sd = dict(obj["params"])
        else:
            sd = dict(obj["params_ema"])
        layout = "basicsr"
    else:
        sd = dict(obj)
        layout = "plain"
    bad = [k for k, v in sd.items() if not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f"checkpoint {path}: not a state dict (non-tensor entries: {bad[:5]})")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    if any(_MM_SPYNET.search(k) for k in sd) or any(k.startswith(("upsample1.", "upsample2.")) for k in sd):
        layout = "mmagic"
    return sd, layout


def convert_state_dict(sd: Mapping[str, Tensor], source: Layout = "auto") -> dict[str, Tensor]:
    """Rename official keys to ours. ``auto`` converts MMagic-specific names wherever they appear."""
    if source in ("basicsr", "plain"):
        return dict(sd)
    out: dict[str, Tensor] = {}
    for key, value in sd.items():
        new = _MM_SPYNET.sub(lambda m: f"{m.group(1)}{int(m.group(2)) * 2}.{m.group(3)}", key)
        for old_prefix, new_prefix in _MM_RENAMES:
            if new.startswith(old_prefix):
                new = new_prefix + new[len(old_prefix) :]
        out[new] = value
    return out


def to_basicsr_state_dict(model: nn.Module, with_ema: bool = True) -> dict[str, dict[str, Tensor]]:
    """Our keys are BasicSR's keys: the layout is ``{'params': sd}`` (plus an identical ``params_ema``)."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = {"params": sd}
    if with_ema:
        out["params_ema"] = {k: v.clone() for k, v in sd.items()}
    return out


def to_mmagic_state_dict(model: nn.Module) -> dict[str, dict[str, Tensor]]:
    """Inverse of :func:`convert_state_dict` for MMagic: ``generator.`` prefix, ConvModule SPyNet indices
    (our 0,2,4,6,8 -> 0..4 with ``.conv``), ``upconv{1,2}`` -> ``upsample{1,2}.upsample_conv``."""
    out: dict[str, Tensor] = {}
    for key, value in model.state_dict().items():
        new = _BSR_SPYNET.sub(lambda m: f"{m.group(1)}{int(m.group(2)) // 2}.conv.{m.group(3)}", key)
        for mm_prefix, our_prefix in _MM_RENAMES:
            if new.startswith(our_prefix):
                new = mm_prefix + new[len(our_prefix) :]
        out["generator." + new] = value.detach().clone()
    return {"meta": {}, "state_dict": out}


def _fmt(keys: list[str], limit: int = 15) -> str:
    shown = "\n".join(f"    {k}" for k in keys[:limit])
    more = f"\n    ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return shown + more


def check_and_load(model: nn.Module, sd: Mapping[str, Tensor], path: str | Path, strict: bool = True) -> None:
    """Compare keys and shapes with the model, raise a readable ValueError naming ``path``, then load.

    SPyNet mean/std are filled from the model when absent; Swin masks/index tables always come from the
    model, so checkpoints saved at other patch sizes load. Derived keys the model lacks are ignored.
    """
    own = model.state_dict()
    sd = dict(sd)
    for key, value in own.items():
        if key.endswith(_DERIVED_SUFFIXES) or (key.endswith(_CONSTANT_SUFFIXES) and key not in sd):
            sd[key] = value
    sd = {k: v for k, v in sd.items() if k in own or not k.endswith(_DERIVED_SUFFIXES)}
    missing = sorted(k for k in own if k not in sd)
    unexpected = sorted(k for k in sd if k not in own)
    shapes = sorted(
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in sd and sd[k].shape != own[k].shape
    )
    problems = []
    if strict and missing:
        problems.append(f"  missing keys ({len(missing)}):\n{_fmt(missing)}")
    if strict and unexpected:
        problems.append(f"  unexpected keys ({len(unexpected)}):\n{_fmt(unexpected)}")
    if shapes:
        problems.append(f"  shape mismatches ({len(shapes)}):\n{_fmt(shapes)}")
    if problems:
        raise ValueError(f"checkpoint {path} does not match {type(model).__name__}:\n" + "\n".join(problems))
    model.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=strict)
