"""Learning-rate schedule: linear warm-up, then cosine annealing with restarts.

The NTIRE 2022 winners report BasicVSR++ diverging (NaN) at 1e-4 without warm-up, so warm-up is
on by default; BasicVSR++ itself trains with cosine restarts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def warmup_cosine_restarts(step: int, warmup_steps: int, periods: Sequence[int], min_factor: float = 1e-3) -> float:
    """Multiplier of the base learning rate at ``step`` (for ``LambdaLR``).

    ``periods`` are the lengths of the cosine cycles after warm-up; past the last cycle the rate
    stays at ``min_factor``.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    t = step - warmup_steps
    for period in periods:
        if t < period:
            return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * t / period))
        t -= period
    return min_factor
