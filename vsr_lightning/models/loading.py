"""The one door through which networks and weights come from files: ours, or the official releases.

Inference (``python -m vsr_lightning.enhance``), progressive growth and stage-two transfer learning all
start from a file that is either

* one of our Lightning checkpoints (:mod:`~vsr_lightning.systems.lightning_checkpoint`: the weights, the
  network's config, the stage that wrote it); or
* an official BasicVSR++ file (MMagic/MMEditing or BasicSR layout) for stage one, or an official
  SwinIR ``{'params': ...}`` file for stage two. These carry no config, so the architecture is read
  from key names and tensor shapes, by the conversion next to each network
  (:mod:`~vsr_lightning.models.basicvsr_pp_weights`, :mod:`~vsr_lightning.models.swinir_weights`).

Files are read with ``torch.load(weights_only=True)`` (:func:`~vsr_lightning.models.checkpoints.read_checkpoint`)
and networks are built only through the exact allowlist of :mod:`~vsr_lightning.systems.network_allowlist`
(never ``hydra.utils.instantiate``: a config read from a file is untrusted); every failure is a
``ValueError`` naming the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from vsr_lightning.models import basicvsr_pp_weights
from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.checkpoints import check_and_load, convert_state_dict, extract_state_dict, read_checkpoint
from vsr_lightning.models.swinir import SwinIR
from vsr_lightning.models.swinir_weights import infer_swinir_config
from vsr_lightning.systems.lightning_checkpoint import (
    Kind,
    check_job_type,
    check_kind,
    is_lightning_checkpoint,
    lightning_state_dict,
    network_config,
)
from vsr_lightning.systems.network_allowlist import build_network, construct, network_kwargs

OFFICIAL: dict[str, tuple[type[nn.Module], Callable[[Mapping[str, Tensor], str | Path], dict[str, Any]]]] = {
    "stage1": (BasicVSRPlusPlus, basicvsr_pp_weights.official_config),
    "stage2": (SwinIR, infer_swinir_config),
}
"""The network an official file of each stage holds, and how its sizes are read from the file."""


def _merge(inferred: dict[str, Any], model_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """User-given sizes win over inferred ones (and decide e.g. ``propagation``, which no key reveals)."""
    return {**inferred, **{k: v for k, v in (model_config or {}).items() if k != "_target_"}}


def _build(config: Mapping[str, Any], sd: Mapping[str, Tensor], path: str | Path) -> nn.Module:
    """An allowed network from a config, grown to the file's trunk depth where the file's is deeper."""
    net = build_network(config, path)
    basicvsr_pp_weights.match_reconstruction_depth(net, sd)
    return net


def _build_official(
    kind: Kind, sd: Mapping[str, Tensor], model_config: Mapping[str, Any] | None, path: str | Path
) -> nn.Module:
    if model_config and "_target_" in model_config:
        return _build(model_config, sd, path)
    builder, infer = OFFICIAL[kind]
    config = _merge(infer(sd, path), model_config)
    return construct(builder, network_kwargs(builder, config, path), path)


def load_network(
    path: str | Path,
    kind: Kind,
    model_config: Mapping[str, Any] | None = None,
    prefer_ema: bool = True,
) -> nn.Module:
    """Build the network a checkpoint describes and load its weights strictly; returned in eval mode.

    Args:
        path: one of our Lightning checkpoints, or an official BasicVSR++ (stage1) / SwinIR (stage2) file,
            or a zoo name (``zoo:stage1-embedded``).
        kind: which stage the network serves; our checkpoints written by the other stage are refused.
        model_config: overrides the architecture: a Hydra config (with ``_target_``) replaces it, plain
            keyword arguments override the sizes inferred from an official file (e.g.
            ``{"propagation": "pqf"}``).
        prefer_ema: load the EMA weights (ours: ``ema.module.*``; BasicSR: ``params_ema``) when present.
    """
    check_kind(kind)
    obj = read_checkpoint(path)
    if is_lightning_checkpoint(obj):
        check_job_type(obj, kind, path)
        sd = lightning_state_dict(obj, path, prefer_ema)
        net = _build(network_config(obj, model_config, path), sd, path)
        check_and_load(net, convert_state_dict(sd, "auto"), path, strict=True)
        return net.eval()
    sd, _layout = extract_state_dict(obj, path, prefer_ema)
    sd = convert_state_dict(sd, "auto")
    if not sd:
        raise ValueError(f"checkpoint {path}: holds no weights")
    net = _build_official(kind, sd, model_config, path)
    check_and_load(net, sd, path, strict=True)
    return net.eval()


def load_network_weights_into(
    net: nn.Module, path: str | Path, prefer_ema: bool = True, grow_from_smaller: bool = False
) -> str:
    """Load a checkpoint's weights into an already built network; returns the detected layout.

    Layouts: ``"lightning"`` (ours), ``"mmagic"``, ``"basicsr"``, ``"plain"``. Loading is strict, except
    that with ``grow_from_smaller`` a BasicVSR++ whose reconstruction trunk is deeper than the file's
    takes the file's blocks and turns its extra blocks into exact identities: the start of a
    progressive-growth step (5 -> 15 blocks) from the previous step's checkpoint.
    """
    obj = read_checkpoint(path)
    if is_lightning_checkpoint(obj):
        sd, layout = lightning_state_dict(obj, path, prefer_ema), "lightning"
    else:
        sd, layout = extract_state_dict(obj, path, prefer_ema)
    sd = convert_state_dict(sd, "auto")
    if grow_from_smaller:
        sd = basicvsr_pp_weights.fill_identity_blocks(net, sd)
    check_and_load(net, sd, path, strict=True)
    return layout
