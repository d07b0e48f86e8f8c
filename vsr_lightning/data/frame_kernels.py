"""Compiled single-pass kernels for the per-frame work of a dataset build (cleaning statistics, PSNR).

Importing a pair is decoding plus this work; done as numpy and Pillow passes it cost about as much
CPU per 1080p frame as decoding an HEVC bitstream (issue 14), because each pass streams the whole
frame through memory again. These loops (numba, compiled for this CPU on first use and cached beside
the module) read each frame once, row by row, and give exact integers: the statistics' definitions
are in :mod:`vsr_lightning.data.clip_stats`, and the tests hold them equal to plain numpy formulas.
They release the GIL, so the import's analysis threads run them side by side.

Frames come in as ``(H, W, 3)`` RGB uint8 with contiguous pixels (rows may be padded, as a decoded
frame's are); each row is copied into a small contiguous buffer first, which keeps the loops
vectorised whatever the row stride.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class LumaSums(NamedTuple):
    """Exact integer sums over one frame's luma ``Y`` (``prev``: the previous frame's luma)."""

    total: int
    """``sum Y``"""
    motion: int
    """``sum |Y - prev|`` (0 without a previous frame)"""
    across: int
    """``sum |Y[:, 1:] - Y[:, :-1]|``"""
    down: int
    """``sum |Y[1:] - Y[:-1]|``"""


def rgb_rows(frame: np.ndarray) -> np.ndarray:
    """An ``(H, W, 3)`` RGB uint8 frame as ``(H, 3 W)`` rows, without a copy where its pixels are contiguous."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frames must be (H, W, 3) RGB uint8, got {frame.dtype}{frame.shape}")
    h, w = frame.shape[:2]
    return frame.reshape(h, 3 * w)


@njit(nogil=True, cache=True, boundscheck=False)
def _luma_rows(rows: np.ndarray, y: np.ndarray) -> None:  # pragma: no cover - compiled
    h, w = y.shape
    line = np.empty(3 * w, np.uint8)
    for i in range(h):
        src, out = rows[i], y[i]
        for j in range(3 * w):
            line[j] = src[j]
        for j in range(w):
            r, g, b = np.int32(line[3 * j]), np.int32(line[3 * j + 1]), np.int32(line[3 * j + 2])
            out[j] = np.uint8((19595 * r + 38470 * g + 7471 * b + 32768) >> 16)


@njit(nogil=True, cache=True, boundscheck=False)
def _luma_sums(y: np.ndarray, prev: np.ndarray, has_prev: bool, hist: np.ndarray):  # pragma: no cover - compiled
    h, w = y.shape
    total = motion = across = down = 0
    for i in range(h):
        row = y[i]
        s = x = np.int64(0)
        for j in range(w):
            s += row[j]
        for j in range(1, w):
            x += abs(np.int32(row[j]) - np.int32(row[j - 1]))
        total += s
        across += x
        if i > 0:
            up, u = y[i - 1], np.int64(0)
            for j in range(w):
                u += abs(np.int32(row[j]) - np.int32(up[j]))
            down += u
        if has_prev:
            before, m = prev[i], np.int64(0)
            for j in range(w):
                m += abs(np.int32(row[j]) - np.int32(before[j]))
            motion += m
    # four partial histograms: consecutive equal values do not wait on each other's increments
    partial = np.zeros((4, 256), np.int64)
    for i in range(h):
        row = y[i]
        j = 0
        while j + 4 <= w:
            partial[0, row[j]] += 1
            partial[1, row[j + 1]] += 1
            partial[2, row[j + 2]] += 1
            partial[3, row[j + 3]] += 1
            j += 4
        while j < w:
            partial[0, row[j]] += 1
            j += 1
    for v in range(256):
        hist[v] = partial[0, v] + partial[1, v] + partial[2, v] + partial[3, v]
    return total, motion, across, down


@njit(nogil=True, cache=True, boundscheck=False)
def _squared_error(a: np.ndarray, b: np.ndarray) -> int:  # pragma: no cover - compiled
    h, n = a.shape
    line_a, line_b = np.empty(n, np.uint8), np.empty(n, np.uint8)
    total = 0
    for i in range(h):
        src_a, src_b = a[i], b[i]
        for j in range(n):
            line_a[j] = src_a[j]
            line_b[j] = src_b[j]
        s = np.int64(0)
        for j in range(n):
            d = np.int32(line_a[j]) - np.int32(line_b[j])
            s += d * d
        total += s
    return total


def luma_into(frame: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[:] =`` the frame's 8-bit BT.601 luma ``(19595 R + 38470 G + 7471 B + 32768) >> 16``; returns ``out``."""
    rows = rgb_rows(frame)
    if out.shape != frame.shape[:2] or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ValueError(f"the luma buffer must be C-contiguous uint8 {frame.shape[:2]}, got {out.dtype}{out.shape}")
    if out.size:
        _luma_rows(rows, out)
    return out


def luma_sums(y: np.ndarray, prev: np.ndarray | None, hist: np.ndarray) -> LumaSums:
    """The sums of :class:`LumaSums` over the luma ``y``, and ``hist[:] =`` its 256-bin histogram."""
    if hist.shape != (256,) or hist.dtype != np.int64:
        raise ValueError(f"the histogram must be int64 (256,), got {hist.dtype}{hist.shape}")
    if prev is not None and prev.shape != y.shape:
        raise ValueError(f"previous luma is {prev.shape}, this one {y.shape}")
    if y.size == 0:
        hist[:] = 0
        return LumaSums(0, 0, 0, 0)
    total, motion, across, down = _luma_sums(y, y if prev is None else prev, prev is not None, hist)
    return LumaSums(int(total), int(motion), int(across), int(down))


def squared_error(a: np.ndarray, b: np.ndarray) -> int:
    """``sum (a - b)^2`` over two RGB uint8 frames of one shape, exactly."""
    if a.shape != b.shape:
        raise ValueError(f"frames of different shapes: {a.shape} and {b.shape}")
    rows_a, rows_b = rgb_rows(a), rgb_rows(b)
    return int(_squared_error(rows_a, rows_b)) if a.size else 0


def warm_up() -> None:
    """Load (or compile) every kernel now, on a tiny frame: about 0.2 s after numba's import, which a
    caller can spend on a thread of its own while its decoders start instead of on the first frame."""
    frame = np.zeros((2, 2, 3), np.uint8)
    y, hist = luma_into(frame, np.empty((2, 2), np.uint8)), np.zeros(256, np.int64)
    luma_sums(y, None, hist)
    luma_sums(y, y, hist)
    squared_error(frame, frame)
