"""One W&B run in the form every report step works on, whatever it was read from.

Readers (offline directory, W&B API) fill this; tables and plots never look at W&B objects, so the
same numbers come out of both sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any


class RunState(StrEnum):
    """Lifecycle of a run as far as the report cares: only FINISHED runs are averaged."""

    FINISHED = "finished"
    CRASHED = "crashed"
    RUNNING = "running"


@dataclass(frozen=True)
class FrameRow:
    """One row of the ``val/per_frame`` table."""

    video: str
    frame: int
    psnr: float
    psnr_lq: float
    pqf: bool


@dataclass
class RunRecord:
    """Everything the report uses from one run."""

    run_id: str
    name: str
    group: str | None
    arm: str | None
    job_type: str | None
    state: RunState
    config: dict[str, Any] = field(default_factory=dict)
    videos: dict[str, dict[str, float]] = field(default_factory=dict)
    overall: dict[str, float] = field(default_factory=dict)
    frames: list[FrameRow] = field(default_factory=list)
    params: int | None = None
    train_seconds: float | None = None
    to_final_psnr_seconds: float | None = None
    global_step: int | None = None
    started_at: datetime | None = None
    tags: tuple[str, ...] = ()
    samples: dict[str, dict[str, Path]] = field(default_factory=dict)
    source: str = ""
    state_detail: str = ""

    @property
    def label(self) -> str:
        """Short human reference to the run, for lists and notes."""
        return f"{self.name} ({self.run_id})" if self.name and self.name != self.run_id else self.run_id

    def missing_summary(self) -> list[str]:
        """What a finished run lacks to be compared (empty list when it is complete)."""
        missing: list[str] = []
        if self.arm is None:
            missing.append("config.arm")
        if "psnr" not in self.overall:
            missing.append("val/psnr")
        if not any("psnr" in m and "psnr_lq" in m for m in self.videos.values()):
            missing.append("per-video val/video/*/psnr with psnr_lq")
        return missing
