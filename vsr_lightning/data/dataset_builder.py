"""Build a paired (compressed, original) dataset from source videos, LDV style.

Each clip is cut from a source, compressed on its own (so it starts with an I frame, like an LDV
video), decoded, and written as PNG folders (layout ``png``) or kept as video files (layout
``video``: GT as lossless FFV1, LQ as the HEVC bitstream). The HEVC bitstream and its QP sidecar
are kept in both layouts. Everything is streamed frame by frame, and the dataset is written into a
temporary folder renamed at the very end: an interrupted build never looks complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from tqdm import tqdm

from vsr_lightning.data.clip_stats import CLIP_STATS_VERSION, ClipStatsAccumulator
from vsr_lightning.data.duplicates import DEFAULT_THRESHOLD, ORIGINAL_MIN_PSNR, DuplicateDetector
from vsr_lightning.data.errors import DataError
from vsr_lightning.data.hevc import HevcConfig, HevcEncoder, QpSidecar
from vsr_lightning.data.manifest import Manifest, VideoEntry, sha256_file
from vsr_lightning.data.video_io import VideoInfo, VideoReader, even_size_or_error, frame_name, read_png, write_png

LAYOUTS = ("png", "video")


@dataclass(frozen=True)
class SourceSpec:
    """A source video and how to read it."""

    path: Path
    size: tuple[int, int] | None = None
    """Frame size of raw YUV files."""
    fps: float = 25.0
    """Frame rate of raw YUV files."""
    resize: tuple[int, int] | None = None
    """Rescale frames to this ``(width, height)`` before anything else."""


@dataclass(frozen=True)
class ClipSpec:
    """One clip of the dataset: frames ``[start, stop)`` of a source, in one split."""

    name: str
    split: str
    source: SourceSpec
    start: int = 0
    stop: int | None = None
    repeat_every: int | None = None
    """Repeat every n-th frame once (frame-rate up-conversion, the way LDV's duplicates arise)."""


@dataclass
class BuildOptions:
    """How a dataset is built."""

    hevc: HevcConfig = field(default_factory=HevcConfig)
    layout: str = "png"
    duplicate_threshold: float = DEFAULT_THRESHOLD
    progress: bool = True
    accept_truncated: bool = False
    """Build from sources whose header announces more frames than they hold (refused by default)."""

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")


class _SourceCursor:
    """One forward pass over a source shared by all its clips (clips come in increasing order)."""

    def __init__(self, reader: VideoReader) -> None:
        self.reader = reader
        self._frames = reader.yuv_frames()
        self.position = 0

    def frames(self, clip: ClipSpec, stop: int) -> Iterator[av.VideoFrame]:
        """The clip's source frames in order, with synthetic repeats when asked."""
        if clip.start < self.position:
            self._frames, self.position = self.reader.yuv_frames(), 0
        kept = 0
        while self.position < stop:
            frame = next(self._frames)
            self.position += 1
            if self.position <= clip.start:
                continue
            yield frame
            kept += 1
            if clip.repeat_every and kept % clip.repeat_every == 0:
                yield frame


def _clip_length(clip: ClipSpec, stop: int) -> int:
    n = stop - clip.start
    return n + (n // clip.repeat_every if clip.repeat_every else 0)


class GtVideoWriter:
    """Lossless writer for original frames (layout ``video``): no colour round trip.

    ``pix_fmt`` is the frames' own format: ``yuv420p`` for video sources, ``gbrp`` for RGB (PNG) ones.
    ``codec``: ``ffv1`` (compressed, about 50 ms per 1080p frame to encode or decode) or ``rawvideo``
    (the planes as they are: what a raw YUV input already is, written and read at memory speed)."""

    def __init__(
        self, path: Path, width: int, height: int, fps: float, pix_fmt: str = "yuv420p", codec: str = "ffv1"
    ) -> None:
        if codec not in ("ffv1", "rawvideo"):
            raise ValueError(f"lossless codec must be ffv1 or rawvideo, got {codec!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(path), mode="w")
        self._stream = self._container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, pix_fmt
        self._stream.codec_context.time_base = Fraction(1) / self._stream.average_rate
        self._count = 0

    def write(self, frame: av.VideoFrame) -> None:
        frame.pts = self._count
        frame.time_base = self._stream.codec_context.time_base
        self._count += 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()


def _checked_stop(clip: ClipSpec, info: VideoInfo) -> int:
    """The clip's end frame, checked (with the frame size) before anything of the clip is written."""
    stop = info.num_frames if clip.stop is None else clip.stop
    if not 0 <= clip.start < stop <= info.num_frames:
        raise DataError(
            clip.source.path, f"clip {clip.name}: frames [{clip.start}, {stop}) outside 0..{info.num_frames}"
        )
    even_size_or_error(clip.source.path, info.width, info.height)
    return stop


def _encode_clip(
    clip: ClipSpec,
    cursor: _SourceCursor,
    stop: int,
    n: int,
    split_dir: Path,
    bitstream: Path,
    options: BuildOptions,
    bar,
    pool: ThreadPoolExecutor,
) -> QpSidecar:
    """Compress the clip and keep its originals (PNGs or a lossless video) in one pass over the source."""
    info = cursor.reader.info
    encoder = HevcEncoder(bitstream, n, info.width, info.height, info.fps, options.hevc)
    gt_dir = split_dir / "gt" / clip.name
    gt_video = (
        GtVideoWriter(split_dir / "gt" / f"{clip.name}.mkv", info.width, info.height, info.fps)
        if options.layout == "video"
        else None
    )
    if gt_video is None:
        gt_dir.mkdir(parents=True)
    pending: list[Future] = []
    for t, frame in enumerate(cursor.frames(clip, stop)):
        encoder.write(frame)
        if gt_video is None:
            pending.append(pool.submit(write_png, frame.to_ndarray(format="rgb24"), gt_dir / frame_name(t)))
        else:
            gt_video.write(frame)
        bar.update(0.5)
    sidecar = encoder.close()
    if gt_video is not None:
        gt_video.close()
    _wait_all(pending)
    return sidecar


def _decode_clip(
    clip: ClipSpec,
    split_dir: Path,
    qp_dir: str,
    bitstream: Path,
    options: BuildOptions,
    bar,
    pool: ThreadPoolExecutor,
) -> tuple[ClipStatsAccumulator, DuplicateDetector]:
    """Decode the compressed clip, compare it with the original (statistics) and find its duplicates;
    layout ``png`` also writes the decoded frames."""
    png = options.layout != "video"
    gt_dir = split_dir / "gt" / clip.name
    stats, dups = ClipStatsAccumulator(), DuplicateDetector(options.duplicate_threshold)
    lq_dir = split_dir / qp_dir / clip.name
    gt_frames = iter(VideoReader(split_dir / "gt" / f"{clip.name}.mkv")) if not png else None
    if png:
        lq_dir.mkdir(parents=True)
    pending: list[Future] = []
    for t, lq in enumerate(VideoReader(bitstream)):
        gt = read_png(gt_dir / frame_name(t)) if gt_frames is None else next(gt_frames)
        stats.update(gt, lq)
        dups.update(lq, gt)
        if png:
            pending.append(pool.submit(write_png, lq, lq_dir / frame_name(t)))
        bar.update(0.5)
    _wait_all(pending)
    return stats, dups


def _build_clip(
    root: Path,
    clip: ClipSpec,
    cursor: _SourceCursor,
    qp_dir: str,
    options: BuildOptions,
    source_hash: str,
    bar,
    pool: ThreadPoolExecutor,
) -> VideoEntry:
    """Encode, decode and measure one clip; its manifest entry."""
    info = cursor.reader.info
    stop = _checked_stop(clip, info)
    n = _clip_length(clip, stop)
    split_dir = root / clip.split
    bitstream = split_dir / qp_dir / f"{clip.name}.mkv"
    sidecar = _encode_clip(clip, cursor, stop, n, split_dir, bitstream, options, bar, pool)
    stats, dups = _decode_clip(clip, split_dir, qp_dir, bitstream, options, bar, pool)
    return VideoEntry(
        name=clip.name,
        split=clip.split,
        num_frames=n,
        width=info.width,
        height=info.height,
        fps=info.fps,
        qp=sidecar.qp,
        frame_type=sidecar.frame_type,
        pqf=sidecar.pqf,
        duplicates=dups.duplicates,
        source=str(clip.source.path),
        source_sha256=source_hash,
        source_frames=[clip.start, stop],
        stats=stats.result(),
    )


def _wait_all(futures: list[Future]) -> None:
    """Wait for background writes, re-raising the first failure."""
    for future in futures:
        future.result()
    futures.clear()


def build_dataset(
    out_root: str | Path,
    clips: Sequence[ClipSpec],
    name: str,
    options: BuildOptions | None = None,
    overwrite: bool = False,
    extra_build_info: dict | None = None,
) -> Manifest:
    """Build the dataset at ``out_root`` atomically and return its manifest.

    The work happens in a sibling temporary folder that is renamed to ``out_root`` only when every
    clip is written; on any failure the temporary folder is removed and nothing is left behind.
    """
    options = options or BuildOptions()
    out_root = Path(out_root)
    if out_root.exists() and not overwrite:
        raise DataError(out_root, "already exists (pass overwrite=True / --overwrite to rebuild)")
    names = [c.name for c in clips]
    if len(set(names)) != len(names):
        raise ValueError(f"clip names must be unique: {sorted(n for n in names if names.count(n) > 1)}")
    qp_dir = f"lq_qp{options.hevc.qp}"
    with staged_dataset_dir(out_root) as tmp:
        cursors, hashes = {}, {}
        for clip in clips:
            key = clip.source
            if key not in cursors:
                reader = VideoReader(key.path, size=key.size, fps=key.fps, resize=key.resize)
                if not options.accept_truncated and (problem := reader.truncation()):
                    raise DataError(key.path, problem)
                cursors[key] = _SourceCursor(reader)
                hashes[key] = sha256_file(key.path)
        total = sum(_clip_length(c, len(cursors[c.source].reader) if c.stop is None else c.stop) for c in clips)
        entries = []
        with (
            tqdm(total=total, desc=f"prepare {name}", unit="frame", disable=not options.progress) as bar,
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="png") as pool,
        ):
            for clip in clips:
                entries.append(
                    _build_clip(tmp, clip, cursors[clip.source], qp_dir, options, hashes[clip.source], bar, pool)
                )
        manifest = Manifest(
            name=name,
            qp=options.hevc.qp,
            layout=options.layout,
            videos=entries,
            build={
                "duplicate_threshold": options.duplicate_threshold,
                "duplicate_original_min_psnr": ORIGINAL_MIN_PSNR,
                "clip_stats_version": CLIP_STATS_VERSION,
                "preset": options.hevc.preset,
                "gop_qp_offsets": list(options.hevc.gop_qp_offsets),
                **(extra_build_info or {}),
            },
        )
        manifest.save(tmp)
    return manifest


@contextmanager
def staged_dataset_dir(out_root: Path) -> Iterator[Path]:
    """A temporary sibling folder to build a dataset in, renamed onto ``out_root`` when the block completes;
    on any failure (or interruption) it is removed and nothing is left behind."""
    out_root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_root.name}.partial-", dir=out_root.parent))
    try:
        yield tmp
        _replace_dir(tmp, out_root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing target is swapped out first, then deleted."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def split_clips(num_frames: int, clip_frames: int, start: int = 0, stop: int | None = None) -> list[tuple[int, int]]:
    """Consecutive ``[a, b)`` ranges of ``clip_frames`` frames inside ``[start, stop)``; a short tail is dropped."""
    stop = num_frames if stop is None else stop
    if clip_frames <= 0:
        return [(start, stop)]
    return [(a, a + clip_frames) for a in range(start, stop - clip_frames + 1, clip_frames)]
