"""The one function that writes an experiment's report, for the sequential loop and the multirun alike.

Where the report's runs come from is stated, not guessed: ``wandb-offline`` reads the arms' offline W&B
runs of the experiment's group (what a multirun has, one job per arm, and what a sequential run logged);
``job-results`` takes the records built from the arms' job results (logging off, or one arm alone).
With online W&B a multirun has neither at hand: it prints the command that reports from the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from omegaconf import DictConfig

from vsr_lightning.jobs.arms import arm_names
from vsr_lightning.jobs.wandb_runs import resolve_mode
from vsr_lightning.report.rendering import to_markdown
from vsr_lightning.report.run_record import RunRecord, RunState

ReportSource = Literal["wandb-offline", "job-results"]


def report_source(cfg: DictConfig) -> ReportSource | None:
    """Where the report of this configuration reads its runs from (None: nowhere here, online W&B)."""
    if cfg.logger.enabled and resolve_mode(cfg.logger.mode) == "offline":
        return "wandb-offline"
    return None


def failed_arm(group: str, arm: str, why: str) -> RunRecord:
    """A record that lists an arm whose job failed (never averaged)."""
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


def _offline_runs(cfg: DictConfig, group: str) -> list[RunRecord]:
    from vsr_lightning.report.offline_reader import read_offline_runs

    names = set(arm_names(cfg))
    runs = read_offline_runs(Path(cfg.logger.dir) / "wandb", group=group)
    return [r for r in runs if "arm" in r.tags and (not names or r.arm in names)]


def write_experiment_report(
    cfg: DictConfig,
    records: Sequence[RunRecord] = (),
    failures: dict[str, str] | None = None,
    source: ReportSource | None = None,
    whole: bool | None = None,
) -> Path | None:
    """Write the report of experiment ``cfg`` from ``source`` (default: :func:`report_source`, falling back
    to ``records`` from the job results); arms in ``failures`` (arm -> why) are listed. Returns its path.

    ``whole`` (default: ``report`` is on and no single ``arm`` was asked for) writes ``<reports>/<group>/``;
    otherwise the report goes under ``<reports>/<group>/partial/<arm>``.
    """
    group = cfg.experiment.name
    source = source or report_source(cfg) or ("job-results" if records else None)
    if source is None:
        print(f"done; online runs: `python -m vsr_lightning.report --group {group} --project {cfg.logger.project}`")
        return None
    if whole is None:
        whole = bool(cfg.report) and cfg.arm is None
    runs = _offline_runs(cfg, group) if source == "wandb-offline" and (whole or cfg.arm is None) else []
    if not runs:
        source, runs = "job-results", list(records)
    runs += [failed_arm(group, arm, why) for arm, why in (failures or {}).items()]
    if not runs:
        print(f"no finished arm runs in group {group!r} to report")
        return None
    return _write(cfg, group, runs, source, whole)


def _write(cfg: DictConfig, group: str, runs: list[RunRecord], source: ReportSource, whole: bool) -> Path:
    from vsr_lightning.report import write_report

    out = Path(cfg.paths.reports_dir) / group
    baseline = cfg.experiment.baseline_arm
    finished = {r.arm for r in runs if r.state == RunState.FINISHED}
    report = write_report(
        runs,
        out if whole else out / "partial" / (cfg.arm or "all"),
        baseline=baseline if baseline in finished else None,
        title=f"{group}: {cfg.experiment.description}".rstrip(": "),
    )
    table = report.tables.get("per_video") or next(iter(report.tables.values()), None)
    if table is not None:
        print("\n" + to_markdown(table))
    print(f"\nreport ({source}): {report.markdown}")
    return report.markdown
