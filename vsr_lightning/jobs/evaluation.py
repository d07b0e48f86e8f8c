"""A trained job's final evaluation with the test options: what ``test-<options key>.json`` holds.

Written once per set of test options next to the job (``jobs/fit_job.py``), so a later run that asks
for the same evaluation reads it instead of running the network again. The names of the per-frame
columns are the report's (``report/run_schema.py``, ``PER_FRAME_COLUMNS``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Evaluation:
    """Final scores of one job (the fields in the order the JSON file holds them)."""

    metrics: dict[str, float]
    """Overall metrics under their logged names (``val/psnr``, ``val/ssim``, ...)."""
    per_video: dict[str, dict[str, float]]
    """Video -> metric (``psnr``, ``psnr_lq``, ``ssim``, ``psnr_y``, ``psnr_y_lq``) -> value."""
    per_frame: list[list[Any]]
    """Rows ``[video, frame, psnr, psnr_lq, pqf]`` (``run_schema.PER_FRAME_COLUMNS``)."""
    samples: dict[str, dict[str, str]] = field(default_factory=dict)
    """Video -> sample kind (``lq``, ``stage1``, ``output``, ``gt``) -> PNG path."""
    per_video_stage1: dict[str, float] = field(default_factory=dict)
    """Stage two only: stage one's PSNR per video (what the refiner starts from)."""
    test_options: dict[str, Any] = field(default_factory=dict)
    """The evaluation options these scores were computed with."""

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "per_video": self.per_video,
            "per_frame": self.per_frame,
            "samples": self.samples,
            "per_video_stage1": self.per_video_stage1,
            "test_options": self.test_options,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evaluation:
        return cls(
            metrics=dict(data["metrics"]),
            per_video=dict(data["per_video"]),
            per_frame=list(data["per_frame"]),
            samples=dict(data.get("samples") or {}),
            per_video_stage1=dict(data.get("per_video_stage1") or {}),
            test_options=dict(data.get("test_options") or {}),
        )

    @classmethod
    def read(cls, path: Path) -> Evaluation | None:
        """The evaluation stored at ``path``, or None when there is none yet."""
        if not path.is_file():
            return None
        return cls.from_json(json.loads(path.read_text()))

    def write(self, path: Path) -> Evaluation:
        """Store atomically (a temporary file beside ``path``, then a rename)."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json()))
        os.replace(tmp, path)
        return self
