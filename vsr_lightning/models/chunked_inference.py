"""Memory-bounded inference over long videos: temporal chunks and spatial tiles with linear blending.

Peak memory is set by one chunk x one tile on the device; the full output lives on the CPU in float32.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

VideoFn = Callable[..., Tensor]


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
def enhance_video_chunked(
    model_fn: VideoFn,
    lq: Tensor,
    chunk: int,
    overlap: int = 0,
    tile: int | None = None,
    tile_overlap: int = 0,
    device: torch.device | str = "cpu",
    pqf: Tensor | None = None,
    multiple: int = 4,
) -> Tensor:
    """Enhance ``lq`` (T,C,H,W) with ``model_fn((1,t,C,h,w)[, pqf=(1,t)])`` chunk by chunk.

    Overlapping chunks/tiles are blended with linear weights. One chunk covering the clip without tiling
    returns the model output exactly. ``tile`` is rounded down to a multiple of ``multiple`` (4 for
    BasicVSR++, the window for SwinIR). ``pqf`` (T,) is sliced per chunk and passed as ``pqf``; pass it
    (e.g. ``fixed_period_pqf(T, 4)``) for PQF models, otherwise each chunk would restart the period at its
    own first frame.
    """
    if lq.dim() != 4:
        raise ValueError(f"lq must be (T,C,H,W), got {tuple(lq.shape)}")
    t, c, h, w = lq.shape
    chunk = max(1, min(chunk, t))
    if tile is not None:
        tile = max(multiple, tile // multiple * multiple)
        if tile_overlap >= tile:
            raise ValueError("tile_overlap must be smaller than tile")
    th = h if tile is None else min(tile, h)
    tw = w if tile is None else min(tile, w)
    out: Tensor | None = None
    t_windows = window_weights(t, chunk, overlap)
    h_windows = window_weights(h, th, tile_overlap)
    w_windows = window_weights(w, tw, tile_overlap)
    single = len(t_windows) == len(h_windows) == len(w_windows) == 1
    # The windows form a grid (every chunk x every tile row x every tile column), so the summed blending
    # weight is the outer product of three 1-D sums: no (T,1,H,W) weight tensor is kept.
    sum_t, sum_h, sum_w = torch.zeros(t), torch.zeros(h), torch.zeros(w)
    for ts, wt in t_windows:
        sum_t[ts : ts + chunk] += wt
        clip = lq[ts : ts + chunk]
        flags = None if pqf is None else pqf[ts : ts + chunk].unsqueeze(0).to(device)
        for hs, wh in h_windows:
            if ts == t_windows[0][0]:
                sum_h[hs : hs + th] += wh
            for ws, ww in w_windows:
                if ts == t_windows[0][0] and hs == h_windows[0][0]:
                    sum_w[ws : ws + tw] += ww
                x = clip[:, :, hs : hs + th, ws : ws + tw].unsqueeze(0).to(device)
                y = model_fn(x) if flags is None else model_fn(x, pqf=flags)
                y = y[0].float().cpu()
                if single:
                    return y  # single window: exact model output, no blending arithmetic
                if out is None:
                    out = torch.zeros(t, y.shape[1], h, w, dtype=torch.float32)
                # One new tensor, then in place: the model may hand back its (viewed) input, never modify that.
                y = y.mul(wt.view(-1, 1, 1, 1)).mul_(wh.view(1, 1, -1, 1)).mul_(ww.view(1, 1, 1, -1))
                out[ts : ts + chunk, :, hs : hs + th, ws : ws + tw] += y
    assert out is not None
    return out.div_(sum_t.view(-1, 1, 1, 1)).div_(sum_h.view(1, 1, -1, 1)).div_(sum_w.view(1, 1, 1, -1))


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
