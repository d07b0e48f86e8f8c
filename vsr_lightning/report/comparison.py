"""Per-video numbers of several arms aligned on the same videos.

Means and gains are only meaningful over videos every arm was evaluated on, so the alignment keeps
track of the common set and of which video is missing where.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from vsr_lightning.report.run_record import RunRecord

METRICS: tuple[str, ...] = ("psnr", "psnr_y")
LQ_TOLERANCE_DB = 1e-3


@dataclass
class Comparison:
    """Metric values per (arm, video) for the included runs."""

    arms: list[str]
    baseline: str | None
    metric: str
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    inputs: dict[str, dict[str, float]] = field(default_factory=dict)
    videos: list[str] = field(default_factory=list)
    common: list[str] = field(default_factory=list)

    @property
    def lq_metric(self) -> str:
        return f"{self.metric}_lq"

    def missing(self) -> dict[str, list[str]]:
        """video -> arms that lack it (only videos missing somewhere)."""
        out: dict[str, list[str]] = {}
        for video in self.videos:
            lacking = [arm for arm in self.arms if video not in self.values[arm]]
            if lacking:
                out[video] = lacking
        return out

    def value(self, arm: str, video: str) -> float | None:
        return self.values[arm].get(video)

    def input_value(self, video: str) -> float | None:
        """Input (compressed) PSNR of a video, from the first arm (baseline first) that has it."""
        for arm in self.arms:
            if video in self.inputs[arm]:
                return self.inputs[arm][video]
        return None

    def inconsistent_inputs(self) -> list[str]:
        """Videos whose input PSNR differs between arms (a sign of different validation data)."""
        bad: list[str] = []
        for video in self.videos:
            seen = [self.inputs[arm][video] for arm in self.arms if video in self.inputs[arm]]
            if seen and max(seen) - min(seen) > LQ_TOLERANCE_DB:
                bad.append(video)
        return bad

    def mean(self, arm: str) -> float | None:
        """Mean of the arm's per-video values over the common videos."""
        return float(np.mean([self.values[arm][v] for v in self.common])) if self.common else None

    def mean_input(self) -> float | None:
        if not self.common:
            return None
        return float(np.mean([self.input_value(v) for v in self.common]))

    def gains_vs_input(self, arm: str) -> np.ndarray:
        """Per common video: arm minus its own compressed input."""
        return np.array([self.values[arm][v] - self.inputs[arm][v] for v in self.common], dtype=np.float64)

    def gains_vs(self, arm: str, reference: str) -> np.ndarray:
        """Per common video: arm minus reference arm."""
        return np.array([self.values[arm][v] - self.values[reference][v] for v in self.common], dtype=np.float64)


def compare(included: Mapping[str, RunRecord], baseline: str | None = None, metric: str = "psnr") -> Comparison:
    """Align the included runs (arm -> run) on their videos for ``metric`` ("psnr" or "psnr_y").

    A video counts for an arm only when both the metric and its compressed-input value were logged.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if baseline is not None and baseline not in included:
        raise ValueError(f"baseline arm {baseline!r} is not among the included arms {list(included)}")
    lq = f"{metric}_lq"
    cmp = Comparison(arms=list(included), baseline=baseline, metric=metric)
    for arm, run in included.items():
        usable = {v: m for v, m in run.videos.items() if metric in m and lq in m}
        cmp.values[arm] = {v: m[metric] for v, m in usable.items()}
        cmp.inputs[arm] = {v: m[lq] for v, m in usable.items()}
    cmp.videos = sorted(set().union(*(set(v) for v in cmp.values.values()))) if cmp.values else []
    cmp.common = [v for v in cmp.videos if all(v in cmp.values[arm] for arm in cmp.arms)]
    return cmp
