"""Reports from W&B runs: per-video PSNR and ablation tables with uncertainty, and plots.

The logging contract the trainer follows lives in :mod:`vsr_lightning.report.run_schema`. Public names
are imported lazily so that importing the contract does not pull in matplotlib or wandb.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "ConventionMismatchError": "vsr_lightning.report.convention",
    "FrameRow": "vsr_lightning.report.run_record",
    "RunRecord": "vsr_lightning.report.run_record",
    "RunState": "vsr_lightning.report.run_record",
    "WrittenReport": "vsr_lightning.report.report_writer",
    "read_api_runs": "vsr_lightning.report.api_reader",
    "read_offline_runs": "vsr_lightning.report.offline_reader",
    "write_report": "vsr_lightning.report.report_writer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
