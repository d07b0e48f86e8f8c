"""Per-frame statistics of a clip, computed while a dataset is prepared (one pass, streaming).

Definition (version :data:`CLIP_STATS_VERSION`), on the original frame's 8-bit BT.601 luma ``Y``
(:func:`luma`: Pillow's ``convert("L")``, ``(19595 R + 38470 G + 7471 B + 32768) >> 16``), every sum
an exact integer, each statistic one division of two integers::

    c       = counts of Y // (256 / bins) codes, i.e. of (Y * bins) >> 8  (bins codes)
    scene_change = sum|c_t - c_{t-1}| / N       motion = sum|Y_t - Y_{t-1}| / N     (0, 0 on frame 0)
    texture = (sum|Y[:, 1:] - Y[:, :-1]| / (H (W-1)) + sum|Y[1:] - Y[:-1]| / ((H-1) W)) / 2
    psnr_lq = RGB PSNR of the compressed frame (peak 255, exact squared error, capped at 100 dB)

with ``N = H W`` (a direction without neighbours counts 0). Version 1 computed the same quantities
on a float32 luma (about 15 full-frame float passes per 1080p frame: three times the decoding of an
imported pair, issue 14); version 2's integers come from compiled single-pass kernels
(:mod:`vsr_lightning.data.frame_kernels`), and the cleaning rules make the same decisions on every
dataset we have (``benchmarks/results/2026-12-04_pairs_speed.md``). Frames are ``(H, W, 3)`` RGB uint8.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageChops

from vsr_lightning.data.manifest import ClipStats

CLIP_STATS_VERSION = 2
"""Bump when a statistic's definition changes: manifests record it (``build["clip_stats_version"]``), and
cleaning refuses statistics of another version (no dataset mixes two definitions)."""

PSNR_CAP = 100.0
"""PSNR of identical frames is infinite; JSON has no infinity, so it is stored capped."""


def _kernels():
    """:mod:`frame_kernels`, imported on first use: numba (about 100 MB resident) is loaded only by the
    processes that compute statistics, not by every one that reads ``CLIP_STATS_VERSION``."""
    from vsr_lightning.data import frame_kernels

    return frame_kernels


def warm_up_kernels() -> None:
    """Import numba and load the kernels now (about 0.4 s, once per process), e.g. on a thread of its own
    while a caller's decoders start, instead of on the first frame."""
    _kernels().warm_up()


def luma(frame: np.ndarray) -> np.ndarray:
    """8-bit BT.601 luma ``(19595 R + 38470 G + 7471 B + 32768) >> 16`` (Pillow's ``convert("L")``), uint8."""
    return _kernels().luma_into(frame, np.empty(frame.shape[:2], np.uint8))


def _as_image(a: np.ndarray) -> Image.Image:
    flat = np.ascontiguousarray(a)
    return Image.fromarray(flat.reshape(flat.shape[0] if flat.ndim > 1 else 1, -1))


def abs_diff_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Histogram (length 256) of ``|a - b|`` over two uint8 arrays of one shape: exact sums of powers of
    the difference follow from it (``sum(counts * k**2)`` is the squared error) with no wider copy
    (Pillow's C difference and histogram: one pass each over the bytes)."""
    if a.dtype != np.uint8 or b.dtype != np.uint8 or a.shape != b.shape:
        raise ValueError(f"need two uint8 arrays of one shape, got {a.dtype}{a.shape} and {b.dtype}{b.shape}")
    diff = ImageChops.difference(_as_image(a), _as_image(b))
    return np.asarray(diff.histogram(), dtype=np.int64)


_LEVELS = np.arange(256, dtype=np.int64)
_SQUARES = _LEVELS**2


def psnr_from_counts(counts: np.ndarray) -> float:
    """PSNR (peak 255) from :func:`abs_diff_counts`: equals ``video_io.psnr_uint8`` exactly, whose float64
    mean of integer squares is exact too; ``inf`` for identical inputs."""
    return psnr_from_squared_error(int(np.dot(counts, _SQUARES)), int(counts.sum()))


def psnr_from_squared_error(sse: int, count: int) -> float:
    """PSNR (peak 255) of ``count`` values whose squared differences sum to ``sse``; ``inf`` when 0."""
    mse = sse / count
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _mean(total: int, count: int) -> float:
    return total / count if count else 0.0


class ClipStatsAccumulator:
    """Feed (original, compressed) frame pairs in order; ``result()`` gives the clip's stats."""

    def __init__(self, bins: int = 64) -> None:
        if not 1 <= bins <= 256:
            raise ValueError(f"bins must be in 1..256, got {bins}")
        self.bins = bins
        self._codes = (np.arange(256) * bins) >> 8  # luma value -> histogram bin
        self._size: tuple[int, int] | None = None
        self._luma: list[np.ndarray] = []
        self._hist = np.zeros(256, np.int64)
        self._prev_counts: np.ndarray | None = None
        self.scene_change: list[float] = []
        self.motion: list[float] = []
        self.texture: list[float] = []
        self.psnr_lq: list[float] = []

    def _check_size(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._size is None:
            self._size = (h, w)
        elif self._size != (h, w):
            raise ValueError(f"frame is {w}x{h}, the clip's first is {self._size[1]}x{self._size[0]}")

    def update(self, gt: np.ndarray, lq: np.ndarray) -> None:
        """Add one ``(H, W, 3)`` uint8 RGB pair (the definitions are in the module's docstring)."""
        self.update_original(gt)
        self.update_psnr(gt, lq)

    def update_original(self, gt: np.ndarray) -> None:
        """The original's part of :meth:`update` (scene change, motion, texture), in frame order; it and
        :meth:`update_psnr` may run on two threads (each in order): the kernels release the GIL."""
        self._check_size(gt)
        h, w = gt.shape[:2]
        first = self._prev_counts is None
        if first:  # one luma buffer for this frame, one for the previous
            self._luma = [np.empty((h, w), np.uint8) for _ in range(2)]
        y, prev = self._luma
        kernels = _kernels()
        sums = kernels.luma_sums(kernels.luma_into(gt, y), None if first else prev, self._hist)
        counts = np.bincount(self._codes, weights=self._hist, minlength=self.bins).astype(np.int64)
        if first:
            self.scene_change.append(0.0)
            self.motion.append(0.0)
        else:
            self.scene_change.append(_mean(int(np.abs(counts - self._prev_counts).sum()), h * w))
            self.motion.append(_mean(sums.motion, h * w))
        self.texture.append(0.5 * (_mean(sums.across, h * (w - 1)) + _mean(sums.down, (h - 1) * w)))
        self._luma.reverse()  # this frame's luma becomes the previous one
        self._prev_counts = counts

    def update_psnr(self, gt: np.ndarray, lq: np.ndarray) -> None:
        """The compressed frame's RGB PSNR against the original (capped), in frame order."""
        if gt.shape != lq.shape:
            raise ValueError(f"the compressed frame is {lq.shape}, its original {gt.shape}")
        psnr = psnr_from_squared_error(_kernels().squared_error(gt, lq), gt.size)
        self.psnr_lq.append(PSNR_CAP if math.isinf(psnr) else min(psnr, PSNR_CAP))

    def result(self) -> ClipStats:
        return ClipStats(self.scene_change, self.motion, self.texture, self.psnr_lq)
