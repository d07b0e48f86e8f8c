"""Hydra callback: after a multirun (one job per arm), write the experiment's combined report."""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class ExperimentReportCallback(Callback):
    """Writes the report of the whole experiment once every arm's job has ended."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        write_multirun_report(config)


def write_multirun_report(config: DictConfig, failures: dict[str, str] | None = None) -> None:
    """The combined report of a multirun from the arms' offline W&B runs; arms whose job failed (``failures``:
    arm -> why) are listed. With online W&B it prints the command that reports from the server."""
    from vsr_lightning.jobs.experiment_report import report_source, write_experiment_report

    source = report_source(config)
    if source is None:  # the arms' runs are on the server: nothing to read here
        write_experiment_report(config, failures=failures)
        return
    write_experiment_report(config, failures=failures, source=source, whole=True)
