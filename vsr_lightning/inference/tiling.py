"""Windows along one axis with linear blending, and the spatial tiling of one chunk of frames.

The same blending serves time (the scheduler's chunks) and space (tiles): neighbouring windows ramp
linearly over their overlap, so their weights sum to one there.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

VideoFn = Callable[..., Tensor]
"""``fn(x (N,T,C,H,W)[, pqf=(N,T) bools]) -> (N,T,C,H,W)``."""


def _starts(length: int, size: int, overlap: int) -> list[int]:
    """Window starts covering [0, length); the last window is aligned to the end so all are full size."""
    if size >= length:
        return [0]
    stride = size - overlap
    if stride <= 0:
        raise ValueError(f"overlap ({overlap}) must be smaller than the window ({size})")
    starts = list(range(0, length - size, stride))
    starts.append(length - size)
    return sorted(set(starts))


def blend_weights(size: int, overlap: int, ramp_up_from: int | None, ramp_down: bool) -> Tensor:
    """Blending weights of one window along one axis (time, rows or columns).

    ``ramp_up_from`` is the index at which the previous window starts ramping down (None: no previous
    window): the weight is 0 before it and rises linearly over the next ``overlap`` samples. With
    ``ramp_down`` it falls over the last ``overlap`` samples, where the next window rises, so the weights
    of neighbours sum to 1. The end-aligned last window may overlap its predecessor by more than
    ``overlap``; it still takes over only where the predecessor ramps down, so everything before that is
    final as soon as the predecessor has run, which lets a stream keep only ``overlap`` frames between chunks.
    """
    w = torch.ones(size)
    if ramp_up_from is not None:
        w[:ramp_up_from] = 0.0
    n = min(max(overlap, 0), size)
    r = torch.arange(1, n + 1, dtype=torch.float32) / (overlap + 1)
    if ramp_up_from is not None and n > 0:
        end = min(ramp_up_from + n, size)
        w[ramp_up_from:end] = r[: end - ramp_up_from]
    if ramp_down and n > 0:
        w[size - n :] = torch.minimum(w[size - n :], r.flip(0))
    return w


def window_weights(length: int, size: int, overlap: int) -> list[tuple[int, Tensor]]:
    """``(start, weights)`` of every window covering ``[0, length)`` (see :func:`blend_weights`)."""
    starts = _starts(length, size, overlap)
    windows = []
    for i, start in enumerate(starts):
        ramp_up_from = None if i == 0 else starts[i - 1] + size - overlap - start
        windows.append((start, blend_weights(size, overlap, ramp_up_from, i + 1 < len(starts))))
    return windows


def framewise(image_fn: Callable[[Tensor], Tensor], batch: int = 4) -> VideoFn:
    """Turn a single-frame model (N,C,H,W) into a video function (N,T,C,H,W) for stage two."""

    def video_fn(x: Tensor, pqf: Tensor | None = None) -> Tensor:
        n, t = x.shape[:2]
        flat = x.reshape(n * t, *x.shape[2:])
        outs = [image_fn(flat[i : i + batch]) for i in range(0, n * t, batch)]
        return torch.cat(outs).reshape(n, t, *outs[0].shape[1:])

    return video_fn


@torch.no_grad()
def enhance_tiles(
    model_fn: VideoFn,
    clip: Tensor,
    tile: int | None = None,
    tile_overlap: int = 0,
    device: torch.device | str = "cpu",
    pqf: Tensor | None = None,
    multiple: int = 4,
) -> Tensor:
    """Enhance one chunk ``clip`` (T,C,H,W) with ``model_fn((1,T,C,h,w)[, pqf=(1,T)])``, tile by tile.

    Returns (T,C',H,W) float32 on the CPU. Overlapping tiles are blended linearly; one tile (``tile`` None
    or not smaller than the frame) returns the model output exactly. ``tile`` is rounded down to a
    multiple of ``multiple`` (the network's ``size_multiple``). The clip goes to ``device`` tile by tile,
    in its own dtype: ``model_fn`` converts it (8-bit frames cost a quarter of float ones in memory).
    """
    if clip.dim() != 4:
        raise ValueError(f"clip must be (T,C,H,W), got {tuple(clip.shape)}")
    _, _, h, w = clip.shape
    if tile is not None:
        tile = max(multiple, tile // multiple * multiple)
        if tile_overlap >= tile:
            raise ValueError("tile_overlap must be smaller than tile")
    th = h if tile is None else min(tile, h)
    tw = w if tile is None else min(tile, w)
    h_windows, w_windows = window_weights(h, th, tile_overlap), window_weights(w, tw, tile_overlap)
    flags = None if pqf is None else pqf.unsqueeze(0).to(device)
    out: Tensor | None = None
    # The tiles form a grid, so the summed blending weight is the outer product of two 1-D sums.
    sum_h, sum_w = torch.zeros(h), torch.zeros(w)
    for i, (hs, wh) in enumerate(h_windows):
        sum_h[hs : hs + th] += wh
        for ws, ww in w_windows:
            if i == 0:
                sum_w[ws : ws + tw] += ww
            x = clip[:, :, hs : hs + th, ws : ws + tw].unsqueeze(0).to(device)
            y = (model_fn(x) if flags is None else model_fn(x, pqf=flags))[0].float().cpu()
            if len(h_windows) == len(w_windows) == 1:
                return y  # one tile: the exact model output, no blending arithmetic
            if out is None:
                out = torch.zeros(clip.shape[0], y.shape[1], h, w, dtype=torch.float32)
            # One new tensor, then in place: the model may hand back its (viewed) input, never modify that.
            out[:, :, hs : hs + th, ws : ws + tw] += y.mul(wh.view(1, 1, -1, 1)).mul_(ww.view(1, 1, 1, -1))
    assert out is not None
    return out.div_(sum_h.view(1, 1, -1, 1)).div_(sum_w.view(1, 1, 1, -1))
