"""x8 geometric test-time augmentation (the recipe's +0.1-0.2 dB) for image and video models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor


def _forward_transform(x: Tensor, k: int) -> Tensor:
    """k in 0..7: bit 2 = transpose H/W, bit 1 = flip H, bit 0 = flip W (applied in that order)."""
    if k & 4:
        x = x.transpose(-1, -2)
    if k & 2:
        x = x.flip(-2)
    if k & 1:
        x = x.flip(-1)
    return x


def _inverse_transform(x: Tensor, k: int) -> Tensor:
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    if k & 4:
        x = x.transpose(-1, -2)
    return x


def tta_x8(
    fn: Callable[..., Tensor],
    x: Tensor,
    temporal_reversal: bool = False,
    time_kwargs: Sequence[str] = ("pqf",),
    **kwargs: Any,
) -> Tensor:
    """Average ``fn`` over the 8 dihedral transforms of the last two dims (x16 with time reversal).

    ``x`` is (N,C,H,W) or (N,T,C,H,W); outputs must have the input's spatial layout. Extra ``kwargs`` go to
    ``fn`` unchanged, except those named in ``time_kwargs`` (e.g. ``pqf`` flags (N,T)) which are reversed
    along dim 1 together with the video. Accumulates in float32.
    """
    if temporal_reversal and x.dim() != 5:
        raise ValueError("temporal_reversal needs a video tensor (N,T,C,H,W)")
    times = (False, True) if temporal_reversal else (False,)
    acc: Tensor | None = None
    count = 0
    for reverse in times:
        xr = x.flip(1) if reverse else x
        kw = dict(kwargs)
        if reverse:
            for name in time_kwargs:
                if kw.get(name) is not None:
                    kw[name] = kw[name].flip(1)
        for k in range(8):
            y = _inverse_transform(fn(_forward_transform(xr, k), **kw), k)
            if reverse:
                y = y.flip(1)
            y = y.float()
            acc = y if acc is None else acc + y
            count += 1
    assert acc is not None
    return (acc / count).to(x.dtype) if x.is_floating_point() else acc / count


def augmented(fn: Callable[..., Tensor], tta: bool, temporal_reversal: bool = False) -> Callable[..., Tensor]:
    """``fn`` itself, or with ``tta`` ``fn`` averaged by :func:`tta_x8`; ``pqf`` flags (if given) travel along."""
    if not tta:
        return fn

    def run(x: Tensor, pqf: Tensor | None = None) -> Tensor:
        if pqf is None:
            return tta_x8(fn, x, temporal_reversal=temporal_reversal)
        return tta_x8(fn, x, temporal_reversal=temporal_reversal, pqf=pqf)

    return run
