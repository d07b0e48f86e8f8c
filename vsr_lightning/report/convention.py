"""The PSNR convention the runs were measured with, and the refusal to mix conventions.

Toolboxes disagree (RGB vs Y, crop border 0 vs 1, per-frame vs per-video averaging), and the
differences are as large as the ablation gains, so every table states it and mixed runs are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vsr_lightning.report import run_schema as rs
from vsr_lightning.report.run_record import RunRecord

_CHANNEL_TEXT = {"rgb": "RGB PSNR", "y": "Y-channel PSNR"}


class ConventionMismatchError(ValueError):
    """Runs were measured under different PSNR conventions; their numbers must not be compared."""


@dataclass(frozen=True)
class PsnrConvention:
    """``config.psnr_convention`` of a run."""

    channel: str
    crop_border: int
    average: str

    def describe(self, metric: str = "psnr") -> str:
        """One line for under a table, e.g. 'RGB PSNR, crop border 0, averaged per video then over videos'."""
        channel = "y" if metric.startswith("psnr_y") else self.channel.lower()
        text = _CHANNEL_TEXT.get(channel, f"{self.channel} PSNR")
        if self.average.strip().lower() in (rs.AVERAGE_PER_VIDEO, "per video then over videos"):
            average = "averaged per video then over videos"
        else:
            average = f"averaged: {self.average}"
        return f"{text}, crop border {self.crop_border}, {average}"


def convention_of(run: RunRecord) -> PsnrConvention | None:
    """The run's recorded convention, or None when its config does not say."""
    raw = run.config.get(rs.CONFIG_PSNR_CONVENTION)
    if not isinstance(raw, dict) or rs.CONVENTION_CHANNEL not in raw:
        return None
    return PsnrConvention(
        channel=str(raw[rs.CONVENTION_CHANNEL]),
        crop_border=int(raw.get(rs.CONVENTION_CROP_BORDER, 0)),
        average=str(raw.get(rs.CONVENTION_AVERAGE, "unspecified")),
    )


def common_convention(runs: Iterable[RunRecord]) -> PsnrConvention | None:
    """The single convention shared by ``runs``; None if no run records one.

    Raises ConventionMismatchError when runs disagree, including when only some of them record it.
    """
    by_convention: dict[PsnrConvention | None, list[str]] = {}
    for run in runs:
        by_convention.setdefault(convention_of(run), []).append(f"{run.arm}: {run.label}")
    if len(by_convention) > 1:
        lines = [
            f"  - {conv.describe() if conv else 'NOT RECORDED'}: {', '.join(names)}"
            for conv, names in by_convention.items()
        ]
        raise ConventionMismatchError(
            "REFUSING TO COMPARE: the runs were measured under different PSNR conventions:\n" + "\n".join(lines)
        )
    return next(iter(by_convention), None)


def convention_line(convention: PsnrConvention | None, metric: str = "psnr") -> str:
    """The sentence stated under every table."""
    if convention is None:
        return (
            "**PSNR convention NOT RECORDED** in the runs' config (`psnr_convention`): channel, crop border "
            "and averaging are unknown, so these numbers cannot be compared with published ones."
        )
    return f"PSNR convention: {convention.describe(metric)}."
