"""Build a prepared dataset from pairs a benchmark already ships (GT + HM-compressed LQ), never re-encoding.

LDV 2.0 and MFQE 2.0 publish originals and their HM low-delay-P compressions; re-encoding with x265
would give other data than the published numbers were measured on. Each GT video is paired with its
LQ by name, checked (same frame count and size), and streamed once: frames written in the dataset's
layout, the LQ bitstream copied as is (``lq_qp<QP>/<video>.mkv`` plus its QP sidecar), duplicates and
cleaning statistics computed as ``prepare`` does, PQF flags from the LDP period or an HM log. The
dataset is written into a temporary folder renamed at the very end, as ``prepare`` does.

In the ``video`` layout nothing is re-encoded either: a video file's stream is copied into the
dataset's Matroska file, raw YUV is stored as it is (``rawvideo``; ``raw_codec="ffv1"`` compresses it
losslessly instead, at about 50 ms per 1080p frame). The two inputs are read on threads of their own,
ahead of the statistics, which run on two more (see ``benchmarks/results/2026-12-04_pairs_speed.md``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import VideoReformatter
from tqdm import tqdm

from vsr_lightning.data.clip_stats import CLIP_STATS_VERSION, ClipStatsAccumulator, warm_up_kernels
from vsr_lightning.data.dataset_builder import LAYOUTS, GtVideoWriter, staged_dataset_dir
from vsr_lightning.data.duplicates import DEFAULT_THRESHOLD, ORIGINAL_MIN_PSNR, DuplicateDetector
from vsr_lightning.data.errors import DataError
from vsr_lightning.data.frame_sources import FrameSource
from vsr_lightning.data.hevc import HevcConfig, QpSidecar, ldp_qp_schedule, pqf_flags, sidecar_path
from vsr_lightning.data.hm_log import read_hm_log
from vsr_lightning.data.manifest import Manifest, VideoEntry, sha256_file
from vsr_lightning.data.process_map import Progress, process_map
from vsr_lightning.data.read_ahead import ReadAhead
from vsr_lightning.data.remux import remux_to_mkv
from vsr_lightning.data.video_io import frame_name, write_png

RAW_CODECS = ("rawvideo", "ffv1")


@dataclass
class PairOptions:
    """How imported pairs become a dataset."""

    qp: int = 37
    """The QP the LQ was compressed at (names the ``lq_qp<QP>`` folder; the nominal cascade's base)."""
    pqf_period: int = 4
    layout: str = "png"
    duplicate_threshold: float = DEFAULT_THRESHOLD
    hm_logs: dict[str, Path] = field(default_factory=dict)
    """HM encoder log per video name; PQFs and QPs come from it instead of the period."""
    splits: dict[str, str] = field(default_factory=dict)
    """Split per video name (from the official lists); others go to ``default_split``."""
    default_split: str = "train"
    raw_codec: str = "rawvideo"
    """Layout ``video``: how raw YUV inputs are stored: ``rawvideo`` (as they are) or ``ffv1`` (smaller)."""
    progress: bool = True

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.raw_codec not in RAW_CODECS:
            raise ValueError(f"raw_codec must be one of {RAW_CODECS}, got {self.raw_codec!r}")
        if self.pqf_period < 1:
            raise ValueError(f"the PQF period must be at least 1, got {self.pqf_period}")


@dataclass(frozen=True)
class Pair:
    """One video to import: its name in the dataset, its original and its compressed version."""

    name: str
    gt: FrameSource
    lq: FrameSource


def _source_hash(source: FrameSource) -> str:
    if source.kind != "png":
        return sha256_file(source.path)
    digest = hashlib.sha256()
    for path in source.png_files:
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def _rgb_view(frame: av.VideoFrame) -> np.ndarray:
    """An ``rgb24`` frame's pixels as an ``(H, W, 3)`` array over its own buffer (no copy; it keeps the frame)."""
    plane = frame.planes[0]
    h, w = frame.height, frame.width
    rows = np.frombuffer(plane, np.uint8, count=h * plane.line_size).reshape(h, plane.line_size)
    return rows[:, : 3 * w].reshape(h, w, 3)


def _frames(source: FrameSource) -> Iterator[tuple[av.VideoFrame, np.ndarray]]:
    """Each frame once decoded: as stored (for a lossless copy) and as RGB (for PNGs, stats, duplicates).

    One swscale context for the whole video, on one thread: the same RGB as ``to_ndarray(format="rgb24")``
    (tested), without a context set up per frame, viewed in place. (swscale's ``rgba``, which Pillow could
    map without a copy, is no faster here and differs from ``rgb24`` in the last pixels of rows whose width
    is 2 or 4 more than a multiple of 8.)"""
    if source.kind == "png":
        for rgb in source.rgb_frames():
            yield av.VideoFrame.from_ndarray(rgb, format="rgb24"), rgb
        return
    to_rgb = VideoReformatter()
    for frame in source.yuv_frames():
        yield frame, _rgb_view(to_rgb.reformat(frame, format="rgb24", threads=1))


class _InFlight:
    """Background work with a bound on what is queued: the reader waits for the oldest job instead of
    getting ahead of its writers, so memory stays independent of the video's length."""

    def __init__(self, pool: ThreadPoolExecutor, limit: int) -> None:
        self.pool, self.limit, self.futures = pool, limit, deque()

    def submit(self, fn, *args) -> None:
        self.futures.append(self.pool.submit(fn, *args))
        while len(self.futures) > self.limit:
            self.futures.popleft().result()

    def drain(self) -> None:
        while self.futures:
            self.futures.popleft().result()


def _qp_and_types(pair: Pair, options: PairOptions) -> tuple[list[int], list[str], list[bool], str]:
    n = pair.gt.num_frames
    log = options.hm_logs.get(pair.name)
    if log is not None:
        hm = read_hm_log(log, n)
        return hm.qp, hm.frame_type, pqf_flags(hm.qp), f"HM log {log}"
    qps = ldp_qp_schedule(n, HevcConfig(qp=options.qp))
    return qps, [], pqf_flags(qps, options.pqf_period), "nominal HM low-delay-P cascade (no encoder log)"


def _copy_stream(source: FrameSource, dst: Path) -> None:
    """Copy a video file's stream into ``dst`` (Matroska) packet by packet, checking the packet count."""
    copied = remux_to_mkv(source.path, dst, source.fps or 25.0)
    if copied != source.num_frames:
        raise DataError(source.path, f"{copied} packets copied for {source.num_frames} frames")


def _frame_writer(source: FrameSource, dst: Path, fps: float, raw_codec: str) -> GtVideoWriter | None:
    """Layout ``video``: a writer for ``source``'s frames at ``dst``, or None where its stream was copied.

    A video file's stream is copied (decoding the copy gives the decoded source); should Matroska not
    take its codec, its decoded frames are stored in FFV1. Raw YUV is stored in ``raw_codec``, PNG
    frames (RGB) in FFV1."""
    if source.kind == "video":
        try:
            _copy_stream(source, dst)
            return None
        except DataError:
            dst.unlink(missing_ok=True)
    codec = raw_codec if source.kind == "yuv" else "ffv1"
    return GtVideoWriter(dst, source.width, source.height, fps, "gbrp" if source.kind == "png" else "yuv420p", codec)


class _PairWriter:
    """Where one pair's frames go in the chosen layout; streams are copied, never re-encoded."""

    def __init__(self, root: Path, pair: Pair, split: str, qp_dir: str, options: PairOptions, pool: ThreadPoolExecutor):
        self.pair, self.layout, self.pending = pair, options.layout, _InFlight(pool, 8)
        base = root / split
        self.gt_dir, self.lq_dir = base / "gt" / pair.name, base / qp_dir / pair.name
        self.lq_video = base / qp_dir / f"{pair.name}.mkv"
        self.lq_video.parent.mkdir(parents=True, exist_ok=True)
        self.gt_writer = self.lq_writer = None
        gt, fps = pair.gt, pair.gt.fps or 25.0
        self.has_bitstream = pair.lq.kind == "video"
        if self.layout == "png":
            self.gt_dir.mkdir(parents=True)
            self.lq_dir.mkdir(parents=True)
            if self.has_bitstream:  # kept beside the frames, as ``prepare`` keeps its bitstream
                _copy_stream(pair.lq, self.lq_video)
            return
        gt_video = base / "gt" / f"{pair.name}.mkv"
        gt_video.parent.mkdir(parents=True, exist_ok=True)
        self.gt_writer = _frame_writer(gt, gt_video, fps, options.raw_codec)
        if self.has_bitstream:
            _copy_stream(pair.lq, self.lq_video)
        else:
            self.lq_writer = _frame_writer(pair.lq, self.lq_video, fps, options.raw_codec)

    def write(self, t: int, gt: tuple[av.VideoFrame, np.ndarray], lq: tuple[av.VideoFrame, np.ndarray]) -> None:
        if self.layout == "png":
            self.pending.submit(write_png, gt[1], self.gt_dir / frame_name(t))
            self.pending.submit(write_png, lq[1], self.lq_dir / frame_name(t))
            return
        if self.gt_writer is not None:
            self.gt_writer.write(gt[0])
        if self.lq_writer is not None:
            self.lq_writer.write(lq[0])

    def close(self) -> None:
        self.pending.drain()
        for writer in (self.gt_writer, self.lq_writer):
            if writer is not None:
                writer.close()


def _import_pair(
    root: Path,
    pair: Pair,
    qp_dir: str,
    options: PairOptions,
    bar: Progress,
    pool: ThreadPoolExecutor,
    analysis: tuple[ThreadPoolExecutor, ThreadPoolExecutor],
) -> VideoEntry:
    """One pass over the pair: each input decoded (and converted to RGB) on a thread of its own a few frames
    ahead, frames written here (PNG writes on ``pool``), the original's statistics on one ``analysis``
    thread and the PSNR and duplicates on the other, each in frame order."""
    gt, lq = pair.gt, pair.lq
    split = options.splits.get(pair.name, options.default_split)
    qps, log_types, pqf, qp_source = _qp_and_types(pair, options)
    source_hash = pool.submit(_source_hash, gt)  # beside the decoding (hashlib releases the GIL), not after it
    writer = _PairWriter(root, pair, split, qp_dir, options, pool)
    stats, dups, types = ClipStatsAccumulator(), DuplicateDetector(options.duplicate_threshold), []
    count, originals, comparisons = 0, _InFlight(analysis[0], 4), _InFlight(analysis[1], 4)

    def compare(g: np.ndarray, q: np.ndarray) -> None:
        stats.update_psnr(g, q)
        dups.update(q, g)

    with ReadAhead(_frames(gt), 4, "read-gt") as gt_frames, ReadAhead(_frames(lq), 4, "read-lq") as lq_frames:
        for t, (g, q) in enumerate(zip(gt_frames, lq_frames, strict=False)):
            writer.write(t, g, q)
            originals.submit(stats.update_original, g[1])
            comparisons.submit(compare, g[1], q[1])
            types.append(PictureType(q[0].pict_type).name if lq.kind == "video" else "?")
            count += 1
            bar.update(1)
    writer.close()
    originals.drain()
    comparisons.drain()
    has_bitstream = writer.has_bitstream
    if count != gt.num_frames:
        raise DataError(gt.path, f"decoded {count} frames of {gt.num_frames} beside its partner {lq.path}")
    frame_type = log_types or types
    if has_bitstream or options.layout == "video":
        QpSidecar(qps, frame_type, pqf, {"imported_from": str(lq.path), "qp_source": qp_source, "qp": options.qp}).save(
            sidecar_path(writer.lq_video)
        )
    return VideoEntry(
        name=pair.name,
        split=split,
        num_frames=count,
        width=gt.width,
        height=gt.height,
        fps=gt.fps or lq.fps or 25.0,
        qp=qps,
        frame_type=frame_type,
        pqf=pqf,
        duplicates=dups.duplicates,
        source=str(gt.path),
        source_sha256=source_hash.result(),
        source_frames=[0, count],
        stats=stats.result(),
    )


@dataclass(frozen=True)
class _PairJob:
    """Everything one pair's import needs, picklable for a worker process."""

    root: Path
    pair: Pair
    qp_dir: str
    options: PairOptions


def _import_job(job: _PairJob, bar: Progress) -> VideoEntry:
    """One pair with thread pools of its own (in this process or a worker's); the statistics' kernels
    load on a thread of their own meanwhile (joined before returning, so no import outlives the job)."""
    warm_up = threading.Thread(target=warm_up_kernels, name="warm-up")
    warm_up.start()
    try:
        with (
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="png") as pool,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="stats") as originals,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="psnr") as comparisons,
        ):
            return _import_pair(job.root, job.pair, job.qp_dir, job.options, bar, pool, (originals, comparisons))
    finally:
        warm_up.join()


def import_pairs(
    out_root: Path,
    pairs: list[Pair],
    name: str,
    options: PairOptions | None = None,
    overwrite: bool = False,
    workers: int = 1,
) -> Manifest:
    """Build the dataset at ``out_root`` from ``pairs`` atomically and return its manifest.

    ``workers > 1`` imports that many pairs at once, each in a process of its own (one pair already runs
    on a few threads: worth it where a machine has cores to spare)."""
    options = options or PairOptions()
    out_root = Path(out_root)
    if out_root.exists() and not overwrite:
        raise DataError(out_root, "already exists (pass --overwrite to rebuild)")
    qp_dir = f"lq_qp{options.qp}"
    with staged_dataset_dir(out_root) as tmp:
        total = sum(p.gt.num_frames for p in pairs)
        with tqdm(total=total, desc=f"import {name}", unit="frame", disable=not options.progress) as bar:
            jobs = [_PairJob(tmp, pair, qp_dir, options) for pair in pairs]
            if workers > 1 and len(jobs) > 1:
                entries = process_map(_import_job, jobs, workers, bar)
            else:
                entries = [_import_job(job, bar) for job in jobs]
        manifest = Manifest(
            name=name,
            qp=options.qp,
            layout=options.layout,
            videos=entries,
            build={
                "imported_pairs": True,
                "duplicate_threshold": options.duplicate_threshold,
                "duplicate_original_min_psnr": ORIGINAL_MIN_PSNR,
                "clip_stats_version": CLIP_STATS_VERSION,
                "pqf_period": options.pqf_period,
                "hm_logs": sorted(options.hm_logs),
            },
        )
        manifest.save(tmp)
    return manifest
