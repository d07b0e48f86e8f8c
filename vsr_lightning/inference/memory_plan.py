"""How large a tile each stage may use so that one run stays within a memory budget.

The networks estimate their own working set (``inference_bytes`` of :class:`InferenceNetwork`); the plan
adds what the stream holds and keeps a share of the budget back for the allocator.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from vsr_lightning.inference.protocol import InferenceNetwork

ALLOCATOR_HEADROOM = 0.75
"""Share of ``--max-memory`` that is planned: freed memory is not all handed back at once, and the estimates
are estimates (README: the measured peak of a planned 1080p run)."""


def release_freed_memory() -> None:
    """Hand freed heap pages back to the system (glibc ``malloc_trim``; a no-op elsewhere).

    Without it the pages a chunk freed stay resident, and a stream's resident memory creeps up by most of a
    chunk after the first one (benchmarks/bench_enhance.py).
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def resident_bytes() -> int:
    """Current resident memory of this process (Linux ``/proc``; 0 elsewhere, which plans more optimistically)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def plan_tile(
    window_bytes: Callable[[int, int], int],
    height: int,
    width: int,
    budget: int,
    multiple: int = 4,
    minimum: int = 32,
) -> int | None:
    """The largest square tile (a multiple of ``multiple``) whose estimated working set fits ``budget`` bytes.

    ``window_bytes(h, w)`` estimates the memory of running one ``h x w`` window. Returns None when whole
    frames fit, and raises ``ValueError`` when not even a ``minimum`` tile does.
    """
    if window_bytes(height, width) <= budget:
        return None
    size = max(height, width) // multiple * multiple
    floor = max(multiple, minimum // multiple * multiple)
    while size >= floor:
        if window_bytes(min(size, height), min(size, width)) <= budget:
            return size
        size -= multiple
    need = window_bytes(min(floor, height), min(floor, width)) / 2**30
    raise ValueError(
        f"a {floor}x{floor} tile needs about {need:.2f} GiB but only {max(budget, 0) / 2**30:.2f} GiB "
        "is left for the model: use a shorter chunk or allow more memory"
    )


@dataclass
class MemoryPlan:
    """Spatial tiles for each stage so that one run stays within a memory budget."""

    stage1_tile: int | None
    stage2_tile: int | None
    """None: whole frames (or no stage two, see ``has_stage2``)."""
    has_stage2: bool
    budget_bytes: int
    fixed_bytes: int
    """CPU: already resident (interpreter, torch, weights) plus the streaming buffers of one chunk; CUDA: what
    is allocated on the device."""

    def describe(self) -> str:
        def tile(t: int | None) -> str:
            return "whole frames" if t is None else f"{t}x{t} tiles"

        text = (
            f"memory plan: {self.budget_bytes / 2**30:.1f} GiB planned, {self.fixed_bytes / 2**30:.2f} GiB "
            f"fixed; stage one on {tile(self.stage1_tile)}"
        )
        return text + (f", stage two on {tile(self.stage2_tile)}" if self.has_stage2 else "")


def plan_memory(
    net1: InferenceNetwork,
    net2: InferenceNetwork | None,
    width: int,
    height: int,
    chunk: int,
    overlap: int,
    budget_gib: float,
    tta: bool = False,
    device: torch.device | str = "cpu",
) -> MemoryPlan:
    """Pick the largest tiles whose estimated peak (the networks' ``inference_bytes``) fits ``budget_gib``.

    On the CPU the fixed costs are what is resident now, the 8-bit frames the stream holds (``chunk +
    stride``, plus one stacked chunk), the float output of one chunk and the overlap carried to the next. On
    CUDA the budget is the device's: the fixed cost is what is allocated there (the weights), since the stream
    stays in host memory. Only ``ALLOCATOR_HEADROOM`` of the budget is planned.
    """
    budget = int(budget_gib * 2**30 * ALLOCATOR_HEADROOM)
    pixels = width * height
    stride = chunk - overlap
    if torch.device(device).type == "cuda":
        fixed = torch.cuda.memory_allocated(device)
    else:
        stream = pixels * (3 * (chunk + stride) + 3 * chunk + 12 * chunk + 12 * overlap + 24)
        fixed = resident_bytes() + stream
    left = budget - fixed
    tta_copies = 2 if tta else 1  # TTA keeps a running sum beside each transformed output

    def tile_for(net: InferenceNetwork, frames: int) -> int | None:
        def window_bytes(h: int, w: int) -> int:
            return tta_copies * net.inference_bytes(frames, h, w)

        return plan_tile(window_bytes, height, width, left, net.size_multiple)

    try:
        tile1 = tile_for(net1, chunk)
        tile2 = tile_for(net2, 1) if net2 is not None else None
    except ValueError as exc:
        raise ValueError(
            f"{width}x{height} frames in chunks of {chunk} do not fit in {budget_gib:g} GiB: {exc}"
        ) from None
    return MemoryPlan(tile1, tile2, net2 is not None, budget, fixed)


def default_budget_gib(device: torch.device) -> float:
    """4 GiB of host memory on the CPU; on CUDA what this process may use, the weights it holds included."""
    if device.type != "cuda":
        return 4.0
    return (torch.cuda.mem_get_info(device)[0] + torch.cuda.memory_reserved(device)) / 2**30


def choose_tiles(tile: int | str | None, plan: Callable[[], MemoryPlan]) -> tuple[int | None, int | None, str, bool]:
    """``(stage-one tile, stage-two tile, description, planned)`` for ``--tile`` N, None or 'auto' (``plan()``)."""
    if tile == "auto":
        chosen = plan()
        return chosen.stage1_tile, chosen.stage2_tile, chosen.describe(), True
    if tile is None or isinstance(tile, int):
        return tile, tile, "whole frames" if tile is None else f"{tile}x{tile} tiles", False
    raise ValueError(f"tile must be an integer, None or 'auto', got {tile!r}")
