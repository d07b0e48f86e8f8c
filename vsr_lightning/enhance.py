"""Enhance a compressed video file with the two-stage model, streaming it in bounded memory.

    python -m vsr_lightning.enhance in.mkv -o out.mkv [--stage1 s1.ckpt] [--stage2 s2.ckpt | zoo] [--tta]
    python -m vsr_lightning.enhance in.yuv --size 416x240 --fps 30 -o frames/ --png --stage1 s1.ckpt

Frames are decoded lazily and enhanced in temporal chunks that overlap and are blended linearly, so
memory is set by the chunk, not by the video's length. Duplicated frames (a frame-rate conversion
upstream repeats frames) are detected on the fly; only unique frames go through the networks and
results are copied back, so the output keeps the input's frame count and order. The chunk layout over
the unique frames is exactly the one of :func:`~vsr_lightning.systems.video_enhancer.enhance_video`,
so streaming gives the same frames as enhancing the whole clip in memory. Stage two (SwinIR) refines
each final stage-one frame, quantised to 8 bits as the stage-one outputs it was trained on.
Frames are written as soon as no later chunk can change them, under a unique temporary name beside the
output that is moved onto it only when complete: an existing output is refused unless ``--overwrite``,
and nothing the run did not create is ever removed.
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from vsr_lightning.data.duplicates import DuplicateDetector
from vsr_lightning.data.errors import DataError, os_error_line
from vsr_lightning.data.hevc import QpSidecar, sidecar_path
from vsr_lightning.data.video_io import VideoReader, VideoWriter, frame_name, parse_size, write_png
from vsr_lightning.inference.protocol import InferenceNetwork, require_inference_network
from vsr_lightning.models.chunked_inference import blend_weights, enhance_video_chunked, framewise, plan_tile
from vsr_lightning.models.pqf import fixed_period_pqf
from vsr_lightning.models.tta import tta_x8
from vsr_lightning.staged_output import StagedOutput
from vsr_lightning.systems.checkpoint_io import load_network
from vsr_lightning.termination import exit_on_sigterm
from vsr_lightning.zoo.registry import has_zoo_entry, is_zoo_name, provenance

DEFAULT_STAGE1 = "zoo:stage1-embedded"
DEFAULT_STAGE2 = "zoo:stage2-embedded"

VideoFn = Callable[..., Tensor]


@dataclass
class EnhanceResult:
    """What one run did: counts, PSNR against the reference (RGB, crop 0, mean over frames), timings."""

    output: Path
    frames: int
    unique_frames: int
    psnr_in: float | None
    psnr_out: float | None
    seconds: float
    model_seconds: float
    tiles: str = "whole frames"
    """How each stage was tiled (the memory plan's choice with ``tile='auto'``)."""

    @property
    def gain(self) -> float | None:
        return None if self.psnr_in is None or self.psnr_out is None else self.psnr_out - self.psnr_in

    @property
    def dedup_saved_seconds(self) -> float:
        """Model time the skipped duplicates would have cost, at this run's model seconds per unique frame."""
        if self.unique_frames == 0:
            return 0.0
        return (self.frames - self.unique_frames) * self.model_seconds / self.unique_frames


# ----------------------------------------------------------------------------------------- inputs
def resolve_pqf(
    input_path: Path, num_frames: int, qp_sidecar: Path | None = None, period: int = 4
) -> tuple[list[bool], str]:
    """Per-frame PQF flags: the encoder's sidecar (``--qp-sidecar`` or ``<input>.qp.json``), else every ``period``."""
    path = Path(qp_sidecar) if qp_sidecar is not None else sidecar_path(input_path)
    if qp_sidecar is not None and not path.is_file():
        raise DataError(path, "no such QP sidecar file")
    if path.is_file():
        flags = QpSidecar.load(path).pqf
        if len(flags) != num_frames:
            raise DataError(path, f"QP sidecar lists {len(flags)} frames but {input_path} has {num_frames}")
        return [bool(f) for f in flags], f"sidecar {path}"
    return fixed_period_pqf(num_frames, period).tolist(), f"fixed period {period}"


def _to_tensor(frames: Sequence[np.ndarray]) -> Tensor:
    """(T,H,W,3) uint8 -> (T,3,H,W) float32 in [0,1], the conversion the in-memory path uses too."""
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous().float() / 255.0


def _to_uint8(frame: Tensor) -> np.ndarray:
    """(3,H,W) float -> (H,W,3) uint8, rounding like saving a PNG."""
    return frame.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def _load(net: nn.Module | str | Path, kind: str, device: torch.device) -> InferenceNetwork:
    module = net if isinstance(net, nn.Module) else load_network(net, kind)  # type: ignore[arg-type]
    return require_inference_network(module.to(device).eval(), f"--{kind}")


# ----------------------------------------------------------------------------------------- streaming
class StreamingEnhancer:
    """Feeds unique frames through stage one in end-aligned overlapping chunks, then stage two.

    Chunk starts over the U unique frames are 0, s, 2s, ... (s = chunk - overlap) while a chunk ends
    before U, then U - chunk, blended by ``blend_weights``: the layout of ``enhance_video_chunked``. The
    chunk at ``start`` runs once ``start + s + chunk`` frames have arrived: it is then surely not the last.
    Each chunk, the end-aligned last one too, takes over only where its predecessor ramps down, so frames
    below the next start are final as soon as a chunk has run. Memory: up to ``chunk + s`` 8-bit input
    frames, one chunk of float outputs while it runs, and ``overlap`` float frames carried to the next.
    """

    def __init__(
        self,
        stage1: VideoFn,
        stage2: Callable[[Tensor], Tensor] | None,
        chunk: int,
        overlap: int,
        tile: int | None = None,
        tile_overlap: int = 16,
        stage1_multiple: int = 4,
        stage2_multiple: int = 8,
        device: torch.device | str = "cpu",
        stage2_tile: int | None = None,
        on_final: Callable[[], None] | None = None,
    ) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        if not 0 <= overlap < chunk:
            raise ValueError(f"overlap ({overlap}) must be in [0, chunk={chunk})")
        self.stage1, self.stage2 = stage1, stage2
        self.chunk, self.overlap, self.stride = chunk, overlap, chunk - overlap
        self.tile, self.tile_overlap = tile, tile_overlap
        self.stage1_multiple, self.stage2_multiple = stage1_multiple, stage2_multiple
        self.stage2_tile = stage2_tile
        self.on_final = on_final
        """Called after each frame is finalised, so the caller can write it before the next one is made."""
        self.device = device
        self.inputs: dict[int, np.ndarray] = {}
        self.flags: dict[int, bool] = {}
        self.acc: dict[int, Tensor] = {}
        self.weight: dict[int, Tensor] = {}
        self.final: dict[int, np.ndarray] = {}
        self.received = 0
        self.next_start = 0
        self.windows_run = 0
        self.finalized_upto = 0
        self.model_seconds = 0.0

    def push(self, frame: np.ndarray, pqf: bool) -> None:
        """Add the next unique frame; runs every chunk that is now known not to be the last."""
        self.inputs[self.received] = frame
        self.flags[self.received] = pqf
        self.received += 1
        while self.next_start + self.stride + self.chunk <= self.received:
            self._run_regular()

    def finish(self) -> None:
        """Run the chunks left (the last one end-aligned) and finalise everything."""
        if self.received == 0:
            return
        while self.next_start + self.chunk < self.received:
            self._run_regular()
        if self.windows_run == 0:
            self._run_window(0, self.received, blend_weights(self.received, self.overlap, None, False))
        else:  # end-aligned; it takes over where the previous chunk ramps down, at next_start
            start = self.received - self.chunk
            self._run_window(start, self.chunk, blend_weights(self.chunk, self.overlap, self.next_start - start, False))
        self._finalize(self.received)
        self.inputs.clear()
        self.flags.clear()

    def _run_regular(self) -> None:
        ramp_up_from = None if self.next_start == 0 else 0  # the previous chunk ramps down over our first frames
        self._run_window(self.next_start, self.chunk, blend_weights(self.chunk, self.overlap, ramp_up_from, True))
        self.next_start += self.stride
        self._finalize(self.next_start)
        for p, value in self.acc.items():  # carried overlap frames: drop their hold on the chunk's output
            # Not ``value._base``: views made under inference mode have none, and a carried view then kept the
            # whole float chunk (0.8 GB at 1080p) alive through the next one.
            if value.untyped_storage().nbytes() > value.nbytes:
                self.acc[p] = value.clone()
        # Inputs stay while a later chunk may read them: the next regular one or the end-aligned last one.
        keep_from = min(self.next_start, self.received - self.chunk)
        for old in [p for p in self.inputs if p < keep_from]:
            del self.inputs[old], self.flags[old]

    def pop_final(self, position: int) -> np.ndarray | None:
        """The output of unique frame ``position`` once final (kept until a later frame is asked for)."""
        for old in [p for p in self.final if p < position]:
            del self.final[old]
        return self.final.get(position)

    def _stage1_on_uint8(self, x: Tensor, pqf: Tensor | None = None) -> Tensor:
        """Convert to float per tile: a 1080p chunk of 32 frames is 0.8 GB as float32, 0.2 GB as uint8."""
        return self.stage1(x.contiguous().float() / 255.0, pqf=pqf)

    def _run_window(self, start: int, size: int, wt: Tensor) -> None:
        frames = torch.from_numpy(np.stack([self.inputs[p] for p in range(start, start + size)]))
        frames = frames.permute(0, 3, 1, 2)  # a view: each tile is made contiguous when converted to float
        flags = torch.tensor([self.flags[p] for p in range(start, start + size)])
        t0 = time.perf_counter()
        y = enhance_video_chunked(
            self._stage1_on_uint8,
            frames,
            chunk=size,
            overlap=0,
            tile=self.tile,
            tile_overlap=self.tile_overlap,
            device=self.device,
            pqf=flags,
            multiple=self.stage1_multiple,
        )
        self.model_seconds += time.perf_counter() - t0
        # Same weights and the same accumulate-then-divide order as enhance_video_chunked, so results match it.
        y.mul_(wt.view(-1, 1, 1, 1))  # in place: the same values as y * wt without a second chunk in memory
        for i in range(size):
            p = start + i
            if p < self.finalized_upto:
                continue  # final already; this chunk's weight there is 0 (context only)
            if p in self.acc:
                self.acc[p] += y[i]
                self.weight[p] += wt[i]
            else:
                self.acc[p], self.weight[p] = y[i], wt[i].clone()
        self.windows_run += 1
        release_freed_memory()

    def _finalize(self, upto: int) -> None:
        for p in range(self.finalized_upto, max(upto, self.finalized_upto)):
            stage1 = self.acc.pop(p) / self.weight.pop(p)
            self.final[p] = self._stage_two(stage1)
            self.finalized_upto = p + 1
            if self.on_final is not None:
                self.on_final()
        self.finalized_upto = max(upto, self.finalized_upto)

    def _stage_two(self, stage1: Tensor) -> np.ndarray:
        out = _to_uint8(stage1)
        if self.stage2 is None:
            return out
        x = _to_tensor([out])  # stage two sees 8-bit stage-one frames, as in its training data
        t0 = time.perf_counter()
        y = enhance_video_chunked(
            framewise(self.stage2, batch=1),
            x,
            chunk=1,
            tile=self.stage2_tile,
            tile_overlap=self.tile_overlap,
            device=self.device,
            multiple=self.stage2_multiple,
        )
        self.model_seconds += time.perf_counter() - t0
        return _to_uint8(y[0])


class _FrameSink:
    """Writes final frames to a PNG folder or a video file staged under a unique temporary name (see
    :class:`~vsr_lightning.staged_output.StagedOutput`), moved onto the output only when complete."""

    def __init__(
        self,
        output: Path,
        fps: float,
        png: bool,
        lossless: bool,
        crf: int,
        overwrite: bool = False,
        inputs: Sequence[Path] = (),
    ) -> None:
        self.staged = StagedOutput(output, png, overwrite, inputs)
        self.tmp = self.staged.tmp
        try:
            self.writer = None if png else VideoWriter(self.tmp, fps, lossless=lossless, crf=crf)
        except BaseException:
            self.staged.abort()
            raise
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        try:
            if self.writer is None:
                write_png(frame, self.tmp / frame_name(self.count))
            else:
                self.writer.write(frame)
        except OSError as exc:  # disk full, folder removed: stop now, not after computing every frame
            raise self._write_failed(exc, f"writing frame {self.count}") from exc
        self.count += 1

    def commit(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
        except OSError as exc:
            raise self._write_failed(exc, f"finishing the file after {self.count} frames") from exc
        self.staged.commit()

    def _write_failed(self, exc: OSError, when: str) -> DataError:
        """Name the output the user asked for, not the hidden temporary that is about to be removed."""
        return DataError(self.staged.target, f"write failed {when}: {exc.strerror or exc} (nothing changed there)")

    def abort(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # noqa: BLE001 - the run already failed; the partial file goes anyway
                pass
        self.staged.abort()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """RGB PSNR of two uint8 frames with the project's convention (crop 0, capped for identical frames).

    Imported here: torchmetrics and kornia cost about 130 MiB and 3 s, paid only with a reference.
    """
    from vsr_lightning.metrics.video_quality import frame_psnr

    return float(frame_psnr(_to_tensor([a]), _to_tensor([b]))[0])


class _Reference:
    """Reads the ground truth in step with a stream of frames and keeps the per-frame PSNRs."""

    def __init__(self, path: Path, size: tuple[int, int] | None, fps: float, like: VideoReader) -> None:
        self.reader = VideoReader(path, size=size, fps=fps)
        info, want = self.reader.info, like.info
        if (info.width, info.height) != (want.width, want.height):
            raise DataError(
                path, f"reference is {info.width}x{info.height} but {want.path} is {want.width}x{want.height}"
            )
        if info.num_frames != want.num_frames:
            raise DataError(path, f"reference has {info.num_frames} frames but {want.path} has {want.num_frames}")
        self.frames = iter(self.reader)
        self.scores: list[float] = []

    def score(self, frame: np.ndarray) -> None:
        self.scores.append(_psnr(frame, next(self.frames)))

    def mean(self) -> float:
        return float(np.mean(self.scores))


# ----------------------------------------------------------------------------------------- memory
def release_freed_memory() -> None:
    """Hand freed heap pages back to the system (glibc ``malloc_trim``; a no-op elsewhere).

    Without it the pages a chunk freed stay resident: at 640x360, chunk 32, resident memory stayed 444 MiB
    above its pre-chunk level after the first chunk; with it, 96 MiB.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def resident_bytes() -> int:
    """Current resident memory of this process (Linux ``/proc``; 0 elsewhere, which plans more optimistically)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


ALLOCATOR_HEADROOM = 0.75
"""Share of ``--max-memory`` that is planned: freed memory is not all handed back at once, and the estimates
are estimates. Measured at 1080p, chunk 32, tiny stage one, planned at 75 %: peak 3.35 GiB over 300 frames for
a 4 GiB budget (the high-water mark crept by about 250 MiB after the first chunk)."""


@dataclass
class MemoryPlan:
    """Spatial tiles for each stage so that one run stays within a memory budget."""

    stage1_tile: int | None
    stage2_tile: int | None
    """None: whole frames (or no stage two, see ``has_stage2``)."""
    has_stage2: bool
    budget_bytes: int
    fixed_bytes: int
    """CPU: already resident (interpreter, torch, weights) plus the streaming buffers of one chunk; CUDA: what
    is allocated on the device."""

    def describe(self) -> str:
        def tile(t: int | None) -> str:
            return "whole frames" if t is None else f"{t}x{t} tiles"

        text = (
            f"memory plan: {self.budget_bytes / 2**30:.1f} GiB planned, {self.fixed_bytes / 2**30:.2f} GiB "
            f"fixed; stage one on {tile(self.stage1_tile)}"
        )
        return text + (f", stage two on {tile(self.stage2_tile)}" if self.has_stage2 else "")


def plan_memory(
    net1: InferenceNetwork,
    net2: InferenceNetwork | None,
    width: int,
    height: int,
    chunk: int,
    overlap: int,
    budget_gib: float,
    tta: bool = False,
    device: torch.device | str = "cpu",
) -> MemoryPlan:
    """Pick the largest tiles whose estimated peak (see the models' ``inference_bytes``) fits ``budget_gib``.

    On the CPU the fixed costs are what is resident now, the 8-bit frames the stream holds (``chunk +
    stride``, plus one stacked chunk), the float output of one chunk and the overlap carried to the next. On
    CUDA the budget is the device's: the fixed cost is what is allocated there (the weights), since the stream
    stays in host memory. Only
    ``ALLOCATOR_HEADROOM`` of the budget is planned.
    """
    budget = int(budget_gib * 2**30 * ALLOCATOR_HEADROOM)
    pixels = width * height
    stride = chunk - overlap
    if torch.device(device).type == "cuda":
        fixed = torch.cuda.memory_allocated(device)
    else:
        stream = pixels * (3 * (chunk + stride) + 3 * chunk + 12 * chunk + 12 * overlap + 24)
        fixed = resident_bytes() + stream
    left = budget - fixed
    tta_copies = 2 if tta else 1  # TTA keeps a running sum beside each transformed output

    def tile_for(net: InferenceNetwork, frames: int, multiple: int) -> int | None:
        return plan_tile(lambda h, w: tta_copies * net.inference_bytes(frames, h, w), height, width, left, multiple)

    try:
        tile1 = tile_for(net1, chunk, net1.size_multiple)
        tile2 = tile_for(net2, 1, net2.size_multiple) if net2 is not None else None
    except ValueError as exc:
        raise ValueError(
            f"{width}x{height} frames in chunks of {chunk} do not fit in {budget_gib:g} GiB: {exc}"
        ) from None
    return MemoryPlan(tile1, tile2, net2 is not None, budget, fixed)


# ----------------------------------------------------------------------------------------- API
def enhance_file(
    input_path: str | Path,
    output: str | Path,
    stage1: nn.Module | str | Path,
    stage2: nn.Module | str | Path | None = None,
    *,
    reference: str | Path | None = None,
    size: tuple[int, int] | None = None,
    fps: float = 25.0,
    chunk: int = 32,
    overlap: int = 4,
    tile: int | str | None = "auto",
    tile_overlap: int = 16,
    max_memory_gib: float | None = None,
    tta: bool = False,
    temporal_tta: bool = False,
    dedup: bool = True,
    dup_threshold: float = 0.3,
    png: bool = False,
    lossless: bool = True,
    crf: int = 12,
    qp_sidecar: str | Path | None = None,
    pqf_period: int = 4,
    device: str | torch.device = "cpu",
    bf16: bool = False,
    progress: bool = False,
    overwrite: bool = False,
) -> EnhanceResult:
    """Enhance one video file (or raw YUV with ``size``) into ``output``; see the module docstring.

    ``stage1``/``stage2`` are checkpoint paths (any format :func:`load_network` reads) or built modules.
    ``dup_threshold`` is the mean absolute difference (0-255) under which a frame repeats its predecessor.
    ``tile="auto"`` tiles each stage only as much as needed to keep the run within ``max_memory_gib``
    (see :func:`plan_memory`; default 4 GiB of host memory on the CPU, on CUDA the device's free memory plus what
    this process has reserved there); an integer tiles both stages at that size, None never tiles. ``bf16`` runs
    both networks under bf16 autocast (faster on recent GPUs: 1.16-1.18x for 1080p chunks on an H200; outputs
    within about 75 dB PSNR of float32). The output is written under a temporary name beside it and moved
    there at the end; an existing output is refused unless ``overwrite`` (see :mod:`vsr_lightning.staged_output`).
    Every check (output, device, frame size) comes before any model time is spent.
    """
    started = time.perf_counter()
    input_path, output = Path(input_path), Path(output)
    reader = VideoReader(input_path, size=size, fps=fps)
    n = len(reader)
    if problem := reader.truncation():
        print(f"warning: {input_path}: {problem}; enhancing the {n} frames it holds", file=sys.stderr)
    flags, _ = resolve_pqf(input_path, n, Path(qp_sidecar) if qp_sidecar else None, pqf_period)
    ref_in = _Reference(Path(reference), size, fps, reader) if reference else None
    ref_out = _Reference(Path(reference), size, fps, reader) if reference else None
    dev = resolve_device(device)
    if not png and not lossless:
        check_even_size(input_path, reader.info.width, reader.info.height)
    inputs = _input_files(input_path, reference, qp_sidecar, stage1, stage2)
    sink = _FrameSink(output, reader.info.fps, png, lossless, crf, overwrite, inputs)
    try:
        return _enhance_into(
            sink,
            reader,
            flags,
            ref_in,
            ref_out,
            stage1,
            stage2,
            dev,
            started,
            chunk=chunk,
            overlap=overlap,
            tile=tile,
            tile_overlap=tile_overlap,
            max_memory_gib=max_memory_gib,
            tta=tta,
            temporal_tta=temporal_tta,
            dedup=dedup,
            dup_threshold=dup_threshold,
            bf16=bf16,
            progress=progress,
        )
    except BaseException:
        sink.abort()
        raise


def slow_bf16_warning(bf16: bool, device: torch.device) -> str | None:
    """``--bf16`` on a CPU without bf16 instructions: PyTorch falls back to a slow convolution (measured 18x
    float32 on an AVX2 CPU), so say so instead of letting the run crawl."""
    if not bf16 or device.type != "cpu":
        return None
    try:  # a private probe of PyTorch's oneDNN build: without it, say nothing rather than fail
        if torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return None
    except (AttributeError, RuntimeError):
        return None
    return (
        "warning: --bf16 on this CPU (no bf16 instructions) uses PyTorch's slow fallback convolution, many "
        "times slower than float32; drop --bf16 here"
    )


def resolve_device(device: str | torch.device) -> torch.device:
    """``--device`` as torch names it; an unknown name, or CUDA where there is none, is one line."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"--device {device}: not a device name torch knows (e.g. cpu, cuda, cuda:1)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev


def check_even_size(path: Path, width: int, height: int) -> None:
    """x264 in YUV 4:2:0 (``--crf``) refuses odd sizes, and it would say so only after the model has run."""
    if width % 2 or height % 2:
        raise DataError(
            path,
            f"frame size {width}x{height} is odd, but --crf writes x264 4:2:0 video, which needs "
            "an even width and height (leave out --crf for lossless RGB video, or use --png)",
        )


def _input_files(
    input_path: Path, reference: str | Path | None, qp_sidecar: str | Path | None, *nets: nn.Module | str | Path | None
) -> list[Path]:
    """Every file the run reads: none of them may be the output, or inside an output folder it replaces."""
    files = [input_path, Path(qp_sidecar) if qp_sidecar else sidecar_path(input_path)]
    files += [Path(p) for p in (reference, *nets) if isinstance(p, str | Path)]
    return [f for f in files if f.exists()]


def _enhance_into(
    sink: _FrameSink,
    reader: VideoReader,
    flags: list[bool],
    ref_in: _Reference | None,
    ref_out: _Reference | None,
    stage1: nn.Module | str | Path,
    stage2: nn.Module | str | Path | None,
    dev: torch.device,
    started: float,
    *,
    chunk: int,
    overlap: int,
    tile: int | str | None,
    tile_overlap: int,
    max_memory_gib: float | None,
    tta: bool,
    temporal_tta: bool,
    dedup: bool,
    dup_threshold: float,
    bf16: bool,
    progress: bool,
) -> EnhanceResult:
    """The run itself, once every check has passed and the staged output exists."""
    input_path, n = reader.path, len(reader)
    net1 = _load(stage1, "stage1", dev)
    net2 = _load(stage2, "stage2", dev) if stage2 is not None else None

    def run_stage1(x: Tensor, pqf: Tensor | None = None) -> Tensor:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            if tta:
                return tta_x8(net1, x, temporal_reversal=temporal_tta, pqf=pqf)
            return net1(x, pqf=pqf)

    def run_stage2(x: Tensor) -> Tensor:
        assert net2 is not None
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            return tta_x8(net2, x) if tta else net2(x)

    if tile == "auto":
        if max_memory_gib is None:  # CUDA: what this process may use, the weights it already holds included
            max_memory_gib = (
                4.0
                if dev.type != "cuda"
                else (torch.cuda.mem_get_info(dev)[0] + torch.cuda.memory_reserved(dev)) / 2**30
            )
        plan = plan_memory(
            net1,
            net2,
            reader.info.width,
            reader.info.height,
            min(chunk, n),
            min(overlap, chunk - 1),
            max_memory_gib,
            tta=tta,
            device=dev,
        )
        tile1, tile2 = plan.stage1_tile, plan.stage2_tile
        tiles = plan.describe()
        if progress:
            print(tiles, file=sys.stderr)
    elif tile is None or isinstance(tile, int):
        tile1 = tile2 = tile
        tiles = "whole frames" if tile is None else f"{tile}x{tile} tiles"
    else:
        raise ValueError(f"tile must be an integer, None or 'auto', got {tile!r}")
    detector = DuplicateDetector(dup_threshold)
    pending: deque[int] = deque()  # unique position each not-yet-written frame copies, in output order
    bar = tqdm(total=n, unit="frame", desc=f"enhance {input_path.name}", disable=not progress)

    def drain() -> None:
        """Write every frame that is final, in output order (also called by the engine after each frame)."""
        while pending:
            frame = engine.pop_final(pending[0])
            if frame is None:
                return
            pending.popleft()
            sink.write(frame)
            if ref_out is not None:
                ref_out.score(frame)
            bar.update(1)

    engine = StreamingEnhancer(
        run_stage1,
        run_stage2 if net2 is not None else None,
        chunk=chunk,
        overlap=overlap,
        tile=tile1,
        tile_overlap=tile_overlap,
        stage1_multiple=net1.size_multiple,
        stage2_multiple=net2.size_multiple if net2 is not None else 1,
        device=dev,
        stage2_tile=tile2,
        on_final=drain,
    )
    try:
        with torch.inference_mode():
            for t, frame in enumerate(reader):
                if ref_in is not None:
                    ref_in.score(frame)
                if not (dedup and detector.update(frame)):
                    engine.push(frame, flags[t])
                pending.append(engine.received - 1)
                drain()
            engine.finish()
            drain()
        if sink.count != n:
            raise DataError(input_path, f"wrote {sink.count} frames but the input has {n}")
        sink.commit()
    finally:
        bar.close()
    return EnhanceResult(
        output=sink.staged.target,
        frames=n,
        unique_frames=engine.received,
        psnr_in=ref_in.mean() if ref_in else None,
        psnr_out=ref_out.mean() if ref_out else None,
        seconds=time.perf_counter() - started,
        model_seconds=engine.model_seconds,
        tiles=tiles,
    )


# ----------------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m vsr_lightning.enhance",
        description="Enhance a compressed video with stage one (BasicVSR++) and optionally stage two (SwinIR).",
    )
    p.add_argument("input", type=Path, help="any FFmpeg-readable video, or raw 8-bit YUV 4:2:0 (.yuv, with --size)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output video file, or folder with --png")
    p.add_argument(
        "--stage1",
        type=Path,
        default=None,
        help=f"stage-one checkpoint (ours, official BasicVSR++, or a zoo name such as zoo:<entry>; "
        f"default: {DEFAULT_STAGE1})",
    )
    p.add_argument(
        "--stage2",
        type=Path,
        help=f"stage-two checkpoint (ours, official SwinIR, a zoo name, or 'zoo' for {DEFAULT_STAGE2})",
    )
    p.add_argument("--tta", action="store_true", help="x8 flip/transpose test-time augmentation")
    p.add_argument("--tta-temporal", action="store_true", help="with --tta, also average over time reversal (x16)")
    p.add_argument("--reference", type=Path, help="ground truth: print input/output PSNR and the gain")
    p.add_argument("--size", type=parse_size, help="WxH of raw YUV input (and reference)")
    p.add_argument("--fps", type=float, default=25.0, help="frame rate of raw YUV input (default 25)")
    p.add_argument("--chunk", type=int, default=32, help="unique frames per temporal chunk (default 32)")
    p.add_argument("--overlap", type=int, default=4, help="frames shared by neighbouring chunks (default 4)")
    p.add_argument(
        "--tile",
        type=parse_tile,
        default="auto",
        help="spatial tile size, 'auto' (default: as large as --max-memory allows) or 'none'",
    )
    p.add_argument(
        "--max-memory",
        type=float,
        default=None,
        help="GiB the run may use when --tile is auto (default: 4 of host memory on the CPU, the free "
        "device memory on CUDA; estimates, not a hard limit)",
    )
    p.add_argument("--tile-overlap", type=int, default=16, help="pixels shared by neighbouring tiles")
    p.add_argument("--no-dedup", action="store_true", help="enhance duplicated frames too")
    p.add_argument(
        "--dup-threshold",
        type=float,
        default=0.3,
        help="mean absolute difference (0-255) under which a frame repeats its predecessor",
    )
    p.add_argument("--png", action="store_true", help="write a folder of PNG frames instead of a video")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output file, or an output folder holding only frames, once the new "
        "output is complete (default: refuse)",
    )
    quality = p.add_mutually_exclusive_group()
    quality.add_argument("--lossless", action="store_true", help="lossless RGB x264 video (the default)")
    quality.add_argument("--crf", type=int, help="lossy x264 (YUV 4:2:0) at this CRF instead of lossless")
    pqf = p.add_mutually_exclusive_group()
    pqf.add_argument("--qp-sidecar", type=Path, help="QP sidecar with PQF flags (default: <input>.qp.json if present)")
    pqf.add_argument("--pqf-period", type=int, default=4, help="PQF every N frames when there is no sidecar")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast for both networks (for GPUs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def parse_tile(text: str) -> int | str | None:
    """``--tile`` values: an integer size, 'auto' (memory-planned) or 'none' (None: whole frames)."""
    if text in ("auto", "none"):
        return None if text == "none" else text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, 'auto' or 'none', got {text!r}") from None


def _fmt_db(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.3f}"


def zoo_defaults(stage1: Path | None, stage2: Path | None) -> tuple[str | Path, str | Path | None]:
    """No ``--stage1``: the zoo's stage one; ``--stage2 zoo``: the zoo's refiner (a ValueError if not shipped)."""
    if stage1 is None:
        if not has_zoo_entry(DEFAULT_STAGE1):
            raise ValueError(f"--stage1: no checkpoint given and this installation's zoo has no {DEFAULT_STAGE1}")
        stage1 = DEFAULT_STAGE1
    if stage2 is not None and str(stage2) == "zoo":
        stage2 = DEFAULT_STAGE2
    return stage1, stage2


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.stage1, args.stage2 = zoo_defaults(args.stage1, args.stage2)
        for net in (args.stage1, args.stage2):
            if is_zoo_name(net):
                print(f"using {provenance(net)}")
        if (warning := slow_bf16_warning(args.bf16, resolve_device(args.device))) is not None:
            print(warning, file=sys.stderr)
        result = enhance_file(
            args.input,
            args.output,
            args.stage1,
            args.stage2,
            reference=args.reference,
            size=args.size,
            fps=args.fps,
            chunk=args.chunk,
            overlap=args.overlap,
            tile=args.tile,
            tile_overlap=args.tile_overlap,
            max_memory_gib=args.max_memory,
            tta=args.tta,
            temporal_tta=args.tta_temporal,
            dedup=not args.no_dedup,
            dup_threshold=args.dup_threshold,
            png=args.png,
            lossless=args.crf is None,
            crf=args.crf if args.crf is not None else 12,
            qp_sidecar=args.qp_sidecar,
            pqf_period=args.pqf_period,
            device=args.device,
            bf16=args.bf16,
            progress=not args.no_progress,
            overwrite=args.overwrite,
        )
    except ValueError as exc:  # DataError and checkpoint errors: they name the file and the problem
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, read-only folder: the staged output is already removed
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    print(
        f"wrote {result.output}: {result.frames} frames in {result.seconds:.1f} s (model {result.model_seconds:.1f} s)"
    )
    skipped = result.frames - result.unique_frames
    print(
        f"dedup: enhanced {result.unique_frames}/{result.frames} unique frames, copied {skipped} duplicates "
        f"({skipped / result.frames:.1%} of frames), about {result.dedup_saved_seconds:.1f} s of model time saved"
    )
    if result.psnr_in is not None and result.psnr_out is not None and result.gain is not None:
        print(
            f"PSNR (RGB, crop 0, mean over {result.frames} frames): input {_fmt_db(result.psnr_in)} dB, "
            f"output {_fmt_db(result.psnr_out)} dB, gain {result.gain:+.3f} dB"
        )
    return 0


if __name__ == "__main__":
    exit_on_sigterm()  # a cancelled run removes its staged output
    raise SystemExit(main())
