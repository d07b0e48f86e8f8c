"""Enhance a compressed video file with the two-stage model, streaming it in bounded memory.

    python -m vsr_lightning.enhance in.mkv -o out.mkv [--stage1 s1.ckpt] [--stage2 s2.ckpt | zoo] [--tta]
    python -m vsr_lightning.enhance in.yuv --size 416x240 --fps 30 -o frames/ --png --stage1 s1.ckpt

The command line and :func:`enhance_file`. The run is the inference engine's (``inference/file_stream.py``):
the temporal chunks, tiles, TTA and duplicate copy-back validation uses, on a stream in bounded memory, so
streaming gives the frames enhancing the whole clip in memory gives. The output is staged under a temporary
name and moved into place only when complete; nothing the run did not create is ever removed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vsr_lightning.data.errors import os_error_line
from vsr_lightning.data.video_io import VideoReader, parse_size
from vsr_lightning.inference.file_checks import (
    check_even_size,
    input_files,
    resolve_device,
    resolve_pqf,
    slow_bf16_warning,
)
from vsr_lightning.inference.file_stream import EnhanceResult, StreamOptions, enhance_stream
from vsr_lightning.inference.protocol import InferenceNetwork, require_inference_network
from vsr_lightning.inference.reference import Reference
from vsr_lightning.inference.sinks import FileSink
from vsr_lightning.models.loading import load_network
from vsr_lightning.termination import exit_on_sigterm
from vsr_lightning.zoo.registry import has_zoo_entry, is_zoo_name, provenance

DEFAULT_STAGE1 = "zoo:stage1-embedded"
DEFAULT_STAGE2 = "zoo:stage2-embedded"

Network = nn.Module | InferenceNetwork | str | Path


def _load(net: Network, kind: str, device: torch.device) -> InferenceNetwork:
    module = net if isinstance(net, nn.Module) else load_network(net, kind)  # type: ignore[arg-type]
    return require_inference_network(module.to(device).eval(), f"--{kind}")


def enhance_file(
    input_path: str | Path,
    output: str | Path,
    stage1: Network,
    stage2: Network | None = None,
    *,
    reference: str | Path | None = None,
    size: tuple[int, int] | None = None,
    fps: float = 25.0,
    png: bool = False,
    lossless: bool = True,
    crf: int = 12,
    qp_sidecar: str | Path | None = None,
    pqf_period: int = 4,
    device: str | torch.device = "cpu",
    overwrite: bool = False,
    **options: Any,
) -> EnhanceResult:
    """Enhance one video file (or raw YUV with ``size``) into ``output``; see the module docstring.

    ``stage1``/``stage2`` are checkpoint paths (any format :func:`load_network` reads) or built networks.
    ``options`` are :class:`~vsr_lightning.inference.file_stream.StreamOptions` fields: ``chunk``,
    ``overlap``, ``tile`` ('auto' tiles each stage only as much as needed to stay within ``max_memory_gib``,
    see :func:`~vsr_lightning.inference.memory_plan.plan_memory`; an integer tiles both stages at that size,
    None never tiles), ``tile_overlap``, ``tta``, ``temporal_tta``, ``dedup``, ``dup_threshold``, ``bf16``
    (both networks under bf16 autocast, for GPUs) and ``progress``. The output is written under a temporary
    name beside it and moved there at the end; an existing output is refused unless ``overwrite`` (see
    :mod:`vsr_lightning.staged_output`). Every check (output, device, frame size) comes before any model time.
    """
    started, settings = time.perf_counter(), StreamOptions(**options)
    input_path, output = Path(input_path), Path(output)
    reader = VideoReader(input_path, size=size, fps=fps)
    if problem := reader.truncation():
        print(f"warning: {input_path}: {problem}; enhancing the {len(reader)} frames it holds", file=sys.stderr)
    flags, _ = resolve_pqf(input_path, len(reader), Path(qp_sidecar) if qp_sidecar else None, pqf_period)
    ref_in = Reference(Path(reference), size, fps, reader) if reference else None  # scores the input
    ref_out = Reference(Path(reference), size, fps, reader) if reference else None  # and the output
    dev = resolve_device(device)
    if not png and not lossless:
        check_even_size(input_path, reader.info.width, reader.info.height)
    inputs = input_files(input_path, qp_sidecar, reference, stage1, stage2)
    sink = FileSink(output, reader.info.fps, png, lossless, crf, overwrite, inputs)
    try:
        nets = _load(stage1, "stage1", dev), _load(stage2, "stage2", dev) if stage2 is not None else None
        return enhance_stream(reader, flags, nets, sink, (ref_in, ref_out), settings, dev, started)
    except BaseException:
        sink.abort()
        raise


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
    _add_chunk_and_tile_options(p)
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


def _add_chunk_and_tile_options(p: argparse.ArgumentParser) -> None:
    """Temporal chunks and spatial tiles: what bounds the run's memory."""
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


SAME_NAMES = ("reference", "size", "fps", "chunk", "overlap", "tile", "tile_overlap", "tta", "dup_threshold", "png")
SAME_NAMES += ("qp_sidecar", "pqf_period", "device", "bf16", "overwrite")
"""Options whose :func:`enhance_file` keyword is the command line's name."""


def _file_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`enhance_file` keywords of the parsed command line."""
    options = {name: getattr(args, name) for name in SAME_NAMES}
    options.update(max_memory_gib=args.max_memory, temporal_tta=args.tta_temporal, dedup=not args.no_dedup)
    options.update(lossless=args.crf is None, crf=12 if args.crf is None else args.crf, progress=not args.no_progress)
    return options


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.stage1, args.stage2 = zoo_defaults(args.stage1, args.stage2)
        for net in (args.stage1, args.stage2):
            if is_zoo_name(net):
                print(f"using {provenance(net)}")
        if (warning := slow_bf16_warning(args.bf16, resolve_device(args.device))) is not None:
            print(warning, file=sys.stderr)
        result = enhance_file(args.input, args.output, args.stage1, args.stage2, **_file_options(args))
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
