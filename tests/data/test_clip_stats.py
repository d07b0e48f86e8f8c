"""The cleaning statistics and the duplicate test equal their plain numpy definitions exactly.

``ClipStatsAccumulator`` takes the luma, its histogram, the absolute-difference sums and the PSNR's
squared error from compiled single-pass kernels (``frame_kernels``: much faster at 1080p); what it stores must still be
exactly what the plain numpy formulas of the definition (``clip_stats``'s docstring) give, on real
frames and on the corner cases (identical frames, black and white frames, odd sizes, frames one pixel wide).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from vsr_lightning.data.clip_stats import PSNR_CAP, ClipStatsAccumulator, abs_diff_counts, luma
from vsr_lightning.data.duplicates import frames_equal, originals_repeat
from vsr_lightning.data.frame_kernels import squared_error
from vsr_lightning.data.video_io import VideoReader, psnr_uint8


def _luma(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.int64)
    return (19595 * c[..., 0] + 38470 * c[..., 1] + 7471 * c[..., 2] + 32768) >> 16


def _reference(gts: np.ndarray, lqs: np.ndarray, bins: int = 64) -> dict[str, list[float]]:
    """The definition in plain numpy: int64 luma, bincount, int64 sums, one division each."""
    out: dict[str, list[float]] = {"scene_change": [], "motion": [], "texture": [], "psnr_lq": []}
    prev_y = prev_counts = None
    for gt, lq in zip(gts, lqs, strict=True):
        y = _luma(gt)
        h, w = y.shape
        counts = np.bincount((y * bins // 256).ravel(), minlength=bins)
        first = prev_y is None
        out["scene_change"].append(0.0 if first else int(np.abs(counts - prev_counts).sum()) / (h * w))
        out["motion"].append(0.0 if first else int(np.abs(y - prev_y).sum()) / (h * w))
        gx = int(np.abs(np.diff(y, axis=1)).sum()) / (h * (w - 1))
        gy = int(np.abs(np.diff(y, axis=0)).sum()) / ((h - 1) * w)
        out["texture"].append(0.5 * (gx + gy))
        psnr = psnr_uint8(gt, lq)
        out["psnr_lq"].append(PSNR_CAP if math.isinf(psnr) else min(psnr, PSNR_CAP))
        prev_y, prev_counts = y, counts
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
def test_stats_equal_their_definition_exactly(carphone, bins):
    gt, lq = carphone
    assert _accumulated(gt, lq, bins) == _reference(gt, lq, bins)


def test_luma_is_the_integer_bt601_formula_and_pillows_on_every_colour():
    values = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.stack([values >> 16, (values >> 8) & 255, values & 255], axis=-1).astype(np.uint8)
    rgb = rgb.reshape(4096, 4096, 3)
    y = luma(rgb)
    assert np.array_equal(y, _luma(rgb))
    assert np.array_equal(y, np.asarray(Image.fromarray(rgb, "RGB").convert("L")))


def _padded_rows(frames: np.ndarray, pad: int) -> np.ndarray:
    """The same frames as views into rows ``pad`` bytes longer, as a decoder's padded planes are."""
    n, h, w, _ = frames.shape
    rows = np.full((n, h, 3 * w + pad), 77, np.uint8)
    rows[:, :, : 3 * w] = frames.reshape(n, h, 3 * w)
    return rows[:, :, : 3 * w].reshape(n, h, w, 3)


def test_frames_viewed_in_padded_or_strided_memory_give_the_same_stats(carphone):
    gt, lq = carphone
    expected = _reference(gt, lq)
    padded_gt, padded_lq = _padded_rows(gt, 13), _padded_rows(lq, 32)
    assert not padded_gt.flags.c_contiguous and np.array_equal(padded_gt, gt)
    assert _accumulated(padded_gt, padded_lq) == expected
    strided = _accumulated(gt[:, ::2, ::3], lq[:, ::2, ::3])  # pixels not contiguous: rows copied
    assert strided == _reference(np.ascontiguousarray(gt[:, ::2, ::3]), np.ascontiguousarray(lq[:, ::2, ::3]))


def test_the_squared_error_of_a_very_wide_frame_does_not_overflow():
    a = np.zeros((2, 40000, 3), np.uint8)
    b = np.full_like(a, 255)
    assert squared_error(a, b) == a.size * 255**2
    assert _accumulated(a[None], b[None])["psnr_lq"] == [0.0]


def test_corner_frames_exactly():
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 256, (6, 33, 47, 3), dtype=np.uint8)  # odd size, full range
    gt[0], gt[1] = 0, 255
    lq = gt.copy()
    lq[2:] = rng.integers(0, 256, lq[2:].shape, dtype=np.uint8)
    lq[4] = 255 - gt[4]  # the largest differences
    assert _accumulated(gt, lq) == _reference(gt, lq)
    assert _accumulated(gt, lq)["psnr_lq"][:2] == [PSNR_CAP, PSNR_CAP]
    assert _accumulated(gt, lq)["scene_change"][1] == 2.0  # black to white: every pixel changes bin


def test_a_frame_one_pixel_wide_or_high_has_texture_in_one_direction():
    column = np.arange(0, 250, 50, dtype=np.uint8).repeat(3).reshape(5, 1, 3)  # luma 0, 50, ... 200
    assert _accumulated(column[None], column[None])["texture"] == [0.5 * 50.0]
    assert _accumulated(column.transpose(1, 0, 2)[None], column.transpose(1, 0, 2)[None])["texture"] == [25.0]


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
    psnr = psnr_uint8(a, b)
    assert originals_repeat(a, b, psnr) and not originals_repeat(a, b, psnr + 1e-9)
    with pytest.raises(ValueError, match="uint8"):
        abs_diff_counts(a.astype(np.int16), b)


def test_a_frame_of_another_size_is_refused():
    acc = ClipStatsAccumulator()
    acc.update(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="6x8"):
        acc.update(np.zeros((8, 6, 3), np.uint8), np.zeros((8, 6, 3), np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        ClipStatsAccumulator().update_original(np.zeros((8, 8), np.uint8))
