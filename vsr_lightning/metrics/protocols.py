"""Score outputs the way each benchmark's papers do: a named protocol, streamed frame by frame.

``ntire22`` (NTIRE 2022 Track 1 on LDV 2.0): RGB PSNR of 8-bit frames, peak 255, no crop, the mean
over a video's frames, then over videos; frames whose MSE is 0 are left out of the average, as the
organisers did. YUV and video inputs become RGB through FFmpeg's swscale (BT.601), as the organisers'
ffmpeg PNG export does.

``mfqe`` (MFQE 2.0, STDF, RFDA): Y-channel ΔPSNR and ΔSSIM of the output over the compressed input,
per sequence (mean over frames), tabled by JCT-VC class and averaged over sequences. Y is the luma
plane as an 8-bit YUV 4:2:0 file stores it (BT.601 studio range, 16-235, no rescaling), peak 255;
PNG frames get the BT.601 studio-range luma of their RGB. SSIM: Gaussian window 11, sigma 1.5, valid
region, constants for peak 255. Frames with MSE 0 are left out of a PSNR mean here too (the papers
give no rule; none occur in practice) and counted in the table's notes. When any of the three videos
is RGB (PNG frames), all three take the studio-range luma of their RGB frames (YUV ones converted by
swscale first), so an output saved as PNG is compared on the same footing as its input; swscale's
YUV -> RGB -> Y round trip alone moves Y by about 1 level, which would otherwise show as a loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.frame_sources import FrameSource, studio_luma
from vsr_lightning.data.pairing import check_same_frames
from vsr_lightning.metrics.jctvc_classes import jctvc_class
from vsr_lightning.metrics.ssim_float64 import ssim_of_luma_float64

PEAK = 255.0


@dataclass(frozen=True)
class Protocol:
    """How one benchmark scores: which channel, whether SSIM is reported, and the words for the table."""

    name: str
    channel: str
    """``rgb`` (8-bit RGB frames) or ``y`` (luma plane)."""
    ssim: bool
    convention: str


PROTOCOLS: dict[str, Protocol] = {
    "ntire22": Protocol(
        "ntire22",
        "rgb",
        False,
        "RGB PSNR on 8-bit frames (YUV converted by FFmpeg's swscale, BT.601, as ffmpeg's PNG export), peak 255, "
        "crop border 0, averaged per video then over videos; frames with MSE 0 left out (NTIRE 2022 Track 1)",
    ),
    "mfqe": Protocol(
        "mfqe",
        "y",
        True,
        "Y-channel (BT.601) PSNR and SSIM, Y as stored in 8-bit YUV 4:2:0 (studio range 16-235, not rescaled; "
        "PNG frames: BT.601 studio-range luma of their RGB), peak 255, SSIM Gaussian 11 / 1.5 on the valid "
        "region; Δ = output minus compressed input, mean over frames per sequence, then over sequences "
        "(MFQE 2.0 / STDF practice); frames with MSE 0 left out",
    ),
}


def frame_mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error of two frames in float64 (uint8 RGB or float luma, same shape)."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(diff * diff))


def psnr_db(mse: float, peak: float = PEAK) -> float:
    """PSNR in dB of an MSE; ``inf`` for 0 (callers leave such frames out)."""
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


class _FiniteMean:
    """Mean of the finite values fed to it; counts the infinite ones it left out."""

    def __init__(self) -> None:
        self.total, self.count, self.left_out = 0.0, 0, 0

    def add(self, value: float) -> None:
        if math.isfinite(value):
            self.total += value
            self.count += 1
        else:
            self.left_out += 1

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.inf


@dataclass
class VideoResult:
    """One video's scores under a protocol (PSNR in dB, SSIM on Y for ``mfqe``)."""

    name: str
    video_class: str | None
    frames: int
    psnr: float
    psnr_lq: float
    ssim: float | None = None
    ssim_lq: float | None = None
    left_out: int = 0
    """Frames left out of the output's PSNR mean (MSE 0)."""
    left_out_lq: int = 0
    luma_from_rgb: bool = False
    """``mfqe``: Y computed from RGB frames (some input was PNG) rather than read from the Y planes."""

    @property
    def delta_psnr(self) -> float:
        return self.psnr - self.psnr_lq

    @property
    def delta_ssim(self) -> float | None:
        return None if self.ssim is None or self.ssim_lq is None else self.ssim - self.ssim_lq


def _frames(source: FrameSource, channel: str, luma_from_rgb: bool) -> Iterator[np.ndarray]:
    if channel == "rgb":
        return source.rgb_frames()
    if luma_from_rgb:
        return (studio_luma(frame) for frame in source.rgb_frames())
    return source.luma_frames()


def _ssim_pair(out: np.ndarray, lq: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    return ssim_of_luma_float64(out, gt, PEAK), ssim_of_luma_float64(lq, gt, PEAK)


def score_video(protocol: Protocol, name: str, output: FrameSource, lq: FrameSource, gt: FrameSource) -> VideoResult:
    """Score one output and its compressed input against the original, one frame at a time."""
    check_same_frames(gt, lq)
    check_same_frames(output, gt)
    psnr, psnr_lq = _FiniteMean(), _FiniteMean()
    ssim, ssim_lq = [], []
    from_rgb = protocol.channel == "y" and any(s.kind == "png" for s in (output, lq, gt))
    frames = zip(*(_frames(s, protocol.channel, from_rgb) for s in (output, lq, gt)), strict=False)
    count = 0
    for o, q, g in frames:
        psnr.add(psnr_db(frame_mse(o, g)))
        psnr_lq.add(psnr_db(frame_mse(q, g)))
        if protocol.ssim:
            s, s_lq = _ssim_pair(o, q, g)
            ssim.append(s)
            ssim_lq.append(s_lq)
        count += 1
    if count != gt.num_frames:
        raise DataError(gt.path, f"decoded {count} frames of {gt.num_frames} beside {output.path} and {lq.path}")
    return VideoResult(
        name=name,
        video_class=jctvc_class(name, gt.width, gt.height),
        frames=count,
        psnr=psnr.mean,
        psnr_lq=psnr_lq.mean,
        ssim=sum(ssim) / count if protocol.ssim else None,
        ssim_lq=sum(ssim_lq) / count if protocol.ssim else None,
        left_out=psnr.left_out,
        left_out_lq=psnr_lq.left_out,
        luma_from_rgb=from_rgb,
    )


def mean_over_videos(results: list[VideoResult], key: str) -> float | None:
    """Mean of one per-video value over videos (each video weighs the same, whatever its length)."""
    values = [getattr(r, key) for r in results]
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)
