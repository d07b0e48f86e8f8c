"""Per-frame statistics of a clip, computed while a dataset is prepared (one pass, streaming).

The numbers are defined by the float32 formulas of :func:`luma` and the reference loop in
:meth:`ClipStatsAccumulator.update`'s docstring; the accumulator computes exactly those values (bit
for bit: same float32 arrays, same reductions) but into buffers it reuses, and the PSNR's squared
error as an exact integer from a histogram of absolute differences, so a 1080p frame costs a few
passes over memory instead of a dozen fresh float arrays (issue 14: import as fast as decoding).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageChops

from vsr_lightning.data.manifest import ClipStats

PSNR_CAP = 100.0
"""PSNR of identical frames is infinite; JSON has no infinity, so it is stored capped."""

_LUMA = (np.float32(0.299), np.float32(0.587), np.float32(0.114))


def luma(frame: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB uint8 frame, float32 in 0..255."""
    rgb = frame.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def uint8_counts(values: np.ndarray) -> np.ndarray:
    """How often each value 0..255 occurs in a uint8 array (int64, length 256).

    Pillow's C histogram: ``np.bincount`` would first copy the bytes into an intp array 8 times larger."""
    return np.asarray(_as_image(values).histogram(), dtype=np.int64)


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


_SQUARES = np.arange(256, dtype=np.int64) ** 2


def psnr_from_counts(counts: np.ndarray) -> float:
    """PSNR (peak 255) from :func:`abs_diff_counts`: equals ``video_io.psnr_uint8`` exactly, whose float64
    mean of integer squares is exact too; ``inf`` for identical inputs."""
    total = int(counts.sum())
    sse = int(np.dot(counts, _SQUARES))
    mse = sse / total
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


class _Buffers:
    """Float32 work arrays for one frame size, reused from frame to frame."""

    def __init__(self, height: int, width: int) -> None:
        self.y = np.empty((height, width), np.float32)
        self.prev_y = np.empty((height, width), np.float32)
        self.tmp = np.empty((height, width), np.float32)
        self.rows = np.empty((height - 1, width), np.float32)
        self.cols = np.empty((height, width - 1), np.float32)
        self.codes = np.empty((height, width), np.uint8)


class ClipStatsAccumulator:
    """Feed (original, compressed) frame pairs in order; ``result()`` gives the clip's stats."""

    def __init__(self, bins: int = 64) -> None:
        if not 1 <= bins <= 256:
            raise ValueError(f"bins must be in 1..256, got {bins}")
        self.bins = bins
        self._buf: _Buffers | None = None
        self._has_prev = False
        self._prev_hist: np.ndarray | None = None
        self.scene_change: list[float] = []
        self.motion: list[float] = []
        self.texture: list[float] = []
        self.psnr_lq: list[float] = []

    def _buffers(self, gt: np.ndarray) -> _Buffers:
        h, w = gt.shape[:2]
        if self._buf is None:
            self._buf = _Buffers(h, w)
        elif self._buf.y.shape != (h, w):
            raise ValueError(f"frame is {w}x{h}, the clip's first is {self._buf.y.shape[1]}x{self._buf.y.shape[0]}")
        return self._buf

    def _luma(self, gt: np.ndarray, buf: _Buffers) -> np.ndarray:
        """:func:`luma` into ``buf.y``: the same float32 products and sums, in the same order."""
        y, tmp = buf.y, buf.tmp
        np.multiply(gt[..., 0], _LUMA[0], out=y, dtype=np.float32)
        np.multiply(gt[..., 1], _LUMA[1], out=tmp, dtype=np.float32)
        np.add(y, tmp, out=y)
        np.multiply(gt[..., 2], _LUMA[2], out=tmp, dtype=np.float32)
        np.add(y, tmp, out=y)
        return y

    def _histogram(self, y: np.ndarray, buf: _Buffers) -> np.ndarray:
        # 0 <= y <= 255.000002 (the three float32 weights add up to 1 + 7e-9), so y * bins / 256 lies in
        # [0, bins): the reference's clip to [0, bins - 1] changes nothing, and the cast to uint8 truncates
        # as its ``astype(np.intp)`` does
        np.multiply(y, np.float32(self.bins / 256.0), out=buf.codes, casting="unsafe")
        hist = uint8_counts(buf.codes)[: self.bins].astype(np.float64)
        hist /= max(hist.sum(), 1.0)
        return hist

    def _texture(self, y: np.ndarray, buf: _Buffers) -> float:
        np.subtract(y[1:], y[:-1], out=buf.rows)
        np.abs(buf.rows, out=buf.rows)
        np.subtract(y[:, 1:], y[:, :-1], out=buf.cols)
        np.abs(buf.cols, out=buf.cols)
        gy, gx = buf.rows.mean(), buf.cols.mean()
        return float(0.5 * (gx + gy))

    def update(self, gt: np.ndarray, lq: np.ndarray) -> None:
        """Add one ``(H, W, 3)`` uint8 RGB pair. Equal, bit for bit, to the reference::

        y = luma(gt); hist = normalised bincount of clip(y * bins / 256, 0, bins - 1).astype(intp)
        scene_change = |hist - prev_hist|.sum(); motion = mean(|y - prev_y|)   (0, 0 on frame 0)
        texture = 0.5 * (mean|diff(y, axis=1)| + mean|diff(y, axis=0)|); psnr_lq = psnr_uint8(gt, lq)
        """
        self.update_original(gt)
        self.update_psnr(gt, lq)

    def update_original(self, gt: np.ndarray) -> None:
        """The original's part of :meth:`update` (scene change, motion, texture), in frame order; it and
        :meth:`update_psnr` may run on two threads (each in order), numpy releasing the GIL."""
        if gt.dtype != np.uint8:
            raise ValueError(f"frames must be uint8, got {gt.dtype}")
        buf = self._buffers(gt)
        y = self._luma(gt, buf)
        hist = self._histogram(y, buf)
        if not self._has_prev:
            self.scene_change.append(0.0)
            self.motion.append(0.0)
        else:
            self.scene_change.append(float(np.abs(hist - self._prev_hist).sum()))
            np.subtract(y, buf.prev_y, out=buf.tmp)
            np.abs(buf.tmp, out=buf.tmp)
            self.motion.append(float(np.mean(buf.tmp)))
        self.texture.append(self._texture(y, buf))
        buf.y, buf.prev_y = buf.prev_y, buf.y
        self._has_prev, self._prev_hist = True, hist

    def update_psnr(self, gt: np.ndarray, lq: np.ndarray) -> None:
        """The compressed frame's RGB PSNR against the original (capped), in frame order."""
        psnr = psnr_from_counts(abs_diff_counts(gt, lq))
        self.psnr_lq.append(PSNR_CAP if math.isinf(psnr) else min(psnr, PSNR_CAP))

    def result(self) -> ClipStats:
        return ClipStats(self.scene_change, self.motion, self.texture, self.psnr_lq)
