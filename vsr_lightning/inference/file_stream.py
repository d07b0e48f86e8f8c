"""A video stream through both stages: duplicates found on the fly, stage one on the temporal scheduler,
stage two on each final 8-bit stage-one frame, copied back in input order into a sink (``enhance``).

Memory is set by the chunk, not by the video's length; stage two sees 8-bit stage-one frames, as in its
training data.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from vsr_lightning.data.duplicates import DuplicateDetector
from vsr_lightning.data.errors import DataError
from vsr_lightning.data.video_io import VideoReader
from vsr_lightning.inference.copy_back import CopyBack
from vsr_lightning.inference.frames import to_tensor, to_uint8, unit_float
from vsr_lightning.inference.memory_plan import MemoryPlan, choose_tiles, default_budget_gib, plan_memory
from vsr_lightning.inference.precision import under_autocast
from vsr_lightning.inference.protocol import InferenceNetwork
from vsr_lightning.inference.reference import Reference
from vsr_lightning.inference.sinks import FileSink
from vsr_lightning.inference.temporal_scheduler import TemporalScheduler
from vsr_lightning.inference.tiling import enhance_tiles, framewise
from vsr_lightning.inference.tta import augmented


@dataclass
class StreamOptions:
    """How a stream is enhanced (the ``enhance`` options of the same names)."""

    chunk: int = 32
    overlap: int = 4
    tile: int | str | None = "auto"
    """An integer size for both stages, None (whole frames) or 'auto' (planned from ``max_memory_gib``)."""
    tile_overlap: int = 16
    max_memory_gib: float | None = None
    """None: :func:`default_budget_gib`."""
    tta: bool = False
    temporal_tta: bool = False
    dedup: bool = True
    dup_threshold: float = 0.3
    """Mean absolute difference (0-255) under which a frame repeats its predecessor."""
    bf16: bool = False
    progress: bool = False


@dataclass
class EnhanceResult:
    """What one run did: counts, PSNR against the reference (RGB, crop 0, mean over frames), timings."""

    output: Path
    frames: int
    unique_frames: int
    psnr_in: float | None
    psnr_out: float | None
    seconds: float
    model_seconds: float
    tiles: str = "whole frames"
    """How each stage was tiled (the memory plan's choice with ``tile='auto'``)."""

    @property
    def gain(self) -> float | None:
        return None if self.psnr_in is None or self.psnr_out is None else self.psnr_out - self.psnr_in

    @property
    def dedup_saved_seconds(self) -> float:
        """Model time the skipped duplicates would have cost, at this run's model seconds per unique frame."""
        if self.unique_frames == 0:
            return 0.0
        return (self.frames - self.unique_frames) * self.model_seconds / self.unique_frames


class TwoStageStream:
    """Stage one over the scheduler's chunks, stage two frame by frame, outputs written in input order."""

    def __init__(
        self,
        net1: InferenceNetwork,
        net2: InferenceNetwork | None,
        tiles: tuple[int | None, int | None],
        options: StreamOptions,
        device: torch.device,
        write: Callable[[np.ndarray], None],
    ) -> None:
        self.device, self.tile_overlap, self.tiles = device, options.tile_overlap, tiles
        self.net1, self.net2 = net1, net2
        self.stage1 = under_autocast(augmented(net1, options.tta, options.temporal_tta), device, options.bf16)
        self.stage2 = None if net2 is None else under_autocast(augmented(net2, options.tta), device, options.bf16)
        self.copy_back: CopyBack[np.ndarray] = CopyBack(write)
        self.scheduler = TemporalScheduler(self._stage_one, options.chunk, options.overlap, self._stage_two)
        self.stage2_seconds = 0.0

    def push(self, frame: np.ndarray, pqf: bool, duplicate: bool) -> None:
        """The next input frame; a duplicate of its predecessor is not enhanced again, only written again."""
        if not duplicate:
            self.scheduler.push(torch.from_numpy(frame).permute(2, 0, 1), pqf)
        self.copy_back.expect(self.scheduler.received - 1)

    def finish(self) -> None:
        self.scheduler.finish()

    @property
    def model_seconds(self) -> float:
        return self.scheduler.model_seconds + self.stage2_seconds

    def _stage_one(self, frames: Tensor, flags: Tensor | None) -> Tensor:
        def on_float(x: Tensor, pqf: Tensor | None = None) -> Tensor:  # per tile: the chunk stays 8-bit, 1/4 the size
            return self.stage1(unit_float(x), pqf=pqf)

        tile, multiple = self.tiles[0], self.net1.size_multiple
        return enhance_tiles(on_float, frames, tile, self.tile_overlap, self.device, flags, multiple)

    def _stage_two(self, position: int, stage1: Tensor) -> None:
        out = to_uint8(stage1)
        if self.stage2 is not None and self.net2 is not None:
            x = to_tensor([out])  # stage two sees 8-bit stage-one frames, as in its training data
            t0 = time.perf_counter()
            fn, tile, multiple = framewise(self.stage2, batch=1), self.tiles[1], self.net2.size_multiple
            y = enhance_tiles(fn, x, tile, self.tile_overlap, self.device, None, multiple)
            self.stage2_seconds += time.perf_counter() - t0
            out = to_uint8(y[0])
        self.copy_back.offer(position, out)


def plan_tiles(
    net1: InferenceNetwork,
    net2: InferenceNetwork | None,
    reader: VideoReader,
    options: StreamOptions,
    device: torch.device,
) -> tuple[int | None, int | None, str]:
    """Each stage's tile (``options.tile``; 'auto' plans them, printing the plan with ``progress``)."""
    n, chunk = len(reader), options.chunk

    def plan() -> MemoryPlan:
        budget = options.max_memory_gib if options.max_memory_gib is not None else default_budget_gib(device)
        width, height = reader.info.width, reader.info.height
        overlap = min(options.overlap, chunk - 1)
        return plan_memory(net1, net2, width, height, min(chunk, n), overlap, budget, options.tta, device)

    tile1, tile2, tiles, planned = choose_tiles(options.tile, plan)
    if planned and options.progress:
        print(tiles, file=sys.stderr)
    return tile1, tile2, tiles


def enhance_stream(
    reader: VideoReader,
    flags: list[bool],
    nets: tuple[InferenceNetwork, InferenceNetwork | None],
    sink: FileSink,
    references: tuple[Reference | None, Reference | None],
    options: StreamOptions,
    device: torch.device,
    started: float,
) -> EnhanceResult:
    """Enhance every frame of ``reader`` into ``sink`` and commit it; ``references`` score input and output.

    ``started``: when the run began (``perf_counter``), for the result's total seconds.
    """
    n = len(reader)
    ref_in, ref_out = references
    tile1, tile2, tiles = plan_tiles(*nets, reader, options, device)
    detector = DuplicateDetector(options.dup_threshold)
    bar = tqdm(total=n, unit="frame", desc=f"enhance {reader.path.name}", disable=not options.progress)

    def write(frame: np.ndarray) -> None:
        sink.write(frame)
        if ref_out is not None:
            ref_out.score(frame)
        bar.update(1)

    stream = TwoStageStream(*nets, (tile1, tile2), options, device, write)
    try:
        with torch.inference_mode():
            for t, frame in enumerate(_scored(reader, ref_in)):
                stream.push(frame, flags[t], options.dedup and detector.update(frame))
            stream.finish()
        if sink.count != n:
            raise DataError(reader.path, f"wrote {sink.count} frames but the input has {n}")
        sink.commit()
    finally:
        bar.close()
    psnr_in, psnr_out = (ref.mean() if ref else None for ref in references)
    seconds = time.perf_counter() - started
    return EnhanceResult(
        sink.staged.target, n, stream.scheduler.received, psnr_in, psnr_out, seconds, stream.model_seconds, tiles
    )


def _scored(frames: Iterable[np.ndarray], reference: Reference | None) -> Iterable[np.ndarray]:
    """``frames``, each scored against ``reference`` as it is read."""
    for frame in frames:
        if reference is not None:
            reference.score(frame)
        yield frame
