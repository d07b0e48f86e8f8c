"""``python -m vsr_lightning.prepare``: build a paired dataset from your own raw videos (extra training data).

Examples::

    python -m vsr_lightning.prepare ~/raw_videos ~/data/my_extra --clip-frames 30
    python -m vsr_lightning.prepare ~/yuv ~/data/my_yuv --size 416x240 --fps 30 --val-fraction 0.2
    python -m vsr_lightning.prepare --embedded          # (re)build the embedded default dataset
    python -m vsr_lightning.prepare --pairs test_18/raw test_18/HM16.5_LDP/QP37 ~/data/mfqe2_test --split test

Each source video becomes one or more clips (``--clip-frames``), each compressed with libx265 in
the low-delay-P QP cascade. ``--val-fraction`` holds out *whole* source videos for validation so
no clip of a validation video is ever trained on.

``--pairs GT LQ OUT`` imports pairs a benchmark already ships (LDV 2.0, MFQE 2.0) without re-encoding:
GT and LQ as raw YUV 4:2:0 (JCT-VC names or ``--size``/``--fps``), PNG folders or any FFmpeg-readable
file (HM's ``.bin`` bitstreams included), paired by video name; PQF flags from the low-delay-P period
(``--pqf-period``) or HM encoder logs (``--hm-log``); splits from name lists (``--val-list``, ``--test-list``);
``--workers N`` imports N videos at once on a machine with cores to spare.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vsr_lightning.data.dataset_builder import BuildOptions, ClipSpec, SourceSpec, build_dataset, split_clips
from vsr_lightning.data.duplicates import DEFAULT_THRESHOLD
from vsr_lightning.data.embedded import ensure_embedded_dataset
from vsr_lightning.data.errors import DataError, os_error_line
from vsr_lightning.data.hevc import HevcConfig
from vsr_lightning.data.manifest import Manifest
from vsr_lightning.data.pair_import import PairOptions, import_pairs
from vsr_lightning.data.pair_plan import assign_splits, hm_logs_for, plan_pairs
from vsr_lightning.data.video_io import VideoReader, parse_size
from vsr_lightning.termination import exit_on_sigterm

VIDEO_SUFFIXES = {".mp4", ".mkv", ".y4m", ".yuv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".ts"}


def find_sources(src: Path) -> list[Path]:
    """Video files in ``src`` (a file or a folder, not recursive), sorted by name."""
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise DataError(src, "no such file or folder")
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not files:
        raise DataError(src, f"no video files ({', '.join(sorted(VIDEO_SUFFIXES))})")
    return files


def plan_clips(files: list[Path], args: argparse.Namespace) -> list[ClipSpec]:
    """Cut every source into clips and assign whole sources to train or validation."""
    size = parse_size(args.size) if args.size else None
    resize = parse_size(args.resize) if args.resize else None
    n_val = round(len(files) * args.val_fraction) if args.val_fraction else 0
    if args.val_fraction and n_val == 0:
        n_val = 1
    val_every = len(files) / n_val if n_val else None
    val_ids = {int(i * val_every) for i in range(n_val)} if val_every else set()
    clips = []
    for i, path in enumerate(files):
        source = SourceSpec(path=path, size=size, fps=args.fps, resize=resize)
        split = "val" if i in val_ids else args.split
        n = len(VideoReader(path, size=size, fps=args.fps, resize=resize))
        ranges = split_clips(n, args.clip_frames if split != "val" else 0)
        if not ranges:
            raise DataError(path, f"{n} frames: shorter than one clip of {args.clip_frames}")
        for k, (a, b) in enumerate(ranges):
            name = path.stem if len(ranges) == 1 else f"{path.stem}_{k:03d}"
            clips.append(ClipSpec(name, split, source, a, b))
    return clips


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vsr_lightning.prepare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("src", nargs="?", type=Path, help="a video file or a folder of videos")
    parser.add_argument("out", nargs="?", type=Path, help="dataset folder to create")
    parser.add_argument("--embedded", action="store_true", help="build the embedded default dataset and exit")
    parser.add_argument(
        "--pairs",
        nargs=3,
        type=Path,
        metavar=("GT", "LQ", "OUT"),
        help="import existing (original, compressed) pairs without re-encoding",
    )
    parser.add_argument("--pqf-period", type=int, default=4, help="--pairs: PQF every n-th frame (default 4)")
    parser.add_argument("--hm-log", type=Path, help="--pairs: HM encoder log (or a folder of <video>.log)")
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="--pairs: import this many videos at once, each in a process of its own (default 1)",
    )
    parser.add_argument("--val-list", type=Path, help="--pairs: file of validation video names")
    parser.add_argument("--test-list", type=Path, help="--pairs: file of test video names")
    parser.add_argument(
        "--raw-codec",
        choices=["rawvideo", "ffv1"],
        default="rawvideo",
        help="--pairs --layout video: store raw YUV inputs as they are (rawvideo, default) or "
        "losslessly compressed (ffv1: smaller, ~50 ms per 1080p frame)",
    )
    parser.add_argument("--size", help="frame size of raw .yuv files, WxH")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate of raw .yuv files (default 25)")
    parser.add_argument("--resize", help="rescale every video to WxH first")
    parser.add_argument("--qp", type=int, default=37, help="base QP (default 37, as NTIRE Track 1)")
    parser.add_argument("--preset", default="medium", help="x265 preset (default medium)")
    parser.add_argument("--clip-frames", type=int, default=0, help="cut training videos into clips (0: whole)")
    parser.add_argument("--split", default="train", help="split of the non-validation videos (default train)")
    parser.add_argument("--val-fraction", type=float, default=0.0, help="share of whole videos held out for val")
    parser.add_argument("--layout", choices=["png", "video"], default="png", help="store PNG frames or videos")
    parser.add_argument(
        "--duplicate-threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="mean abs difference (0-255) under which a compressed frame counts as a duplicate",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.embedded:
            root = args.out or args.src  # optional cache folder: `--embedded [ROOT]`
            path = ensure_embedded_dataset(root, hevc=HevcConfig(qp=args.qp), progress=not args.quiet)
            print(f"embedded dataset ready: {path}")
            return 0
        if args.pairs:
            return _report(import_pairs_from_args(args), args.pairs[2])
        if args.src is None or args.out is None:
            build_parser().error("give SRC and OUT (or --embedded)")
        clips = plan_clips(find_sources(args.src), args)
        options = BuildOptions(
            hevc=HevcConfig(qp=args.qp, preset=args.preset),
            layout=args.layout,
            duplicate_threshold=args.duplicate_threshold,
            progress=not args.quiet,
        )
        manifest = build_dataset(args.out, clips, name=args.out.name, options=options, overwrite=args.overwrite)
    except (DataError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # disk full, read-only output: the build removed its partial folder
        print(f"error: {os_error_line(err)}", file=sys.stderr)
        return 2
    return _report(manifest, args.out)


def import_pairs_from_args(args: argparse.Namespace) -> Manifest:
    """``--pairs GT LQ OUT``: plan (pair, check, read lists and logs), then import."""
    gt_root, lq_root, out = args.pairs
    size = parse_size(args.size) if args.size else None
    pairs = plan_pairs(gt_root, lq_root, size, args.fps)
    names = [p.name for p in pairs]
    options = PairOptions(
        qp=args.qp,
        pqf_period=args.pqf_period,
        layout=args.layout,
        duplicate_threshold=args.duplicate_threshold,
        hm_logs=hm_logs_for(args.hm_log, names),
        splits=assign_splits(names, args.val_list, args.test_list),
        default_split=args.split,
        raw_codec=args.raw_codec,
        progress=not args.quiet,
    )
    return import_pairs(out, pairs, name=out.name, options=options, overwrite=args.overwrite, workers=args.workers)


def _report(manifest: Manifest, out: Path) -> int:
    splits = {s: len(manifest.split(s)) for s in sorted({v.split for v in manifest.videos})}
    print(
        f"dataset ready: {out} ({', '.join(f'{n} {s}' for s, n in splits.items())} videos, "
        f"manifest hash {manifest.content_hash})"
    )
    return 0


def cli() -> int:
    """The command line (``python -m vsr_lightning.prepare``, ``vsr-prepare``)."""
    exit_on_sigterm()  # a cancelled build removes its partial folder
    return main()


if __name__ == "__main__":
    sys.exit(cli())
