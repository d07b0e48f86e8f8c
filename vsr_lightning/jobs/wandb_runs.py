"""W&B runs of the main job: offline unless credentials exist, never a prompt, one run per arm.

Training jobs log their curves to their own run (resumed with the same id after an interruption);
each arm of an experiment then gets a run in the experiment's group holding the final per-video
metrics as summary keys and tables, and the sample crops: that group is what reports read.
"""

from __future__ import annotations

import contextlib
import netrc
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from vsr_lightning.jobs.job_result import JobResult
from vsr_lightning.report import run_schema as keys


def resolve_mode(mode: str) -> str:
    """``auto``: online when an API key is configured (env or netrc), otherwise offline."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if mode != "auto":
        return mode
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        if netrc.netrc().authenticators("api.wandb.ai"):
            return "online"
    except (FileNotFoundError, netrc.NetrcParseError):
        pass
    return "offline"


def _quiet_env() -> None:
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("WANDB_CONSOLE", "off")


class WandbUnreachable(RuntimeError):
    """An online-only run (``logger.offline_fallback=false``) whose server did not answer."""


def server_url() -> str:
    """The W&B server runs talk to: ``WANDB_BASE_URL`` or the public one."""
    return os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")


def start_run(mode: str, init_timeout: float, offline_fallback: bool = True, **init: Any) -> Any:
    """``wandb.init(**init)``; online, a server that does not answer within ``init_timeout`` seconds makes
    the run offline instead (one warning line naming the server, where the run is and how to upload it), so
    training goes on; with ``offline_fallback=False`` it raises :class:`WandbUnreachable` naming the server."""
    import wandb

    if mode != "online":
        return wandb.init(mode=mode, **init)
    try:
        return wandb.init(mode="online", settings=wandb.Settings(init_timeout=init_timeout), **init)
    except wandb.errors.Error as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        wandb.teardown()  # the failed online attempt still holds the run id: release it first
        if not offline_fallback:
            raise WandbUnreachable(
                f"W&B server {server_url()} unreachable ({reason}); logger.offline_fallback="
                "false asks for online logging only"
            ) from None
        print(
            f"warning: W&B server {server_url()} unreachable ({reason}); logging offline under "
            f"{init.get('dir')}/wandb, upload later with `wandb sync`",
            file=sys.stderr,
        )
        return wandb.init(mode="offline", **init)


def training_logger(logger_cfg: Any, name: str, group: str, job_type: str, run_id: str, config: dict) -> WandbLogger:
    """Lightning's W&B logger for a training job; ``resume="allow"`` continues an interrupted run.

    Rank zero starts the run itself (with the offline fallback of :func:`start_run`); other DDP ranks
    get Lightning's dummy experiment."""
    _quiet_env()
    save_dir = Path(logger_cfg.dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    init = {
        "project": logger_cfg.project,
        "entity": logger_cfg.entity,
        "name": name,
        "group": group,
        "job_type": job_type,
        "id": run_id,
        "resume": "allow",
        "dir": str(save_dir),
        "config": config,
        "tags": list(logger_cfg.tags),
    }
    experiment = (
        start_run(resolve_mode(logger_cfg.mode), logger_cfg.init_timeout, logger_cfg.offline_fallback, **init)
        if rank_zero_only.rank == 0
        else None
    )
    return WandbLogger(
        experiment=experiment,
        save_dir=str(save_dir),
        **{k: v for k, v in init.items() if k != "dir"},
        mode=resolve_mode(logger_cfg.mode),
    )


def new_run_id() -> str:
    """A fresh W&B-style run id (8 lowercase alphanumerics)."""
    return uuid.uuid4().hex[:8]


@rank_zero_only
def log_arm_run(
    logger_cfg: Any,
    group: str,
    arm: str,
    job_type: str,
    config: dict,
    result: JobResult,
    samples: dict[str, dict[str, np.ndarray]] | None = None,
) -> str:
    """Create the arm's run in the experiment group from a finished job's result; returns its id."""
    import wandb

    _quiet_env()
    Path(logger_cfg.dir).mkdir(parents=True, exist_ok=True)
    run = start_run(
        resolve_mode(logger_cfg.mode),
        logger_cfg.init_timeout,
        logger_cfg.offline_fallback,
        project=logger_cfg.project,
        entity=logger_cfg.entity,
        group=group,
        name=f"{group}/{arm}",
        job_type=job_type,
        config=config,
        dir=str(logger_cfg.dir),
        tags=[*logger_cfg.tags, "arm"],
        reinit="finish_previous",
    )
    try:
        scores = result.scores
        summary: dict[str, Any] = dict(scores.metrics)
        summary[keys.MODEL_PARAMS] = result.params
        summary[keys.TIME_TRAIN_SECONDS] = result.train_seconds
        if result.to_final_psnr_seconds is not None:
            summary[keys.TIME_TO_FINAL_PSNR_SECONDS] = result.to_final_psnr_seconds
        summary[keys.TRAINER_GLOBAL_STEP] = result.global_step
        per_video = wandb.Table(
            columns=list(keys.PER_VIDEO_COLUMNS),
            data=[
                [v[c] if c != "video" else name for c in keys.PER_VIDEO_COLUMNS]
                for name, v in ((n, {**m, "video": n}) for n, m in scores.per_video.items())
            ],
        )
        per_frame = wandb.Table(columns=list(keys.PER_FRAME_COLUMNS), data=scores.per_frame)
        media: dict[str, Any] = {keys.TABLE_PER_VIDEO: per_video, keys.TABLE_PER_FRAME: per_frame}
        if logger_cfg.log_samples and samples:
            for video, crops in samples.items():
                for kind, image in crops.items():
                    media[keys.sample_key(video, kind)] = wandb.Image(image)
        run.log(media)
        run.summary.update(summary)
        run.finish()
    except BaseException:
        with contextlib.suppress(Exception):  # not in place of the error: SLURM's SIGTERM ends W&B's service too
            run.finish(exit_code=1)
        raise
    return run.id
