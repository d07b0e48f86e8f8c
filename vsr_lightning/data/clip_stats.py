"""Per-frame statistics of a clip, computed while a dataset is prepared (one pass, streaming)."""

from __future__ import annotations

import math

import numpy as np

from vsr_lightning.data.manifest import ClipStats
from vsr_lightning.data.video_io import psnr_uint8

PSNR_CAP = 100.0
"""PSNR of identical frames is infinite; JSON has no infinity, so it is stored capped."""


def luma(frame: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB uint8 frame, float32 in 0..255."""
    rgb = frame.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


class ClipStatsAccumulator:
    """Feed (original, compressed) frame pairs in order; ``result()`` gives the clip's stats."""

    def __init__(self, bins: int = 64) -> None:
        self.bins = bins
        self._prev_y: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None
        self.scene_change: list[float] = []
        self.motion: list[float] = []
        self.texture: list[float] = []
        self.psnr_lq: list[float] = []

    def update(self, gt: np.ndarray, lq: np.ndarray) -> None:
        y = luma(gt)
        codes = np.clip(y * (self.bins / 256.0), 0, self.bins - 1).astype(np.intp)
        hist = np.bincount(codes.ravel(), minlength=self.bins).astype(np.float64)
        hist /= max(hist.sum(), 1.0)
        if self._prev_y is None:
            self.scene_change.append(0.0)
            self.motion.append(0.0)
        else:
            self.scene_change.append(float(np.abs(hist - self._prev_hist).sum()))
            self.motion.append(float(np.mean(np.abs(y - self._prev_y))))
        gy, gx = np.abs(np.diff(y, axis=0)).mean(), np.abs(np.diff(y, axis=1)).mean()
        self.texture.append(float(0.5 * (gx + gy)))
        psnr = psnr_uint8(gt, lq)
        self.psnr_lq.append(PSNR_CAP if math.isinf(psnr) else min(psnr, PSNR_CAP))
        self._prev_y, self._prev_hist = y, hist

    def result(self) -> ClipStats:
        return ClipStats(self.scene_change, self.motion, self.texture, self.psnr_lq)
