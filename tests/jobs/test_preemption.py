"""SLURM's stop signals during training, without a cluster: the step ends, last.ckpt is saved whole, then
the job stops (SIGTERM) or hands over to submitit's time-limit handler (SIGUSR2)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import lightning as L
import pytest
import torch
from lightning.pytorch.demos.boring_classes import BoringModel

from vsr_lightning.jobs import preemption


@pytest.fixture
def handlers():
    """preemption's handlers for this test only; the process's own come back afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR2)}
    calls: list[int] = []
    preemption.install(signal.SIGUSR2, lambda signum, _frame: calls.append(signum))
    yield calls
    for s, h in saved.items():
        signal.signal(s, h)
    preemption._state = preemption._State()


class _SignalDuring(L.Callback):
    def __init__(self, signum: int, step: int) -> None:
        self.signum, self.step = signum, step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)  # as SLURM does, in the middle of the step


def _fit(tmp_path, signum: int) -> None:
    trainer = L.Trainer(
        max_steps=8,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        default_root_dir=str(tmp_path),
        callbacks=[_SignalDuring(signum, 2), preemption.StopAtStepEnd(tmp_path / "last.ckpt")],
    )
    with preemption.deferred():
        trainer.fit(BoringModel())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR2])
def test_a_stop_signal_ends_the_step_saves_last_ckpt_then_stops(tmp_path, handlers, signum):
    with pytest.raises(preemption.JobInterrupted) as stopped:
        _fit(tmp_path, signum)
    assert stopped.value.code == 128 + signum
    saved = torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["global_step"] == 3  # the step that was running when the signal came, finished
    assert not list(tmp_path.glob("*.tmp"))
    assert handlers == ([signal.SIGUSR2] if signum == signal.SIGUSR2 else [])  # submitit's, after the save
    # restored after the fit; ignored once submitit's requeue (which SIGTERMs the whole job) has begun
    assert signal.getsignal(signal.SIGTERM) == (signal.SIG_IGN if signum == signal.SIGUSR2 else preemption._on_signal)


def test_a_signal_outside_training_stops_at_once(handlers):
    with pytest.raises(preemption.JobInterrupted):
        os.kill(os.getpid(), signal.SIGTERM)
    assert handlers == []


def test_submitits_requeue_command_outlives_the_sigterm_its_requeue_sends(handlers):
    """``scontrol requeue`` SIGTERMs every process of the job, the command itself included; it must still
    exit normally, or submitit's handler raises and the requeued job reports a failure."""
    requeue = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM); print('requeued')"]
    children: list[subprocess.CompletedProcess] = []
    preemption._state.on_time_limit = lambda _signum, _frame: children.append(
        subprocess.run(requeue, capture_output=True, text=True, timeout=60)
    )
    with pytest.raises(preemption.JobInterrupted):
        os.kill(os.getpid(), signal.SIGUSR2)
    (child,) = children
    assert child.returncode == 0 and child.stdout.strip() == "requeued"


def test_after_the_work_a_late_time_limit_signal_is_ignored(handlers):
    """SLURM's warning can come while the finished job's processes exit; it must not kill them."""
    preemption.work_done()
    os.kill(os.getpid(), signal.SIGUSR2)  # would end this process (default action) or call submitit's handler
    assert handlers == [] and signal.getsignal(signal.SIGUSR2) == signal.SIG_IGN
