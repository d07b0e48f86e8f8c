"""The cleaning statistics and the duplicate test equal their plain numpy definitions bit for bit.

``ClipStatsAccumulator`` computes into reused buffers and takes the PSNR's squared error from a
histogram of absolute differences (it is that much faster at 1080p); what it stores must still be
exactly what the float32 formulas give, on real frames and on the corner cases (identical frames,
black and white frames, odd sizes).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from vsr_lightning.data.clip_stats import PSNR_CAP, ClipStatsAccumulator, abs_diff_counts, luma
from vsr_lightning.data.duplicates import frames_equal
from vsr_lightning.data.video_io import VideoReader, psnr_uint8


def _reference(gts: np.ndarray, lqs: np.ndarray, bins: int = 64) -> dict[str, list[float]]:
    """The statistics as first written: fresh float32 arrays and numpy's own reductions."""
    out: dict[str, list[float]] = {"scene_change": [], "motion": [], "texture": [], "psnr_lq": []}
    prev_y = prev_hist = None
    for gt, lq in zip(gts, lqs, strict=True):
        y = luma(gt)
        codes = np.clip(y * (bins / 256.0), 0, bins - 1).astype(np.intp)
        hist = np.bincount(codes.ravel(), minlength=bins).astype(np.float64)
        hist /= max(hist.sum(), 1.0)
        first = prev_y is None
        out["scene_change"].append(0.0 if first else float(np.abs(hist - prev_hist).sum()))
        out["motion"].append(0.0 if first else float(np.mean(np.abs(y - prev_y))))
        gy, gx = np.abs(np.diff(y, axis=0)).mean(), np.abs(np.diff(y, axis=1)).mean()
        out["texture"].append(float(0.5 * (gx + gy)))
        psnr = psnr_uint8(gt, lq)
        out["psnr_lq"].append(PSNR_CAP if math.isinf(psnr) else min(psnr, PSNR_CAP))
        prev_y, prev_hist = y, hist
    return out


def _accumulated(gts: np.ndarray, lqs: np.ndarray, bins: int = 64) -> dict[str, list[float]]:
    acc = ClipStatsAccumulator(bins)
    for gt, lq in zip(gts, lqs, strict=True):
        acc.update(gt, lq)
    stats = acc.result()
    return {k: getattr(stats, k) for k in ("scene_change", "motion", "texture", "psnr_lq")}


@pytest.fixture(scope="module")
def carphone(carphone_path) -> tuple[np.ndarray, np.ndarray]:
    gt = VideoReader(carphone_path).read(0, 12)
    rng = np.random.default_rng(0)
    lq = np.clip(gt.astype(np.int16) + rng.integers(-12, 13, gt.shape), 0, 255).astype(np.uint8)
    lq[3] = gt[3]  # identical: PSNR capped
    return gt, lq


@pytest.mark.parametrize("bins", [64, 7, 256])
def test_stats_equal_the_float32_definitions_bit_for_bit(carphone, bins):
    gt, lq = carphone
    assert _accumulated(gt, lq, bins) == _reference(gt, lq, bins)


def test_corner_frames_bit_for_bit():
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 256, (6, 33, 47, 3), dtype=np.uint8)  # odd size, full range
    gt[0], gt[1] = 0, 255
    lq = gt.copy()
    lq[2:] = rng.integers(0, 256, lq[2:].shape, dtype=np.uint8)
    lq[4] = 255 - gt[4]  # the largest differences
    assert _accumulated(gt, lq) == _reference(gt, lq)
    assert _accumulated(gt, lq)["psnr_lq"][:2] == [PSNR_CAP, PSNR_CAP]


def test_abs_diff_counts_and_the_duplicate_threshold():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    b = a.copy()
    b[rng.random(a.shape) < 0.3] = rng.integers(0, 256, 1, dtype=np.uint8)
    counts = abs_diff_counts(a, b)
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    assert np.array_equal(counts, np.bincount(diff.ravel(), minlength=256))
    mad = float(np.mean(diff))
    assert frames_equal(a, b, mad) and not frames_equal(a, b, np.nextafter(mad, 0))
    with pytest.raises(ValueError, match="uint8"):
        abs_diff_counts(a.astype(np.int16), b)


def test_a_frame_of_another_size_is_refused():
    acc = ClipStatsAccumulator()
    acc.update(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="6x8"):
        acc.update(np.zeros((8, 6, 3), np.uint8), np.zeros((8, 6, 3), np.uint8))
