"""Run a video model over one whole video: duplicate-aware, in bounded-memory chunks, optionally with TTA.

Used by validation, testing, stage-one output caching and the ``enhance`` command alike, so every
path enhances videos the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from vsr_lightning.data.duplicates import expand_unique, unique_indices
from vsr_lightning.models.chunked_inference import enhance_video_chunked
from vsr_lightning.models.tta import tta_x8

VideoModel = Callable[..., Tensor]
"""``model(lq (N,T,3,H,W), pqf=(N,T) bools) -> (N,T,3,H,W)``."""


@dataclass
class EnhanceOptions:
    """How a whole video is enhanced at evaluation time."""

    chunk: int = 64
    """Frames per temporal chunk (bounded memory); a chunk covering the video equals no chunking."""
    chunk_overlap: int = 4
    tile: int | None = None
    """Spatial tile size for frames too large for the device (None: whole frames)."""
    tile_overlap: int = 16
    tta: bool = False
    """x8 flips/transposition averaged (x16 with ``temporal_tta``)."""
    temporal_tta: bool = False
    dedup: bool = False
    """Enhance unique frames only and copy results back to duplicates."""
    multiple: int = 4
    """Tiles are rounded to this multiple (4 for BasicVSR++, the window size for SwinIR)."""


def enhance_video(
    model: VideoModel,
    lq: Tensor,
    pqf: Tensor | None = None,
    duplicates: Sequence[int] = (),
    options: EnhanceOptions | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Enhance ``lq`` ``(T, 3, H, W)`` (CPU) and return ``(T, 3, H, W)`` float32 on the CPU."""
    options = options or EnhanceOptions()
    n = lq.shape[0]
    keep = unique_indices(n, duplicates) if options.dedup and duplicates else list(range(n))
    frames = lq[keep] if len(keep) < n else lq
    flags = pqf[keep] if pqf is not None and len(keep) < n else pqf

    def run(x: Tensor, pqf: Tensor | None = None) -> Tensor:
        if options.tta:
            return tta_x8(model, x, temporal_reversal=options.temporal_tta, pqf=pqf)
        return model(x, pqf=pqf)

    with torch.inference_mode():
        out = enhance_video_chunked(
            run,
            frames,
            chunk=options.chunk,
            overlap=options.chunk_overlap,
            tile=options.tile,
            tile_overlap=options.tile_overlap,
            device=device,
            pqf=flags,
            multiple=options.multiple,
        )
    if len(keep) < n:
        out = expand_unique(out, n, duplicates)
    return out
