"""SwinIR weights from files: the sizes of a released ``{'params': ...}`` file, read from its keys and shapes.

Next to :mod:`~vsr_lightning.models.swinir`; the loading door (:mod:`~vsr_lightning.models.loading`) calls it.
Size-dependent buffers (``attn_mask``, ``relative_position_index``) always come from the model
(:func:`~vsr_lightning.models.checkpoints.check_and_load`), so weights saved at any patch size load.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor

_SWIN_BLOCK = re.compile(r"^layers\.(\d+)\.residual_group\.blocks\.(\d+)\.")


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
