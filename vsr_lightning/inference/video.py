"""One whole video in memory through the engine: validation, testing and stage-one output caching.

The frames go through the same scheduler, tiling, TTA and copy-back as the ``enhance`` command's stream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from vsr_lightning.data.duplicates import source_of_each_frame, unique_indices
from vsr_lightning.inference.copy_back import CopyBack
from vsr_lightning.inference.sinks import TensorSink
from vsr_lightning.inference.temporal_scheduler import TemporalScheduler
from vsr_lightning.inference.tiling import enhance_tiles
from vsr_lightning.inference.tta import augmented

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
    """Tiles are rounded to a multiple of this (at least the network's ``size_multiple``, see the systems)."""


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
    duplicates = duplicates if options.dedup else ()
    unique = len(unique_indices(n, duplicates))
    run = augmented(model, options.tta, options.temporal_tta)

    def enhance_chunk(frames: Tensor, flags: Tensor | None) -> Tensor:
        return enhance_tiles(run, frames, options.tile, options.tile_overlap, device, flags, options.multiple)

    sink = TensorSink(n)
    copy_back: CopyBack[Tensor] = CopyBack(sink.write)
    chunk = max(1, min(options.chunk, unique))
    overlap = options.chunk_overlap if chunk < unique else 0  # one chunk: no blending, the overlap is moot
    scheduler = TemporalScheduler(enhance_chunk, chunk, overlap, copy_back.offer)
    with torch.inference_mode():
        for t, position in enumerate(source_of_each_frame(n, duplicates)):
            if position == scheduler.received:  # a unique frame
                scheduler.push(lq[t], None if pqf is None else pqf[t])
            copy_back.expect(position)
        scheduler.finish()
    return sink.result()
