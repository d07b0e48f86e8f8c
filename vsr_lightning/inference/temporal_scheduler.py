"""The one temporal scheduler: overlapping, linearly blended chunks over a stream of (unique) frames.

Validation, stage-one output caching and the ``enhance`` command all push their frames through it, so a
whole clip in memory and a stream of any length are cut into the same chunks and blended alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor

from vsr_lightning.inference.memory_plan import release_freed_memory
from vsr_lightning.inference.tiling import blend_weights

ChunkFn = Callable[[Tensor, Tensor | None], Tensor]
"""``fn(frames (T,C,H,W), pqf (T,) or None) -> (T,C',H,W)`` float32 on the CPU: one chunk (tiles inside)."""


class TemporalScheduler:
    """Runs ``enhance_chunk`` on end-aligned overlapping chunks of the frames pushed, emitting final frames.

    Chunk starts over the U frames are 0, s, 2s, ... (s = chunk - overlap) while a chunk ends before U,
    then U - chunk, blended by :func:`blend_weights` (a chunk covering U frames is the model output itself).
    The chunk at ``start`` runs once ``start + s + chunk`` frames have arrived: it is then surely not the
    last. Each chunk, the end-aligned last one too, takes over only where its predecessor ramps down, so
    frames below the next start are final as soon as a chunk has run and are handed to ``emit(position,
    frame)`` at once. Memory: up to ``chunk + s`` input frames, one chunk of float outputs while it runs, and
    ``overlap`` float frames carried to the next.
    """

    def __init__(self, enhance_chunk: ChunkFn, chunk: int, overlap: int, emit: Callable[[int, Tensor], None]):
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        if not 0 <= overlap < chunk:
            raise ValueError(f"overlap ({overlap}) must be in [0, chunk={chunk})")
        self.enhance_chunk, self.emit = enhance_chunk, emit
        self.chunk, self.overlap, self.stride = chunk, overlap, chunk - overlap
        self.inputs: dict[int, Tensor] = {}
        self.flags: dict[int, Tensor | None] = {}
        self.acc: dict[int, Tensor] = {}
        self.weight: dict[int, Tensor] = {}
        self.received = 0
        self.next_start = 0
        self.windows_run = 0
        self.finalized_upto = 0
        self.model_seconds = 0.0
        """Time spent in ``enhance_chunk``."""

    def push(self, frame: Tensor, pqf: Tensor | bool | None = None) -> None:
        """Add the next frame (C,H,W) and its PQF flag; runs every chunk that is now known not to be the last."""
        self.inputs[self.received] = frame
        self.flags[self.received] = None if pqf is None else torch.as_tensor(pqf)
        self.received += 1
        while self.next_start + self.stride + self.chunk <= self.received:
            self._run_regular()

    def finish(self) -> None:
        """Run the chunks left (the last one end-aligned) and emit everything."""
        if self.received == 0:
            return
        while self.next_start + self.chunk < self.received:
            self._run_regular()
        if self.windows_run == 0:
            self._run_window(0, self.received, blend_weights(self.received, self.overlap, None, False))
        else:  # end-aligned; it takes over where the previous chunk ramps down, at next_start
            start = self.received - self.chunk
            self._run_window(start, self.chunk, blend_weights(self.chunk, self.overlap, self.next_start - start, False))
        self._finalize(self.received)
        self.inputs.clear()
        self.flags.clear()

    def _run_regular(self) -> None:
        ramp_up_from = None if self.next_start == 0 else 0  # the previous chunk ramps down over our first frames
        self._run_window(self.next_start, self.chunk, blend_weights(self.chunk, self.overlap, ramp_up_from, True))
        self.next_start += self.stride
        self._finalize(self.next_start)
        for p, value in self.acc.items():  # carried overlap frames: drop their hold on the chunk's output
            # Not ``value._base``: views made under inference mode have none, and a carried view then kept the
            # whole float chunk alive through the next one.
            if value.untyped_storage().nbytes() > value.nbytes:
                self.acc[p] = value.clone()
        # Inputs stay while a later chunk may read them: the next regular one or the end-aligned last one.
        keep_from = min(self.next_start, self.received - self.chunk)
        for old in [p for p in self.inputs if p < keep_from]:
            del self.inputs[old], self.flags[old]

    def _run_window(self, start: int, size: int, wt: Tensor) -> None:
        positions = range(start, start + size)
        frames = torch.stack([self.inputs[p] for p in positions])
        marks = [self.flags[p] for p in positions]
        flags = None if marks[0] is None else torch.stack([m for m in marks if m is not None])
        t0 = time.perf_counter()
        y = self.enhance_chunk(frames, flags)
        self.model_seconds += time.perf_counter() - t0
        y.mul_(wt.view(-1, 1, 1, 1))  # in place: the same values as y * wt without a second chunk in memory
        for i, p in enumerate(positions):
            if p < self.finalized_upto:
                continue  # final already; this chunk's weight there is 0 (context only)
            if p in self.acc:
                self.acc[p] += y[i]
                self.weight[p] += wt[i]
            else:
                self.acc[p], self.weight[p] = y[i], wt[i].clone()
        self.windows_run += 1
        release_freed_memory()

    def _finalize(self, upto: int) -> None:
        for p in range(self.finalized_upto, max(upto, self.finalized_upto)):
            frame = self.acc.pop(p) / self.weight.pop(p)
            self.finalized_upto = p + 1
            self.emit(p, frame)
        self.finalized_upto = max(upto, self.finalized_upto)
