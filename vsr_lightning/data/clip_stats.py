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
imported pair, issue 14); the 8-bit luma comes from one C pass, the sums from uint8 passes
(``benchmarks/results/2026-12-04_pairs_speed.md``), and the cleaning rules make the same decisions
on every dataset we have. Frames are ``(H, W, 3)`` RGB uint8.
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


def _luma_image(frame: np.ndarray) -> Image.Image:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frames must be (H, W, 3) RGB uint8, got {frame.dtype}{frame.shape}")
    return Image.fromarray(np.ascontiguousarray(frame), "RGB").convert("L")


def luma(frame: np.ndarray) -> np.ndarray:
    """8-bit BT.601 luma ``(19595 R + 38470 G + 7471 B + 32768) >> 16`` (Pillow's ``convert("L")``), uint8."""
    return np.asarray(_luma_image(frame))


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
    total = int(counts.sum())
    sse = int(np.dot(counts, _SQUARES))
    mse = sse / total
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _sum(a: np.ndarray) -> int:
    """Exact sum of a 2-D uint8 array: rows in uint32 (a row of up to 16 million values cannot overflow)."""
    return int(np.add.reduce(a, axis=-1, dtype=np.uint32).sum(dtype=np.uint64))


class _AbsDiffSum:
    """``sum|a - b|`` of two 2-D uint8 arrays of one shape as an exact integer, given ``sum(a) + sum(b)``:
    ``|a - b| = a + b - 2 min(a, b)``, so one uint8 pass (into a reused buffer) and one sum."""

    def __init__(self) -> None:
        self._min: np.ndarray | None = None

    def __call__(self, a: np.ndarray, b: np.ndarray, sum_a_b: int) -> int:
        if a.size == 0:
            return 0
        if self._min is None or self._min.shape != a.shape:
            self._min = np.empty(a.shape, np.uint8)
        np.minimum(a, b, out=self._min)
        return sum_a_b - 2 * _sum(self._min)


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
        self._prev_y: np.ndarray | None = None
        self._prev_sum = 0
        self._prev_counts: np.ndarray | None = None
        self._motion_sum, self._rows_sum, self._cols_sum = _AbsDiffSum(), _AbsDiffSum(), _AbsDiffSum()
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
        :meth:`update_psnr` may run on two threads (each in order), Pillow and numpy releasing the GIL."""
        image = _luma_image(gt)
        self._check_size(gt)
        values = np.asarray(image.histogram(), dtype=np.int64)
        counts = np.bincount(self._codes, weights=values, minlength=self.bins).astype(np.int64)
        total = int(np.dot(values, _LEVELS))  # sum of Y
        y = np.asarray(image)
        h, w = y.shape
        if self._prev_y is None or self._prev_counts is None:
            self.scene_change.append(0.0)
            self.motion.append(0.0)
        else:
            self.scene_change.append(_mean(int(np.abs(counts - self._prev_counts).sum()), h * w))
            self.motion.append(_mean(self._motion_sum(y, self._prev_y, total + self._prev_sum), h * w))
        # each gradient pairs every pixel with its right (lower) neighbour: all pixels twice but the first and
        # last column (row) once
        first_last_cols = int(y[:, 0].sum(dtype=np.int64)) + int(y[:, -1].sum(dtype=np.int64))
        first_last_rows = int(y[0].sum(dtype=np.int64)) + int(y[-1].sum(dtype=np.int64))
        gx = _mean(self._cols_sum(y[:, 1:], y[:, :-1], 2 * total - first_last_cols), h * (w - 1))
        gy = _mean(self._rows_sum(y[1:], y[:-1], 2 * total - first_last_rows), (h - 1) * w)
        self.texture.append(0.5 * (gx + gy))
        self._prev_y, self._prev_counts, self._prev_sum = y, counts, total

    def update_psnr(self, gt: np.ndarray, lq: np.ndarray) -> None:
        """The compressed frame's RGB PSNR against the original (capped), in frame order."""
        psnr = psnr_from_counts(abs_diff_counts(gt, lq))
        self.psnr_lq.append(PSNR_CAP if math.isinf(psnr) else min(psnr, PSNR_CAP))

    def result(self) -> ClipStats:
        return ClipStats(self.scene_change, self.motion, self.texture, self.psnr_lq)
