"""The videos a benchmark ships or a method writes, whatever form they take, read one frame at a time.

A *frame source* is one video: an FFmpeg-readable file (HEVC bitstreams ``.bin``/``.hevc`` included),
a raw YUV 4:2:0 file (size and rate from a JCT-VC style name such as ``Name_416x240_50.yuv``, or
from ``--size``/``--fps``), or a folder of PNG frames. :func:`discover_sources` turns a path (one
such video, or a folder of them) into sources named by their video name, the key that pairs a
ground truth with its compressed version and with a method's output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.video_io import RAW_BITSTREAM_FORMATS, RAW_YUV_SUFFIXES, VideoReader, read_png
from vsr_lightning.data.yuv_names import parse_jctvc_name

VIDEO_FILE_SUFFIXES = {
    ".mp4",
    ".mkv",
    ".y4m",
    ".avi",
    ".mov",
    ".webm",
    ".m4v",
    ".mpg",
    ".ts",
    *RAW_YUV_SUFFIXES,
    *RAW_BITSTREAM_FORMATS,
}
_DIGITS = re.compile(r"(\d+)")


def _natural_key(path: Path) -> tuple:
    """``2.png`` before ``10.png``: frames numbered without zero padding stay in order."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(path.name))


def studio_luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 studio-range luma (16..235) of RGB uint8 frames, float64, unrounded.

    The Y an 8-bit YUV file stores for the same picture, so RGB outputs score against YUV ground truth
    on one scale (BasicSR's and MATLAB's ``rgb2ycbcr`` give the same values)."""
    x = rgb.astype(np.float64)
    return 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0


@dataclass(frozen=True)
class FrameSource:
    """One video, by name, with what is known before decoding it."""

    name: str
    path: Path
    kind: str
    """``video`` (any FFmpeg-readable file), ``yuv`` (raw 4:2:0) or ``png`` (a folder of frames)."""
    width: int
    height: int
    fps: float
    num_frames: int
    png_files: tuple[Path, ...] = field(default=(), repr=False)
    raw_size: tuple[int, int] | None = None

    def reader(self) -> VideoReader:
        """The video reader of a file source (not of a PNG folder)."""
        if self.kind == "png":
            raise ValueError(f"{self.path}: a PNG folder has no video reader")
        return VideoReader(self.path, size=self.raw_size, fps=self.fps)

    def rgb_frames(self) -> Iterator[np.ndarray]:
        """``(H, W, 3) uint8`` RGB frames in order (YUV converted by FFmpeg's swscale, BT.601)."""
        if self.kind != "png":
            yield from self.reader()
            return
        for path in self.png_files:
            frame = read_png(path)
            if frame.shape[:2] != (self.height, self.width):
                raise DataError(
                    path,
                    f"frame is {frame.shape[1]}x{frame.shape[0]}, the folder's first is {self.width}x{self.height}",
                )
            yield frame

    def yuv_frames(self) -> Iterator[av.VideoFrame]:
        """PyAV ``yuv420p`` frames (the stored planes of YUV and video sources; PNG frames converted)."""
        if self.kind != "png":
            yield from self.reader().yuv_frames()
            return
        for frame in self.rgb_frames():
            yield av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")

    def luma_frames(self) -> Iterator[np.ndarray]:
        """``(H, W)`` float64 luma: the stored Y plane of YUV and video sources, BT.601 studio-range
        luma (:func:`studio_luma`) of PNG frames."""
        if self.kind == "png":
            for frame in self.rgb_frames():
                yield studio_luma(frame)
            return
        for frame in self.reader().yuv_frames():
            yield frame.to_ndarray()[: self.height].astype(np.float64)

    def describe(self) -> str:
        return f"{self.path} ({self.num_frames} frames, {self.width}x{self.height})"


def _png_source(folder: Path, files: list[Path]) -> FrameSource:
    files = sorted(files, key=_natural_key)
    try:
        with Image.open(files[0]) as img:
            width, height = img.size
    except (OSError, ValueError, SyntaxError) as err:
        raise DataError(files[0], f"unreadable frame ({err})") from err
    return FrameSource(folder.name, folder, "png", width, height, 0.0, len(files), tuple(files))


def _file_source(path: Path, size: tuple[int, int] | None, fps: float | None) -> FrameSource:
    named = parse_jctvc_name(path.stem)
    rate = (named.fps if named and named.fps else None) or fps or 25.0
    raw = path.suffix.lower() in RAW_YUV_SUFFIXES
    raw_size = (named.size if named else None) or size
    if raw and raw_size is None:
        raise DataError(path, "raw YUV needs its frame size: a JCT-VC style name (Name_416x240_50.yuv) or --size WxH")
    reader = VideoReader(path, size=raw_size if raw else None, fps=rate)
    info = reader.info
    return FrameSource(
        path.stem,
        path,
        "yuv" if raw else "video",
        info.width,
        info.height,
        info.fps,
        info.num_frames,
        raw_size=raw_size if raw else None,
    )


def open_source(path: Path, size: tuple[int, int] | None = None, fps: float | None = None) -> FrameSource:
    """One video at ``path``: a video or raw YUV file, or a folder holding PNG frames."""
    if path.is_dir():
        files = [p for p in path.iterdir() if p.suffix.lower() == ".png" and p.is_file()]
        if not files:
            raise DataError(path, "folder holds no PNG frames")
        return _png_source(path, files)
    if not path.is_file():
        raise DataError(path, "no such file or folder")
    return _file_source(path, size, fps)


@dataclass
class Discovered:
    """The sources found under a path, and what was passed over (and why)."""

    sources: dict[str, FrameSource]
    shadowed: list[str] = field(default_factory=list)
    """Video files passed over because a PNG folder of the same name is read instead."""


def discover_sources(root: Path, size: tuple[int, int] | None = None, fps: float | None = None) -> Discovered:
    """Videos at ``root``: one file, one PNG folder, or a folder of video files and PNG folders.

    Names are file stems and folder names. Where a PNG folder and a video file share a name (a
    prepared dataset keeps the bitstream beside its decoded frames) the PNG folder is read."""
    root = Path(root)
    if root.is_file():
        source = open_source(root, size, fps)
        return Discovered({source.name: source})
    if not root.is_dir():
        raise DataError(root, "no such file or folder")
    entries = sorted(root.iterdir(), key=_natural_key)
    if any(p.suffix.lower() == ".png" and p.is_file() for p in entries):
        source = open_source(root)
        return Discovered({source.name: source})
    found, shadowed = {}, []
    folders = [p for p in entries if p.is_dir() and any(q.suffix.lower() == ".png" for q in p.iterdir())]
    for folder in folders:
        found[folder.name] = open_source(folder)
    for path in entries:
        if not path.is_file() or path.suffix.lower() not in VIDEO_FILE_SUFFIXES:
            continue
        if path.stem in found:
            if found[path.stem].kind != "png":
                raise DataError(path, f"two videos named {path.stem!r} here (also {found[path.stem].path.name})")
            shadowed.append(path.name)
            continue
        found[path.stem] = open_source(path, size, fps)
    if not found:
        raise DataError(root, "no videos here (video files, raw .yuv, bitstreams or PNG folders)")
    return Discovered(found, shadowed)
