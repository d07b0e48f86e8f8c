"""Run one training job to completion: resume from ``last.ckpt``, evaluate, store the result.

The result (parameters, training time, time to the final PSNR, lineage, checkpoint path:
:class:`~vsr_lightning.jobs.job_result.JobResult`) is plain JSON in ``done.json``, and each final evaluation
(per-video metrics, per-frame rows: :class:`~vsr_lightning.jobs.evaluation.Evaluation`) in a
``test-<options key>.json`` beside it, so any later experiment can reuse the job without loading it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only

from vsr_lightning.data.video_io import write_png
from vsr_lightning.jobs import preemption
from vsr_lightning.jobs.evaluation import Evaluation
from vsr_lightning.jobs.job_dir import JobDir, config_key
from vsr_lightning.jobs.job_result import JobResult
from vsr_lightning.jobs.wandb_runs import new_run_id, training_logger
from vsr_lightning.report import run_schema as keys
from vsr_lightning.systems.restoration_system import RestorationSystem


@dataclass
class FitSpec:
    """Everything one training job needs."""

    job: JobDir
    system: RestorationSystem
    datamodule: L.LightningDataModule
    max_steps: int
    val_every: int | None
    trainer_kwargs: dict[str, Any]
    logger_cfg: Any
    name: str
    job_type: str
    log_config: dict = field(default_factory=dict)
    evaluate: bool = True


def _samples_to_png(system: RestorationSystem, folder: Path) -> dict[str, dict[str, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[str, str]] = {}
    for video, crops in system.val_samples.items():
        for kind, tensor in crops.items():
            image = tensor.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
            path = folder / f"{video}__{kind}.png"
            write_png(image, path)
            out.setdefault(video, {})[kind] = str(path)
    return out


def _fit(spec: FitSpec) -> JobResult:
    """Train (or resume) the job and record its training result in ``done.json``."""
    job = spec.job
    logger = False
    if spec.logger_cfg.enabled:
        run_id = job.wandb_id(new_run_id)
        logger = training_logger(spec.logger_cfg, spec.name, "jobs", spec.job_type, run_id, spec.log_config)
    interval = spec.val_every or spec.max_steps
    checkpoint = ModelCheckpoint(
        dirpath=str(job.root), filename="step{step}", save_top_k=0, save_last=True, every_n_train_steps=interval
    )
    callbacks = [checkpoint, preemption.StopAtStepEnd(job.last_checkpoint)] if preemption.installed() else [checkpoint]
    kwargs = dict(spec.trainer_kwargs)
    kwargs["plugins"] = [*(kwargs.get("plugins") or []), *preemption.trainer_plugins()] or None
    trainer = L.Trainer(
        max_steps=spec.max_steps,
        val_check_interval=interval,
        check_val_every_n_epoch=None,
        logger=logger,
        callbacks=callbacks,
        default_root_dir=str(job.root),
        limit_val_batches=1.0 if spec.evaluate else 0,
        **kwargs,
    )
    resume = str(job.last_checkpoint) if job.last_checkpoint.is_file() else None
    started = time.perf_counter()
    try:
        trainer.fit(spec.system, datamodule=spec.datamodule, ckpt_path=resume, weights_only=True)
        trainer.save_checkpoint(str(job.final_checkpoint), weights_only=True)  # weights, hparams, lineage
    except BaseException:
        if logger:  # the run shows as crashed; re-running resumes it
            with contextlib.suppress(Exception):  # not in place of the error: SLURM's SIGTERM ends W&B's service too
                logger.experiment.finish(exit_code=1)
        raise
    system = spec.system
    result = JobResult(
        kind=job.kind,
        key=job.key,
        checkpoint=str(job.final_checkpoint),
        params=sum(p.numel() for p in system.net.parameters()),
        train_seconds=system._train_seconds,
        wall_seconds=time.perf_counter() - started,
        to_final_psnr_seconds=system.time_to_final_psnr(),
        val_history=system.val_history,
        global_step=trainer.global_step,
        lineage=system.lineage,
        wandb_run=logger.experiment.id if logger else None,
    )
    if logger and rank_zero_only.rank == 0:  # other ranks hold Lightning's dummy experiment
        logger.experiment.summary.update(
            {keys.MODEL_PARAMS: result.params, keys.TIME_TRAIN_SECONDS: result.train_seconds}
        )
        logger.experiment.finish()
    return result.write(job)


def _test(spec: FitSpec, trained: JobResult) -> Evaluation:
    """Final evaluation with the test options (TTA etc.), cached per options next to the job."""
    system = spec.system
    options_key = config_key("test", asdict(system.test_options))
    path = spec.job.root / f"test-{options_key}.json"
    if (cached := Evaluation.read(path)) is not None:
        return cached
    fresh_final_val = (
        system.val_scores
        and system.val_history
        and system.test_options == system.eval_options
        and trained.global_step == spec.max_steps
        and not system.trainer.sanity_checking
    )
    if not fresh_final_val:  # the last validation of a fit that just ran is already this evaluation
        state = torch.load(trained.checkpoint, map_location="cpu", weights_only=True)["state_dict"]
        system.load_state_dict(state)
        trainer = L.Trainer(
            logger=False,
            callbacks=[],
            enable_checkpointing=False,
            default_root_dir=str(spec.job.root),
            **{
                k: v for k, v in spec.trainer_kwargs.items() if k in ("accelerator", "precision", "enable_progress_bar")
            },
        )
        trainer.test(system, datamodule=spec.datamodule, verbose=False)
    evaluation = Evaluation(
        metrics=dict(system.last_val_metrics),
        per_video={s.video: s.means() for s in system.val_scores},
        per_frame=[
            [s.video, i, p, q, bool(s.pqf[i]) if s.pqf else False]
            for s in system.val_scores
            for i, (p, q) in enumerate(zip(s.psnr, s.psnr_lq, strict=True))
        ],
        samples=_samples_to_png(system, spec.job.root / f"samples-{options_key}"),
        per_video_stage1=dict(system.val_input_psnr),
        test_options=asdict(system.test_options),
    )
    return evaluation.write(path)


def run_fit(spec: FitSpec) -> JobResult:
    """Train the job unless it is done, then evaluate it (unless ``evaluate`` is off); returns the result."""
    with preemption.deferred():  # under SLURM a requeue signal waits for a step's end or for done.json
        trained = JobResult.read(spec.job) or _fit(spec)
    if not spec.evaluate:
        return trained
    return trained.evaluated(_test(spec, trained))


def load_samples(result: JobResult) -> dict[str, dict[str, np.ndarray]]:
    """The sample crops a finished job saved, as RGB arrays (for the arm's W&B run)."""
    from vsr_lightning.data.video_io import read_png

    samples = result.evaluation.samples if result.evaluation else {}
    return {video: {kind: read_png(Path(p)) for kind, p in crops.items()} for video, crops in samples.items()}
