"""Preemption, ``scontrol requeue`` and time limits under SLURM: stop at a step's end with a fresh
``last.ckpt``, leave no result, and let the requeued job resume from that checkpoint.

One mechanism does the requeueing: submitit's. Its sbatch script asks SLURM for ``--signal=USR2@
signal_delay_s`` before the time limit, and its handler pickles the submission again, counts the
timeouts against ``max_num_timeout`` and calls ``scontrol requeue``. Lightning's own SLURM
auto-requeue (SIGUSR1, ``hpc_ckpt_N.ckpt``) is switched off in our jobs (:func:`trainer_plugins`):
it would requeue a second time without that count, save mid-step inside the signal handler, and
resume from a file the job folder does not know. What this module adds is *when* things happen:

* SIGUSR2 (time limit near) or SIGTERM (``scontrol requeue``, preemption, ``scancel``) during
  training is only recorded; at the end of the current step the job saves ``last.ckpt`` (written
  to ``last.ckpt.tmp`` and renamed, so a SIGKILL never leaves half a checkpoint) and then acts.
  A checkpoint at a step's end is what ``ModelCheckpoint`` writes, so resume stays exact.
* Acting on SIGUSR2 calls submitit's handler (requeue, or a failure once the timeouts are spent);
  on SIGTERM the job exits with :class:`JobInterrupted`, a ``SystemExit`` that Hydra and submitit
  let through, so no result (and no failure) is recorded; SLURM requeues the job itself, or it
  stays cancelled. Outside training (evaluation, waiting for a lock) the job acts at once.
* Lightning's own SIGTERM handler (which raises ``SIGTERMException`` mid-validation or at an epoch's
  end, with no checkpoint) is replaced by this one once a fit has started.
* SLURM signals every process of the job, so SIGTERM also ends the W&B service: the attempt stops
  logging (its loggers are dropped), and the requeued attempt continues the same run id. On the
  time limit the service is still there: the run is finished and the service closed before the requeue.

A step longer than SLURM's ``KillWait`` (30 s by default) is killed before it ends; the job then
resumes from the last periodic ``last.ckpt``, still exactly, only further back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from lightning.pytorch import Callback

Handler = Callable[[int, FrameType | None], Any]


class JobInterrupted(SystemExit):
    """SLURM asked the job to stop: exit without a result (Hydra and submitit let a ``SystemExit`` through)."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


@dataclass
class _State:
    time_limit_signal: int | None = None
    on_time_limit: Handler | None = None  # submitit's: pickle the submission again, requeue, exit
    pending: int | None = None  # signal waiting for the end of a step
    training: int = 0  # trainings running now: only inside one can a signal wait
    trainer: Any = None  # the running Trainer (its loggers go when SIGTERM has ended the W&B service)
    stopping: bool = False  # acted once; later signals (the requeue's SIGTERM) change nothing


_state = _State()


def install(time_limit_signal: int, on_time_limit: Handler) -> None:
    """Take SIGTERM and the time-limit signal in this SLURM job (called in the job, before training)."""
    _state.time_limit_signal, _state.on_time_limit = time_limit_signal, on_time_limit
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(time_limit_signal, _on_signal)


def installed() -> bool:
    return _state.on_time_limit is not None


def work_done() -> None:
    """The arm's work is over: ignore the time-limit signal from now on. SLURM sends it on a 30-second timer,
    so it can arrive while the processes exit after their result is stored; from then on Python's handlers
    are gone, the signal's default action kills the tasks, and sacct calls the finished job FAILED."""
    if _state.time_limit_signal is not None:
        signal.signal(_state.time_limit_signal, signal.SIG_IGN)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _state.stopping:
        return
    os.write(2, f"preemption: got {signal.Signals(signum).name}\n".encode())  # print() may be mid-write
    if not _state.training:
        _act(signum)
    _state.pending = signal.SIGTERM if signal.SIGTERM in (signum, _state.pending) else signum
    if signum == signal.SIGTERM and _state.trainer is not None:
        # SLURM signals every process of the job: the W&B service has ended too, and a log call before
        # the step's end would raise. What this attempt still logs is lost either way; the run goes on
        # (same id) after the requeue.
        _state.trainer.loggers = []


def _act(signum: int) -> None:
    """Stop now: exit without a result, after submitit's handler on the time-limit signal."""
    _state.stopping, _state.pending = True, None
    if signum == _state.time_limit_signal:
        _time_limit(signum)
    raise JobInterrupted(signum)


def _end_wandb_service() -> None:
    """Close W&B's service now: before submitit's requeue signals it away, and after SIGTERM (which ended it)
    so that wandb's exit hook does not try again and print a "Connection lost" traceback."""
    wandb = sys.modules.get("wandb")
    if wandb is not None:
        with contextlib.suppress(Exception):
            wandb.teardown()


def _time_limit(signum: int) -> None:
    """submitit's handler: on rank zero it requeues and exits (or raises once ``max_num_timeout`` is spent);
    on other ranks it returns. The requeue's SIGTERM reaches every process of the job, submitit's own
    ``scontrol requeue`` child too: killed before it exits, it makes the handler raise and the requeued job
    report a failure. Ignored here, SIGTERM stays ignored in that child; this process is stopping anyway."""
    if _state.on_time_limit is not None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _state.on_time_limit(signum, None)


@contextmanager
def deferred() -> Iterator[None]:
    """Around a training job: a signal waits for a step's end (:class:`StopAtStepEnd`) or for the
    job's result to be stored, whichever comes first."""
    _state.training += 1
    try:
        yield
    except JobInterrupted as stop:  # a step's end stopped training; the job has finished its W&B run
        _end_wandb_service()
        if stop.signum == _state.time_limit_signal:
            _time_limit(stop.signum)
        raise
    finally:
        _state.training -= 1
        _state.trainer = None
    if _state.pending is not None and not _state.training:
        _act(_state.pending)


def _take_sigterm_back() -> None:
    """Lightning replaces the SIGTERM handler when a fit starts (and restores ours when it ends). Its own
    one raises ``SIGTERMException`` in the middle of a validation or at an epoch's end, without a
    checkpoint; in these jobs the step's end decides instead."""
    signal.signal(signal.SIGTERM, _on_signal)


class StopAtStepEnd(Callback):
    """At the end of the step during which SLURM signalled: save ``last.ckpt``, then stop the job."""

    def __init__(self, last_checkpoint: Path) -> None:
        self.last_checkpoint = Path(last_checkpoint)

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        _state.trainer = trainer

    def on_sanity_check_start(self, trainer: Any, pl_module: Any) -> None:
        _take_sigterm_back()

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        _take_sigterm_back()
        if trainer.ckpt_path:  # every rank says so: Lightning's own "Restoring states" line is rank zero's
            print(
                f"preemption: rank {trainer.global_rank} resumed at step {trainer.global_step} "
                f"from {trainer.ckpt_path}",
                file=sys.stderr,
                flush=True,
            )

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        # every rank saves together (save_checkpoint is collective), so they agree on the step first
        if not trainer.strategy.reduce_boolean_decision(_state.pending is not None, all=False):
            return
        tmp = self.last_checkpoint.with_name(self.last_checkpoint.name + ".tmp")
        trainer.save_checkpoint(str(tmp))
        if trainer.is_global_zero:
            os.replace(tmp, self.last_checkpoint)
        trainer.strategy.barrier("preemption-save")
        signum = _state.pending if _state.pending is not None else signal.SIGTERM
        _state.stopping, _state.pending = True, None
        print(
            f"preemption: {signal.Signals(signum).name} during step {trainer.global_step}: saved "
            f"{self.last_checkpoint} at step {trainer.global_step}",
            file=sys.stderr,
            flush=True,
        )
        raise JobInterrupted(signum)  # run_fit's deferred() requeues on the time limit, once W&B is done


def trainer_plugins() -> list[Any]:
    """Lightning's SLURM environment without its auto-requeue, in jobs where this module requeues."""
    if not installed():
        return []
    from lightning.fabric.plugins.environments import SLURMEnvironment

    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []
