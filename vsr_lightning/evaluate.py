"""``python -m vsr_lightning.evaluate``: score outputs under a benchmark's protocol, beside its published rows.

Examples::

    python -m vsr_lightning.evaluate outputs/ --gt test_18/raw --lq test_18/HM16.5_LDP/QP37 --protocol mfqe
    python -m vsr_lightning.evaluate enhanced/ --gt ldv/test/gt --lq ldv/test/lq_qp37 --protocol ntire22 --out scores/
    python -m vsr_lightning.evaluate RUNS/stage1_outputs-KEY/outputs/val --dataset DATA --split val --protocol ntire22

OUTPUTS, GT and LQ are each one video or a folder of them: video files (HEVC bitstreams included), raw
YUV 4:2:0 with JCT-VC names (``Name_416x240_50.yuv``; ``--size``/``--fps`` for other names) or PNG
folders, matched by video name. ``--dataset`` takes GT and LQ from a prepared dataset's split (an
experiment's own validation outputs live under its ``stage1_outputs`` job). The table goes to the
terminal and, with ``--out``, to ``<out>/<protocol>_scores.{md,csv,tex}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from vsr_lightning.data.errors import DataError, os_error_line
from vsr_lightning.data.frame_sources import discover_sources
from vsr_lightning.data.manifest import Manifest
from vsr_lightning.data.pairing import match_by_name
from vsr_lightning.data.video_io import parse_size
from vsr_lightning.metrics.protocol_tables import protocol_table
from vsr_lightning.metrics.protocols import PROTOCOLS, VideoResult, score_video
from vsr_lightning.report.rendering import to_csv, to_latex, to_markdown
from vsr_lightning.report.table_model import Table
from vsr_lightning.termination import exit_on_sigterm

RENDERERS = {"md": to_markdown, "csv": to_csv, "tex": to_latex}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vsr_lightning.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("outputs", type=Path, help="the method's outputs: one video or a folder of them")
    parser.add_argument("--gt", type=Path, help="the originals (ground truth)")
    parser.add_argument("--lq", type=Path, help="the compressed inputs")
    parser.add_argument("--dataset", type=Path, help="a prepared dataset: GT and LQ from its --split")
    parser.add_argument("--split", default="val", help="split of --dataset (default val)")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), required=True)
    parser.add_argument("--size", help="frame size of raw .yuv files whose names carry none, WxH")
    parser.add_argument("--fps", type=float, help="frame rate of raw files whose names carry none")
    parser.add_argument("--out", type=Path, help="folder to write <protocol>_scores.{md,csv,tex} into")
    parser.add_argument("--overwrite", action="store_true", help="replace existing table files in --out")
    return parser


def _gt_lq_roots(args: argparse.Namespace) -> tuple[Path, Path]:
    if args.dataset is not None:
        if args.gt or args.lq:
            raise ValueError("give either --dataset or --gt and --lq, not both")
        manifest = Manifest.load(args.dataset)
        return args.dataset / args.split / "gt", args.dataset / args.split / manifest.lq_dir_name
    if args.gt is None or args.lq is None:
        raise ValueError("give --gt and --lq (or --dataset)")
    return args.gt, args.lq


def table_paths(out: Path, slug: str, overwrite: bool) -> dict[str, Path]:
    """Where the table files go; existing ones are refused before any scoring unless ``overwrite``."""
    paths = {fmt: out / f"{slug}.{fmt}" for fmt in RENDERERS}
    if out.exists() and not out.is_dir():
        raise DataError(out, "exists and is not a folder")
    for path in paths.values():
        if path.exists() and not overwrite:
            raise DataError(path, "already exists; pass --overwrite to replace it")
    return paths


def write_atomic(path: Path, text: str) -> None:
    """Write under a temporary name beside ``path`` and rename: never a half-written table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def evaluate(
    outputs: Path,
    gt_root: Path,
    lq_root: Path,
    protocol: str,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
) -> tuple[list[VideoResult], Table]:
    """Score every output against its GT and LQ (matched by name); videos without an output are noted."""
    chosen = PROTOCOLS[protocol]
    found = {
        side: discover_sources(root, size, fps)
        for side, root in (("GT", gt_root), ("LQ", lq_root), ("outputs", outputs))
    }
    single = all(Path(p).is_file() for p in (gt_root, lq_root, outputs))
    pairing = match_by_name({side: d.sources for side, d in found.items()}, explicit=single)
    if pairing.unpaired["outputs"]:
        names = ", ".join(pairing.unpaired["outputs"])
        raise DataError(outputs, f"outputs without a GT in {gt_root} and an LQ in {lq_root}: {names}")
    if not pairing.matched:
        raise DataError(outputs, f"no output matches a video of both {gt_root} and {lq_root}")
    results = [score_video(chosen, name, out, lq, gt) for name, (gt, lq, out) in pairing.matched.items()]
    notes = [f"Not scored (no output, or no partner): {line}." for line in pairing.report()]
    notes += [
        f"{side}: read the PNG folders, not the video files of the same names ({', '.join(d.shadowed)})."
        for side, d in found.items()
        if d.shadowed
    ]
    return results, protocol_table(chosen, results, notes)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        gt_root, lq_root = _gt_lq_roots(args)
        size = parse_size(args.size) if args.size else None
        paths = table_paths(args.out, f"{args.protocol}_scores", args.overwrite) if args.out else {}
        _, table = evaluate(args.outputs, gt_root, lq_root, args.protocol, size, args.fps)
        for fmt, path in paths.items():
            write_atomic(path, RENDERERS[fmt](table))
    except (DataError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {os_error_line(err)}", file=sys.stderr)
        return 2
    print(to_markdown(table))
    if paths:
        print(f"tables written: {', '.join(str(p) for p in paths.values())}")
    return 0


def cli() -> int:
    exit_on_sigterm()
    return main()


if __name__ == "__main__":
    sys.exit(cli())
