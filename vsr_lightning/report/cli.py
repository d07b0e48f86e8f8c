"""Command line: ``python -m vsr_lightning.report --group G (--project P | --offline DIR) --out D``.

Reads the group's runs from the W&B API or from offline run directories and writes the report.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vsr_lightning.report.convention import ConventionMismatchError
from vsr_lightning.report.report_writer import write_report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vsr_lightning.report",
        description="Per-video PSNR and ablation tables (Markdown, CSV, LaTeX) and plots from W&B runs.",
    )
    parser.add_argument("--group", required=True, help="W&B run group of the experiment")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--project", help="W&B project (read through the W&B API)")
    source.add_argument("--offline", help="directory holding offline wandb run directories (searched recursively)")
    parser.add_argument("--entity", help="W&B entity (with --project)")
    parser.add_argument("--tags", nargs="*", default=None, help="keep runs carrying any of these tags (API)")
    parser.add_argument("--out", required=True, help="output directory, e.g. experiments/NAME/")
    parser.add_argument("--baseline", help="arm the gains are measured against (default: config.baseline_arm)")
    parser.add_argument("--video", help="video for the per-frame and sample-crop figures")
    parser.add_argument("--metric", choices=("psnr", "psnr_y"), default="psnr", help="table metric")
    parser.add_argument("--title", help="report title (default: the group)")
    return parser


def _read_runs(args: argparse.Namespace) -> list:
    if args.offline:
        from vsr_lightning.report.offline_reader import read_offline_runs

        return read_offline_runs(args.offline, group=args.group)
    from vsr_lightning.report.api_reader import read_api_runs

    return read_api_runs(args.project, entity=args.entity, group=args.group, tags=args.tags)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 when the runs' PSNR conventions disagree)."""
    args = build_parser().parse_args(argv)
    if args.entity and not args.project:
        build_parser().error("--entity needs --project")
    try:
        runs = _read_runs(args)
    except (OSError, ValueError) as err:  # a missing or unreadable folder: one line naming it
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    try:
        written = write_report(
            runs,
            args.out,
            baseline=args.baseline,
            title=args.title or f"Ablation report: {args.group}",
            video=args.video,
            metric=args.metric,
        )
    except ConventionMismatchError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    print(f"wrote {written.markdown} ({len(runs)} runs read, {len(written.selection.included)} arms compared)")
    return 0
