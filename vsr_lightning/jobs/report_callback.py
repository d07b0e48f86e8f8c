"""Hydra callback: after a multirun (one job per arm), write the experiment's combined report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class ExperimentReportCallback(Callback):
    """Reads the arms' W&B runs of the experiment group (offline directory) and writes the report."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        write_multirun_report(config)


def _failed_arm(group: str, arm: str, why: str) -> Any:
    from vsr_lightning.report.run_record import RunRecord, RunState

    return RunRecord(
        run_id=f"failed-{arm}",
        name=f"{group}/{arm}",
        group=group,
        arm=arm,
        job_type=None,
        state=RunState.CRASHED,
        state_detail=why,
        source="launcher",
    )


def write_multirun_report(config: DictConfig, failures: dict[str, str] | None = None) -> None:
    """The combined report of a multirun; arms whose job failed (``failures``: arm -> why) are listed."""
    from vsr_lightning.jobs.wandb_runs import resolve_mode
    from vsr_lightning.report import write_report
    from vsr_lightning.report.offline_reader import read_offline_runs

    failures = failures or {}
    if not config.logger.enabled or resolve_mode(config.logger.mode) != "offline":
        print(
            "multirun done; online runs: `python -m vsr_lightning.report --group "
            f"{config.experiment.name} --project {config.logger.project}` writes the report"
        )
        return
    group = config.experiment.name
    runs = [r for r in read_offline_runs(Path(config.logger.dir) / "wandb", group=group) if "arm" in r.tags]
    runs += [_failed_arm(group, arm, why) for arm, why in failures.items()]
    if not runs:
        print(f"multirun done; no finished arm runs in group {group!r} to report")
        return
    baseline = None if config.experiment.baseline_arm in failures else config.experiment.baseline_arm
    report = write_report(
        runs,
        Path(config.paths.reports_dir) / group,
        baseline=baseline,
        title=f"{group}: {config.experiment.description}".rstrip(": "),
    )
    print(f"report: {report.markdown}")
