"""BasicVSR++ weights from files: sizes read from an official file, and a trunk that differs in depth.

Next to :mod:`~vsr_lightning.models.basicvsr_pp`, as torchvision keeps weight conversion next to the network;
the one loading door (:mod:`~vsr_lightning.models.loading`) calls these and knows nothing of BasicVSR++'s keys.
Every failure is a ``ValueError`` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus

OFFICIAL_DEFAULTS: dict[str, Any] = {"mid_channels": 64, "num_blocks": 7}
"""Sizes of the official BasicVSR++ release that no key reveals."""

_RECON_BLOCK = re.compile(r"^reconstruction\.main\.2\.(\d+)\.")
_BACKBONE_BLOCK = re.compile(r"^backbone\.backward_1\.main\.2\.(\d+)\.")


def _count(pattern: re.Pattern[str], keys: Any) -> int:
    found = {int(m.group(1)) for k in keys if (m := pattern.match(k))}
    return max(found) + 1 if found else 0


def reconstruction_depth(sd: Mapping[str, Tensor]) -> int:
    """Reconstruction-trunk blocks a state dict holds (0: none, or not a BasicVSR++)."""
    return _count(_RECON_BLOCK, sd)


def infer_basicvsr_pp_config(sd: Mapping[str, Tensor], path: str | Path = "<memory>") -> dict[str, Any]:
    """BasicVSR++ sizes read from a state dict in our key names (after
    :func:`~vsr_lightning.models.checkpoints.convert_state_dict`)."""
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
    recon = reconstruction_depth(sd)
    if blocks:
        config["num_blocks"] = blocks
    if recon:
        config["num_reconstruction_blocks"] = recon
    return config


def official_config(sd: Mapping[str, Tensor], path: str | Path = "<memory>") -> dict[str, Any]:
    """The sizes of the network an official file holds: the release's defaults, then what its keys say."""
    return {**OFFICIAL_DEFAULTS, **infer_basicvsr_pp_config(sd, path)}


def match_reconstruction_depth(net: nn.Module, sd: Mapping[str, Tensor]) -> None:
    """Grow a freshly built BasicVSR++ to the checkpoint's trunk depth (other networks are left alone).

    Progressive training deepens the trunk (5 -> 15 -> ... -> 55) after the config was written, so a
    checkpoint may hold more reconstruction blocks than its ``vsr_model`` says.
    """
    want = reconstruction_depth(sd)
    if isinstance(net, BasicVSRPlusPlus) and want > net.num_reconstruction_blocks:
        net.grow(want - net.num_reconstruction_blocks)


def fill_identity_blocks(net: nn.Module, sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Weights for the trunk blocks a smaller file lacks, each an exact identity (zero second conv, the
    net's own first conv): the start of a progressive-growth step. Other networks get ``sd`` unchanged."""
    in_file = reconstruction_depth(sd)
    if not isinstance(net, BasicVSRPlusPlus) or in_file == 0 or in_file >= net.num_reconstruction_blocks:
        return dict(sd)
    own = net.state_dict()
    out = dict(sd)
    for i in range(in_file, net.num_reconstruction_blocks):
        prefix = f"reconstruction.main.2.{i}."
        for key, value in own.items():
            if key.startswith(prefix):
                out[key] = value.detach().clone() if ".conv1." in key else value.detach().new_zeros(value.shape)
    return out
