"""Per-video metrics against hand-computed values on real frames."""

from __future__ import annotations

import math

import numpy as np
import torch

from vsr_lightning.data.video_io import VideoReader, psnr_uint8
from vsr_lightning.metrics.video_quality import PsnrConvention, aggregate, frame_psnr, frame_ssim, score_video


def _frames(path, n=4):
    return torch.from_numpy(VideoReader(path).read(0, n)).permute(0, 3, 1, 2).float() / 255


def test_rgb_psnr_matches_uint8_formula(carphone_path):
    gt = _frames(carphone_path)
    noisy = (gt + 0.03 * torch.randn_like(gt)).clamp(0, 1)
    ours = frame_psnr(noisy, gt)
    g8 = (gt * 255).round().byte().permute(0, 2, 3, 1).numpy()
    n8 = (noisy * 255).round().byte().permute(0, 2, 3, 1).numpy()
    expected = [psnr_uint8(a, b) for a, b in zip(n8, g8, strict=True)]
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-3)


def test_crop_border_and_y_channel(carphone_path):
    gt = _frames(carphone_path, 2)
    pred = gt.clone()
    pred[..., :2, :] = 0  # damage only the border rows
    assert torch.all(frame_psnr(pred, gt, crop_border=2) == 100.0)  # identical inside: capped
    assert torch.all(frame_psnr(pred, gt) < 40)
    y = frame_psnr(pred, gt, channel="y")
    assert y.shape == (2,) and torch.all(y < 100)


def test_ssim_is_one_for_identical_and_lower_for_noise(carphone_path):
    gt = _frames(carphone_path, 2)
    assert torch.allclose(frame_ssim(gt, gt), torch.ones(2))
    assert torch.all(frame_ssim((gt + 0.1 * torch.randn_like(gt)).clamp(0, 1), gt) < 0.9)


def test_average_per_video_then_over_videos(carphone_path):
    gt = _frames(carphone_path, 6)
    a = score_video("a", (gt + 0.01).clamp(0, 1), (gt + 0.05).clamp(0, 1), gt)
    b = score_video("b", (gt[:2] + 0.02).clamp(0, 1), (gt[:2] + 0.05).clamp(0, 1), gt[:2])
    total = aggregate([a, b])
    assert math.isclose(total["psnr"], (np.mean(a.psnr) + np.mean(b.psnr)) / 2, rel_tol=1e-9)
    assert math.isclose(total["psnr_gain"], total["psnr"] - total["psnr_lq"], rel_tol=1e-9)
    assert "crop border 0" in PsnrConvention().describe()


def test_ssim_agrees_with_torchmetrics(carphone_path):
    from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

    gt = _frames(carphone_path, 2)
    noisy = (gt + 0.05 * torch.randn_like(gt)).clamp(0, 1)
    ours = frame_ssim(noisy, gt)
    q = lambda x: (x * 255).round() / 255  # noqa: E731
    y = lambda x: (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:]).double()  # noqa: E731
    theirs = tm_ssim(y(q(noisy)), y(q(gt)), data_range=1.0, reduction="none")
    # torchmetrics pads the borders where we use the valid region: equal up to the border share
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-2)
