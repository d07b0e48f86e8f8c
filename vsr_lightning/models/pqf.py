"""Peak-quality-frame (PQF) positions and the second-order source frame each propagation step uses."""

from __future__ import annotations

import torch
from torch import Tensor


def fixed_period_pqf(num_frames: int, period: int, batch: int | None = None) -> Tensor:
    """PQF flags of HEVC low-delay P: frame 0 then one every ``period`` frames ("1000 1000 ...").

    Returns (T,) bool, or (batch, T) when ``batch`` is given.
    """
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    flags = torch.arange(num_frames) % period == 0
    return flags if batch is None else flags.unsqueeze(0).expand(batch, -1).clone()


def second_order_sources(num_frames: int, backward: bool, pqf: Tensor | None = None) -> list[list[int | None]]:
    """For each frame (indexed by frame number), the per-sample frame that feeds the second-order input.

    Without ``pqf`` this is the frame two steps back in propagation order (BasicVSR++). With ``pqf``
    (N,T) bool, it is the nearest PQF at least two steps back in propagation order (so it differs from
    the first-order input), i.e. the previous PQF for forward and the next PQF for backward branches;
    frame +-2 is the fallback when no such PQF exists. ``None`` marks steps without a second-order input.
    """
    step = -1 if backward else 1
    batch = 1 if pqf is None else pqf.shape[0]
    flags = None if pqf is None else pqf.bool().cpu().tolist()
    out: list[list[int | None]] = []
    for idx in range(num_frames):
        fallback = idx - 2 * step
        if not 0 <= fallback < num_frames:
            out.append([None] * batch)
            continue
        if flags is None:
            out.append([fallback])
            continue
        row: list[int | None] = []
        for n in range(batch):
            j = fallback
            found = None
            while 0 <= j < num_frames:
                if flags[n][j]:
                    found = j
                    break
                j -= step
            row.append(fallback if found is None else found)
        out.append(row)
    return out
