"""Per-video quality metrics: PSNR and SSIM per frame, RGB and Y, averaged per video then over videos.

Per-frame PSNR comes from torchmetrics, the luma from kornia's BT.601 conversion; SSIM is a
separable-filter implementation on luma, checked against torchmetrics (see :func:`frame_ssim` for
why). Outputs are quantised to 8 bits first, as they would be when saved, so the numbers match
what a user measures on written frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from kornia.color import rgb_to_ycbcr
from torch import Tensor
from torch.nn import functional as F
from torchmetrics.functional.image import peak_signal_noise_ratio

PSNR_CAP = 100.0
"""Identical frames have infinite PSNR; they are capped so means stay finite (and say so)."""


@dataclass(frozen=True)
class PsnrConvention:
    """How PSNR is measured; logged with every run and printed under every table."""

    channel: str = "rgb"
    crop_border: int = 0
    average: str = "per video, then over videos"

    def describe(self) -> str:
        return f"{self.channel.upper()} PSNR, crop border {self.crop_border}, averaged {self.average}"


def quantize(x: Tensor) -> Tensor:
    """Round a [0, 1] image to 8-bit levels (what saving it as PNG does)."""
    return x.clamp(0, 1).mul(255).round().div(255)


def _crop(x: Tensor, border: int) -> Tensor:
    return x[..., border:-border, border:-border] if border > 0 else x


def luma(x: Tensor) -> Tensor:
    """BT.601 luma of ``(..., 3, H, W)`` RGB in [0, 1], keeping a channel dimension."""
    return rgb_to_ycbcr(x)[..., :1, :, :]


def frame_psnr(pred: Tensor, target: Tensor, crop_border: int = 0, channel: str = "rgb") -> Tensor:
    """PSNR (dB) of each frame of ``(T, 3, H, W)`` tensors in [0, 1]; capped at :data:`PSNR_CAP`."""
    pred, target = quantize(pred), quantize(target)
    if channel == "y":
        pred, target = luma(pred), luma(target)
    elif channel != "rgb":
        raise ValueError(f"channel must be 'rgb' or 'y', got {channel!r}")
    pred, target = _crop(pred, crop_border).double(), _crop(target, crop_border).double()
    psnr = peak_signal_noise_ratio(pred, target, data_range=1.0, reduction="none", dim=(1, 2, 3))
    return torch.nan_to_num(psnr, posinf=PSNR_CAP).clamp(max=PSNR_CAP).float()


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    w = torch.exp(-(x**2) / (2 * sigma**2))
    return w / w.sum()


def _blur(x: Tensor, window: Tensor) -> Tensor:
    """Separable Gaussian filter, 'valid' region (no padding), per channel."""
    n, c, h, w = x.shape
    k = window.to(x)
    x = x.reshape(n * c, 1, h, w)  # one single-channel conv is much faster on CPU than a grouped one
    x = F.conv2d(F.conv2d(x, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))
    return x.reshape(n, c, *x.shape[-2:])


def frame_ssim(pred: Tensor, target: Tensor, crop_border: int = 0) -> Tensor:
    """SSIM of each frame on the BT.601 luma (Wang et al. 2004: Gaussian window 11, sigma 1.5, valid region).

    Luma only, as BasicSR's ``test_y_channel`` and MFQE-style papers report it, and with a separable
    filter rather than torchmetrics' SSIM: at 640x360 torchmetrics took about 0.5 s and 300 MB per
    RGB frame on a 2-core CPU, too slow to validate whole videos; ``tests/metrics`` checks that both
    agree on the same luma.
    """
    pred = luma(_crop(quantize(pred), crop_border)).float()
    target = luma(_crop(quantize(target), crop_border)).float()
    window = _gaussian_window()
    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = _blur(pred, window), _blur(target, window)
    sxx = _blur(pred * pred, window) - mu_x**2
    syy = _blur(target * target, window) - mu_y**2
    sxy = _blur(pred * target, window) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return ssim_map.mean(dim=(1, 2, 3))


@dataclass
class VideoScores:
    """Per-frame scores of one video (output and compressed input against the original)."""

    video: str
    psnr: list[float]
    psnr_lq: list[float]
    psnr_y: list[float]
    psnr_y_lq: list[float]
    ssim: list[float]
    pqf: list[bool] = field(default_factory=list)

    def means(self) -> dict[str, float]:
        def mean(v: list[float]) -> float:
            return sum(v) / len(v)

        return {
            "psnr": mean(self.psnr),
            "psnr_lq": mean(self.psnr_lq),
            "ssim": mean(self.ssim),
            "psnr_y": mean(self.psnr_y),
            "psnr_y_lq": mean(self.psnr_y_lq),
        }


def score_video(
    video: str,
    output: Tensor,
    lq: Tensor,
    gt: Tensor,
    crop_border: int = 0,
    pqf: Tensor | None = None,
    chunk: int = 16,
) -> VideoScores:
    """Score a ``(T, 3, H, W)`` output and its compressed input against the original, frame by frame."""
    columns: dict[str, list[float]] = {k: [] for k in ("psnr", "psnr_lq", "psnr_y", "psnr_y_lq", "ssim")}
    for a in range(0, output.shape[0], chunk):
        o, q, g = output[a : a + chunk].float(), lq[a : a + chunk].float(), gt[a : a + chunk].float()
        columns["psnr"] += frame_psnr(o, g, crop_border).tolist()
        columns["psnr_lq"] += frame_psnr(q, g, crop_border).tolist()
        columns["psnr_y"] += frame_psnr(o, g, crop_border, "y").tolist()
        columns["psnr_y_lq"] += frame_psnr(q, g, crop_border, "y").tolist()
        columns["ssim"] += frame_ssim(o, g, crop_border).tolist()
    flags = [bool(v) for v in pqf.tolist()] if pqf is not None else []
    return VideoScores(video, **columns, pqf=flags)


def aggregate(scores: list[VideoScores]) -> dict[str, float]:
    """Means over videos of the per-video means (each video weighs the same, whatever its length)."""
    per_video = [s.means() for s in scores]
    out = {k: sum(m[k] for m in per_video) / len(per_video) for k in per_video[0]}
    out["psnr_gain"] = out["psnr"] - out["psnr_lq"]
    return out
