"""Run the arms of an experiment, log each as a W&B run in the experiment's group, report the result.

``python run.py +experiment=NAME`` runs every arm in turn (each arm's prerequisites once, cached);
``python run.py -m +experiment=NAME`` sweeps ``arm`` so each arm is its own job (locally or on SLURM).
A failing arm is reported and the others still run; the command fails at the end if any arm failed.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from omegaconf import DictConfig

from vsr_lightning.jobs.experiment_report import write_experiment_report
from vsr_lightning.jobs.fit_job import load_samples
from vsr_lightning.jobs.job_dir import is_rank_zero
from vsr_lightning.jobs.job_result import JobResult
from vsr_lightning.jobs.pipeline import Pipeline
from vsr_lightning.jobs.wandb_runs import WandbUnreachable, log_arm_run
from vsr_lightning.report import run_schema as keys
from vsr_lightning.report.run_record import FrameRow, RunRecord, RunState


class ArmFailed(RuntimeError):
    """One or more arms failed; the others completed and were reported."""


def record_from_result(arm: str, group: str, job_type: str, config: dict, result: JobResult) -> RunRecord:
    """A report record straight from a job result (used when W&B is off, and for the console table)."""
    scores = result.scores
    return RunRecord(
        run_id=f"{result.kind}-{result.key}",
        name=f"{group}/{arm}",
        group=group,
        arm=arm,
        job_type=job_type,
        state=RunState.FINISHED,
        config=config,
        videos=scores.per_video,
        overall={k.removeprefix("val/"): v for k, v in scores.metrics.items() if k in keys.OVERALL_KEYS.values()},
        frames=[FrameRow(*row) for row in scores.per_frame],
        params=result.params,
        train_seconds=result.train_seconds,
        to_final_psnr_seconds=result.to_final_psnr_seconds,
        global_step=result.global_step,
        started_at=datetime.now(UTC),
        samples={v: {k: Path(p) for k, p in crops.items()} for v, crops in scores.samples.items()},
        source="job result",
    )


def run_experiment(cfg: DictConfig, arms: Mapping[str, DictConfig]) -> dict[str, JobResult]:
    """Run the arms (``arms``: name -> composed configuration, from :func:`~vsr_lightning.jobs.arms.arm_configs`),
    log them, print the per-video table, write the report."""
    group = cfg.experiment.name
    results: dict[str, JobResult] = {}
    records: list[RunRecord] = []
    failures: dict[str, str] = {}
    data_identities: dict[str, str] = {}  # computed once per run for each data configuration
    for arm, acfg in arms.items():
        print(f"\n=== {group}: arm {arm!r} ===", flush=True)
        pipeline = Pipeline(acfg, arm, data_identities)
        try:
            result = pipeline.run()
        except WandbUnreachable:  # online-only logging asked for: no arm can log, stop at once
            raise
        except Exception as err:  # keep going: the other arms still run and are reported
            failures[arm] = f"{type(err).__name__}: {err}"
            traceback.print_exc()
            continue
        job_type = acfg.experiment.compare_stage
        config = pipeline.log_config(job_type, {"job": result.key, "lineage": result.lineage})
        if acfg.logger.enabled:
            log_arm_run(acfg.logger, group, arm, job_type, config, result, load_samples(result))
        results[arm] = result
        records.append(record_from_result(arm, group, job_type, config, result))
    if records and is_rank_zero():
        write_experiment_report(cfg, records)
    for arm, result in results.items():
        _print_refiner_gain(arm, result)
    if failures:
        lines = "\n".join(f"  {arm}: {why}" for arm, why in failures.items())
        raise ArmFailed(f"{len(failures)} of {len(arms)} arms failed:\n{lines}")
    return results


def _print_refiner_gain(arm: str, result: JobResult) -> None:
    """For stage-two arms: what the refiner adds on top of stage one, video by video."""
    scores = result.scores
    stage1 = scores.per_video_stage1
    if not stage1:
        return
    gains = {v: scores.per_video[v]["psnr"] - p for v, p in stage1.items() if v in scores.per_video}
    cells = ", ".join(f"{v} {g:+.3f}" for v, g in sorted(gains.items()))
    print(f"{arm}: refiner gain over stage one (RGB PSNR, dB): mean {sum(gains.values()) / len(gains):+.3f} ({cells})")
