"""SPyNet weights from files: a zoo entry, a standalone file in either layout, or the flow part of a whole
BasicVSR++ checkpoint. Next to :mod:`~vsr_lightning.models.spynet`, which loads through it (``load_path``)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from vsr_lightning.models.checkpoints import check_and_load, convert_state_dict, extract_state_dict, read_checkpoint


def load_spynet_weights(spynet: nn.Module, path: str | Path, prefer_ema: bool = True) -> str:
    """Load SPyNet weights: a zoo name (``zoo:spynet``), standalone files or the ``spynet.*`` part of a full
    BasicVSR++ checkpoint; returns the detected layout."""
    sd, layout = extract_state_dict(read_checkpoint(path), path, prefer_ema)
    if any(k.startswith("spynet.") for k in sd):
        sd = {k[len("spynet.") :]: v for k, v in sd.items() if k.startswith("spynet.")}
    check_and_load(spynet, convert_state_dict(sd, "auto"), path, strict=True)
    return layout
