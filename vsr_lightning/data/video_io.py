"""Lazy video reading and writing through PyAV (FFmpeg), plus raw 8-bit YUV 4:2:0 files.

Frames are decoded one at a time so a 1080p, 600-frame video never sits whole in memory. RGB frames
are ``(H, W, 3) uint8`` arrays converted by FFmpeg's swscale (BT.601), the same conversion for the
original and the compressed video, so GT and LQ stay comparable.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vsr_lightning.data.errors import DataError

RAW_YUV_SUFFIXES = {".yuv"}
"""Files with these suffixes are raw planar 8-bit YUV 4:2:0 and need an explicit size."""

RAW_BITSTREAM_FORMATS = {
    ".bin": "hevc",
    ".hevc": "hevc",
    ".265": "hevc",
    ".h265": "hevc",
    ".264": "h264",
    ".h264": "h264",
}
"""Elementary streams without a container (HM writes ``.bin``): FFmpeg is told the format instead of
guessing it, and their rate comes from the caller (they carry no timing)."""


@dataclass(frozen=True)
class VideoInfo:
    """What a reader knows about a video before decoding it all."""

    path: Path
    width: int
    height: int
    fps: float
    num_frames: int
    announced_frames: int | None = None
    """What the container's header says it holds (stream frame count or duration x rate), when it says."""


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``WxH`` (e.g. ``416x240``) into ``(width, height)``."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise ValueError(f"size must look like WIDTHxHEIGHT, got {text!r}") from err
    if w <= 0 or h <= 0:
        raise ValueError(f"size must be positive, got {text!r}")
    return w, h


def _announced_frames(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, rate: Fraction
) -> int | None:
    if stream.frames:
        return int(stream.frames)
    if stream.duration and stream.time_base:
        return round(float(stream.duration * stream.time_base * rate))
    if container.duration:
        return round(container.duration / av.time_base * float(rate))
    return None


class VideoReader:
    """Read a video lazily as RGB frames (or as ``yuv420p`` PyAV frames for re-encoding).

    Args:
        path: any FFmpeg-readable file (mp4, mkv, y4m, ...) or a raw ``.yuv`` file.
        size: ``(width, height)``; required for raw YUV, ignored otherwise.
        fps: frame rate to report for raw YUV and bare bitstreams (containers carry their own).
        resize: optional ``(width, height)`` to rescale every frame to (area filter).
    """

    def __init__(
        self,
        path: str | Path,
        size: tuple[int, int] | None = None,
        fps: float = 25.0,
        resize: tuple[int, int] | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(self.path, "no such video file")
        self.raw = self.path.suffix.lower() in RAW_YUV_SUFFIXES
        self._format = RAW_BITSTREAM_FORMATS.get(self.path.suffix.lower())
        self._fps = fps
        self.resize = resize
        if self.raw:
            if size is None:
                raise DataError(self.path, "raw YUV needs its frame size (--size WxH)")
            self._raw_size = size
            self._info = self._probe_raw(size, fps)
        else:
            self._info = self._probe_container()

    @property
    def info(self) -> VideoInfo:
        return self._info

    def __len__(self) -> int:
        return self._info.num_frames

    # -- probing -------------------------------------------------------------------------------
    def _probe_raw(self, size: tuple[int, int], fps: float) -> VideoInfo:
        w, h = size
        if w % 2 or h % 2:
            raise DataError(self.path, f"raw YUV 4:2:0 needs even width and height, got {w}x{h}")
        frame_bytes = w * h * 3 // 2
        total = self.path.stat().st_size
        if total == 0 or total % frame_bytes:
            raise DataError(
                self.path,
                f"truncated or wrong size: {total} bytes is not a whole number of {w}x{h} "
                f"YUV 4:2:0 frames ({frame_bytes} bytes each)",
            )
        out_w, out_h = self.resize or (w, h)
        return VideoInfo(self.path, out_w, out_h, float(fps), total // frame_bytes)

    def _probe_container(self) -> VideoInfo:
        try:
            with av.open(str(self.path), format=self._format) as container:
                if not container.streams.video:
                    raise DataError(self.path, "no video stream")
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate or Fraction(25)
                if self._format is not None:
                    rate = Fraction(self._fps).limit_denominator(1001)
                width, height = stream.codec_context.width, stream.codec_context.height
                announced = None if self._format else _announced_frames(container, stream, rate)
                count = 0
                for packet in container.demux(stream):
                    if packet.size:
                        count += 1
        except av.FFmpegError as err:
            raise DataError(self.path, f"unreadable video ({err})") from err
        if count == 0 or width == 0 or height == 0:
            raise DataError(self.path, "unreadable video: no decodable frames")
        out_w, out_h = self.resize or (width, height)
        return VideoInfo(self.path, out_w, out_h, float(rate), count, announced)

    def truncation(self) -> str | None:
        """Why the file looks cut short (its header announces clearly more frames than it holds), or None.

        Two frames (or 2 %) of slack: some containers announce a frame or two they do not hold."""
        announced, held = self._info.announced_frames, self._info.num_frames
        if announced is None or held >= announced - max(2, announced // 50):
            return None
        return f"truncated: the container announces {announced} frames but holds {held}"

    # -- decoding ------------------------------------------------------------------------------
    def _frames(self, pixel_format: str) -> Iterator[av.VideoFrame]:
        produced = 0
        w, h = self._info.width, self._info.height
        frames = self._raw_frames() if self.raw else self._container_frames()
        for frame in frames:
            if frame.format.name != pixel_format or frame.width != w or frame.height != h:
                frame = frame.reformat(width=w, height=h, format=pixel_format, interpolation="AREA")
            produced += 1
            yield frame
        if produced < self._info.num_frames:
            raise DataError(self.path, f"truncated video: {self._info.num_frames} frames expected, {produced} decoded")

    def yuv_frames(self) -> Iterator[av.VideoFrame]:
        """Yield frames as PyAV ``yuv420p`` frames (the encoder's input, no RGB round trip)."""
        return self._frames("yuv420p")

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield ``(H, W, 3) uint8`` RGB frames in display order (RGB videos are read exactly)."""
        for frame in self._frames("rgb24"):
            yield frame.to_ndarray()

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Decode frames ``[start, stop)`` into a ``(T, H, W, 3)`` array (decodes from the start)."""
        stop = self._info.num_frames if stop is None else stop
        if not 0 <= start < stop <= self._info.num_frames:
            raise IndexError(f"{self.path}: frames [{start}, {stop}) out of range 0..{self._info.num_frames}")
        out = np.empty((stop - start, self._info.height, self._info.width, 3), dtype=np.uint8)
        for i, frame in enumerate(self):
            if i >= stop:
                break
            if i >= start:
                out[i - start] = frame
        return out

    def _raw_frames(self) -> Iterator[av.VideoFrame]:
        w, h = self._raw_size
        frame_bytes = w * h * 3 // 2
        with open(self.path, "rb") as handle:
            while True:
                buf = handle.read(frame_bytes)
                if len(buf) < frame_bytes:
                    return
                planes = np.frombuffer(buf, dtype=np.uint8).reshape(h * 3 // 2, w)
                yield av.VideoFrame.from_ndarray(planes, format="yuv420p")

    def _container_frames(self) -> Iterator[av.VideoFrame]:
        try:
            with av.open(str(self.path), format=self._format) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                yield from container.decode(stream)
        except av.FFmpegError as err:
            raise DataError(self.path, f"decoding failed ({err})") from err


def write_png(frame: np.ndarray, path: Path) -> None:
    """Write one RGB uint8 frame as PNG (zlib level 1: datasets are written often, size matters less)."""
    Image.fromarray(np.ascontiguousarray(frame)).save(path, format="PNG", compress_level=1)


def read_png(path: Path) -> np.ndarray:
    """Read a PNG frame as ``(H, W, 3) uint8`` RGB, naming the file on failure."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as err:
        raise DataError(path, f"unreadable frame ({err})") from err


def frame_name(index: int) -> str:
    """LDV-style frame file name: ``000.png``, ``001.png``, ..."""
    return f"{index:03d}.png"


class VideoWriter:
    """Write RGB frames to a video file.

    ``lossless=True`` stores RGB exactly (x264 in RGB mode, CRF 0); otherwise x264 at the given CRF
    in YUV 4:2:0, which is small and plays everywhere.
    """

    def __init__(self, path: str | Path, fps: float, lossless: bool = True, crf: int = 12) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w")
        rate = Fraction(fps).limit_denominator(1001)
        if lossless:
            self._stream = self._container.add_stream("libx264rgb", rate=rate)
            self._stream.pix_fmt = "rgb24"
            self._stream.options = {"crf": "0", "preset": "veryfast"}
        else:
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(crf), "preset": "medium"}
        self._opened = False
        self.frames_written = 0

    def write(self, frame: np.ndarray) -> None:
        if not self._opened:
            self._stream.width, self._stream.height = frame.shape[1], frame.shape[0]
            self._opened = True
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        if self._opened:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def even_size_or_error(path: Path, width: int, height: int) -> None:
    """HEVC 4:2:0 needs even sizes; say so naming the file instead of failing inside x265."""
    if width % 2 or height % 2:
        raise DataError(path, f"odd frame size {width}x{height}: 4:2:0 video needs even width and height")


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 arrays (peak 255); ``inf`` for identical inputs."""
    diff = a.astype(np.float32) - b.astype(np.float32)
    mse = float(np.mean(diff * diff, dtype=np.float64))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)
