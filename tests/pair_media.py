"""Benchmark-style media for the tests, written with PyAV directly (not through the code under test):
raw YUV 4:2:0 files with JCT-VC names, bare HEVC bitstreams, PNG folders."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType
from PIL import Image


def yuv_planes(path: Path, width: int, height: int) -> np.ndarray:
    """All frames of a raw 4:2:0 file as ``(T, H * 3 / 2, W)`` uint8."""
    data = np.fromfile(path, dtype=np.uint8)
    return data.reshape(-1, height * 3 // 2, width)


def decoded_planes(path: Path, fmt: str | None = None) -> np.ndarray:
    """Every frame of a video file decoded to yuv420p planes ``(T, H * 3 / 2, W)``."""
    with av.open(str(path), format=fmt) as container:
        return np.stack([f.reformat(format="yuv420p").to_ndarray() for f in container.decode(video=0)])


def planes_to_rgb(planes: np.ndarray) -> np.ndarray:
    """yuv420p planes to RGB through swscale (what ffmpeg's PNG export does)."""
    return np.stack([av.VideoFrame.from_ndarray(p, format="yuv420p").to_ndarray(format="rgb24") for p in planes])


def write_yuv(planes: Iterable[np.ndarray], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for p in planes:
            handle.write(np.ascontiguousarray(p, dtype=np.uint8).tobytes())
    return path


def write_hevc(planes: Iterable[np.ndarray], path: Path, qp: int = 37, fps: int = 25, fmt: str = "hevc") -> Path:
    """Encode yuv420p planes with libx265 (ultrafast, no B-frames) as a bare bitstream (``fmt="hevc"``) or mkv."""
    path.parent.mkdir(parents=True, exist_ok=True)
    container = av.open(str(path), "w", format=fmt)
    stream = None
    for t, p in enumerate(planes):
        if stream is None:
            stream = container.add_stream("libx265", rate=fps)
            stream.height, stream.width = p.shape[0] * 2 // 3, p.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.options = {"preset": "ultrafast", "x265-params": f"qp={qp}:bframes=0:keyint=-1:log-level=error"}
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(p), format="yuv420p")
        frame.pts, frame.pict_type = t, PictureType.NONE
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def write_pngs(frames: Iterable[np.ndarray], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{t:03d}.png")
    return folder


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al.'s SSIM (Gaussian 11 / 1.5, valid windows, peak 255), by explicit windows."""
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / 4.5)
    w = np.outer(g, g) / np.outer(g, g).sum()
    x, y = a.astype(np.float64), b.astype(np.float64)
    win = np.lib.stride_tricks.sliding_window_view

    def mean(z):
        return np.einsum("ijkl,kl->ij", win(z, (11, 11)), w)

    mx, my = mean(x), mean(y)
    vx, vy, cxy = mean(x * x) - mx**2, mean(y * y) - my**2, mean(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float(np.mean((2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))))
