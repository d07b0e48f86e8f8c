"""Load a ready-to-run network from any checkpoint the project meets: ours, or the official releases.

Inference (``python -m vsr_lightning.enhance``), progressive growth and stage-two transfer learning all
start from a file that is either

* one of our Lightning checkpoints: ``state_dict`` holds ``net.<key>`` (and ``ema.module.<key>`` plus
  ``ema.n_averaged`` when EMA is on), ``vsr_model`` holds the network's Hydra config and
  ``vsr_job_type`` says which stage wrote it; or
* an official BasicVSR++ file (MMagic/MMEditing or BasicSR layout) for stage one, or an official
  SwinIR ``{'params': ...}`` file for stage two. These carry no config, so the architecture is read
  from key names and tensor shapes.

Files are read with ``torch.load(weights_only=True)`` and networks are built only through the exact
allowlist of :mod:`~vsr_lightning.systems.network_allowlist` (never ``hydra.utils.instantiate``: a config
read from a file is untrusted); every failure is a ``ValueError`` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from torch import Tensor, nn

from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.checkpoints import (
    check_and_load,
    convert_state_dict,
    extract_state_dict,
    read_checkpoint,
)
from vsr_lightning.systems.network_allowlist import build_network, construct, network_kwargs

Kind = Literal["stage1", "stage2"]

NET_PREFIX = "net."
EMA_PREFIX = "ema.module."
JOB_TYPES: dict[str, tuple[str, ...]] = {"stage1": ("stage1",), "stage2": ("stage2", "pretrain")}
"""Which ``vsr_job_type`` values each stage accepts (a denoising pre-training is a valid stage-two start)."""

_RECON_BLOCK = re.compile(r"^reconstruction\.main\.2\.(\d+)\.")
_BACKBONE_BLOCK = re.compile(r"^backbone\.backward_1\.main\.2\.(\d+)\.")
_SWIN_BLOCK = re.compile(r"^layers\.(\d+)\.residual_group\.blocks\.(\d+)\.")


# --------------------------------------------------------------------------------------- our format
def is_lightning_checkpoint(obj: Mapping[str, Any]) -> bool:
    """Ours when it carries ``vsr_model`` or its state dict holds ``net.*`` keys (a LightningModule's ``net``)."""
    if "vsr_model" in obj:
        return True
    sd = obj.get("state_dict")
    return isinstance(sd, Mapping) and any(str(k).startswith(NET_PREFIX) for k in sd)


def lightning_state_dict(obj: Mapping[str, Any], path: str | Path, prefer_ema: bool = True) -> dict[str, Tensor]:
    """The network's weights of one of our checkpoints: the EMA copy when present and preferred."""
    sd = obj.get("state_dict")
    if not isinstance(sd, Mapping):
        raise ValueError(f"checkpoint {path}: has 'vsr_model' but no 'state_dict' with the network's weights")
    net = {k[len(NET_PREFIX) :]: v for k, v in sd.items() if k.startswith(NET_PREFIX)}
    ema = {k[len(EMA_PREFIX) :]: v for k, v in sd.items() if k.startswith(EMA_PREFIX)}
    chosen = ema if (prefer_ema and ema) or not net else net
    if not chosen:
        raise ValueError(f"checkpoint {path}: state_dict holds no 'net.*' or 'ema.module.*' weights")
    bad = [k for k, v in chosen.items() if not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f"checkpoint {path}: non-tensor network entries {bad[:5]}")
    return chosen


def _count(pattern: re.Pattern[str], keys: Any) -> int:
    found = {int(m.group(1)) for k in keys if (m := pattern.match(k))}
    return max(found) + 1 if found else 0


def _match_reconstruction_depth(net: nn.Module, sd: Mapping[str, Tensor], path: str | Path) -> None:
    """Grow a freshly built BasicVSR++ to the checkpoint's trunk depth.

    Progressive training deepens the trunk (5 -> 15 -> ... -> 55) after the config was written, so a
    checkpoint may hold more reconstruction blocks than its ``vsr_model`` says.
    """
    want = _count(_RECON_BLOCK, sd)
    if isinstance(net, BasicVSRPlusPlus) and want > net.num_reconstruction_blocks:
        net.grow(want - net.num_reconstruction_blocks)


# --------------------------------------------------------------------------------------- official files
def infer_basicvsr_pp_config(sd: Mapping[str, Tensor], path: str | Path = "<memory>") -> dict[str, Any]:
    """BasicVSR++ sizes read from a state dict in our key names (after :func:`convert_state_dict`)."""
    if "feat_extract.0.weight" not in sd and "feat_extract.main.0.weight" in sd:
        raise ValueError(
            f"checkpoint {path}: a BasicVSR++ for x4 super-resolution (its feature extractor works at "
            "the input size, with no stride-2 convolutions); stage one enhances at the same size and "
            "needs a compressed-video BasicVSR++ (e.g. the NTIRE 2021 quality-enhancement model)"
        )
    try:
        mid = int(sd["feat_extract.0.weight"].shape[0])
        offset_out = int(sd["deform_align.backward_1.conv_offset.6.weight"].shape[0])
    except KeyError as exc:
        raise ValueError(f"checkpoint {path}: not a BasicVSR++ checkpoint (no {exc.args[0]!r})") from exc
    config: dict[str, Any] = {"mid_channels": mid, "deform_groups": offset_out // 27}
    if "conv_hr.weight" in sd:  # the full-resolution head: 64 wide in official files, narrower in ours
        config["hr_channels"] = int(sd["conv_hr.weight"].shape[0])
    blocks = _count(_BACKBONE_BLOCK, sd)
    recon = _count(_RECON_BLOCK, sd)
    if blocks:
        config["num_blocks"] = blocks
    if recon:
        config["num_reconstruction_blocks"] = recon
    return config


def infer_swinir_config(sd: Mapping[str, Tensor], path: str | Path = "<memory>") -> dict[str, Any]:
    """SwinIR sizes read from a released state dict: embed dim, depths, heads, window, MLP ratio, patch norm.

    ``img_size`` only sets the registered mask buffer, which loading replaces anyway; it is read from
    ``attn_mask`` when present so the model matches the file exactly.
    """
    if "conv_first.weight" not in sd or not any(_SWIN_BLOCK.match(k) for k in sd):
        raise ValueError(f"checkpoint {path}: not a SwinIR checkpoint (no conv_first / layers.*.blocks.* keys)")
    if any(k.startswith(("upsample.", "conv_before_upsample.", "conv_up1.")) for k in sd):
        raise ValueError(
            f"checkpoint {path}: SwinIR with an upsampler (super-resolution) is not supported; "
            "stage two needs a denoising / artifact-reduction SwinIR"
        )
    embed_dim, in_chans = (int(v) for v in sd["conv_first.weight"].shape[:2])
    depth_of: dict[int, int] = {}
    for key in sd:
        if m := _SWIN_BLOCK.match(key):
            layer, block = int(m.group(1)), int(m.group(2))
            depth_of[layer] = max(depth_of.get(layer, 0), block + 1)
    layers = sorted(depth_of)
    if layers != list(range(len(layers))):
        raise ValueError(f"checkpoint {path}: SwinIR layers are not numbered 0..n-1: {layers}")
    heads, window = [], 0
    for i in layers:
        table = sd[f"layers.{i}.residual_group.blocks.0.attn.relative_position_bias_table"]
        heads.append(int(table.shape[1]))
        window = round((int(table.shape[0]) ** 0.5 + 1) / 2)
    hidden = int(sd["layers.0.residual_group.blocks.0.mlp.fc1.weight"].shape[0])
    config: dict[str, Any] = {
        "in_chans": in_chans,
        "embed_dim": embed_dim,
        "depths": [depth_of[i] for i in layers],
        "num_heads": heads,
        "window_size": window,
        "mlp_ratio": hidden / embed_dim,
        "patch_norm": "patch_embed.norm.weight" in sd,
    }
    mask = sd.get("layers.0.residual_group.blocks.1.attn_mask")
    if isinstance(mask, Tensor) and mask.dim() == 3:
        side = round(int(mask.shape[0]) ** 0.5) * window
        if side > window:
            config["img_size"] = side
    return config


def _merge(inferred: dict[str, Any], model_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """User-given sizes win over inferred ones (and decide e.g. ``propagation``, which no key reveals)."""
    return {**inferred, **{k: v for k, v in (model_config or {}).items() if k != "_target_"}}


def _build_official(
    kind: Kind, sd: Mapping[str, Tensor], model_config: Mapping[str, Any] | None, path: str | Path
) -> nn.Module:
    from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
    from vsr_lightning.models.swinir import SwinIR

    if model_config and "_target_" in model_config:
        net = build_network(model_config, path)
        _match_reconstruction_depth(net, sd, path)
        return net
    builder: type[nn.Module]
    if kind == "stage1":
        defaults = {"mid_channels": 64, "num_blocks": 7}  # the official BasicVSR++ release
        builder, config = BasicVSRPlusPlus, _merge({**defaults, **infer_basicvsr_pp_config(sd, path)}, model_config)
    else:
        builder, config = SwinIR, _merge(infer_swinir_config(sd, path), model_config)
    return construct(builder, network_kwargs(builder, config, path), path)


# --------------------------------------------------------------------------------------- public API
def load_network(
    path: str | Path,
    kind: Kind,
    model_config: Mapping[str, Any] | None = None,
    prefer_ema: bool = True,
) -> nn.Module:
    """Build the network a checkpoint describes and load its weights strictly; returned in eval mode.

    Args:
        path: one of our Lightning checkpoints, or an official BasicVSR++ (stage1) / SwinIR (stage2) file.
        kind: which stage the network serves; our checkpoints written by the other stage are refused.
        model_config: overrides the architecture: a Hydra config (with ``_target_``) replaces it, plain
            keyword arguments override the sizes inferred from an official file (e.g.
            ``{"propagation": "pqf"}``).
        prefer_ema: load the EMA weights (ours: ``ema.module.*``; BasicSR: ``params_ema``) when present.
    """
    if kind not in JOB_TYPES:
        raise ValueError(f"kind must be 'stage1' or 'stage2', got {kind!r}")
    obj = read_checkpoint(path)
    if is_lightning_checkpoint(obj):
        job = obj.get("vsr_job_type")
        if job is not None and job not in JOB_TYPES[kind]:
            raise ValueError(
                f"checkpoint {path}: written by a {job!r} job, cannot serve as {kind} "
                f"(expected one of {JOB_TYPES[kind]})"
            )
        sd = lightning_state_dict(obj, path, prefer_ema)
        config = obj.get("vsr_model")
        if model_config is not None and "_target_" in model_config:
            config = model_config
        elif isinstance(config, Mapping) and model_config:
            config = {**config, **model_config}
        if not isinstance(config, Mapping):
            raise ValueError(f"checkpoint {path}: no 'vsr_model' config to rebuild the network from; pass model_config")
        net = build_network(config, path)
        _match_reconstruction_depth(net, sd, path)
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
        sd = _fill_identity_blocks(net, sd, path)
    check_and_load(net, sd, path, strict=True)
    return layout


def _fill_identity_blocks(net: nn.Module, sd: dict[str, Tensor], path: str | Path) -> dict[str, Tensor]:
    """Add identity-block weights for the trunk blocks the file lacks (zero second conv, net's first conv)."""
    in_file = _count(_RECON_BLOCK, sd)
    if not isinstance(net, BasicVSRPlusPlus) or in_file == 0 or in_file >= net.num_reconstruction_blocks:
        return sd
    have = net.num_reconstruction_blocks
    own = net.state_dict()
    out = dict(sd)
    for i in range(in_file, have):
        prefix = f"reconstruction.main.2.{i}."
        for key, value in own.items():
            if key.startswith(prefix):
                out[key] = value.detach().clone() if ".conv1." in key else value.detach().new_zeros(value.shape)
    return out
