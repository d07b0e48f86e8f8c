"""A SLURM job requeued twice mid-training (``scontrol requeue``, as preemption does; then the time-limit
warning submitit asks SLURM for) resumes from its last.ckpt each time, keeps its W&B run, and ends with
the same weights and per-video PSNR as an uninterrupted job."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch
from slurm_run import (
    LAUNCHER,
    finished,
    job_folder,
    job_log,
    squeue_state,
    start,
    stop_all,
    submitit_job,
    wait_for,
)

from vsr_lightning.report.offline_reader import read_offline_run
from vsr_lightning.report.run_record import RunState

pytestmark = pytest.mark.slurm

STEPS = 8
SHAPE = ["+experiment=baseline", f"steps_cap={STEPS}", "stage1.val_every=2"]


def _start(tmp: Path, embedded_root: Path, slurm_env: dict[str, str]) -> subprocess.Popen:
    return start(tmp, embedded_root, slurm_env, [*SHAPE, *LAUNCHER])


def _resume(slurm, job: str) -> None:
    """SLURM holds a requeued job for cred_expire + 1 s (11 s here); let it start again at once (SLURM's own
    restart is what test_slurm_ddp_requeue.py waits for)."""
    wait_for(f"job {job} requeued", lambda: squeue_state(slurm, job) == "PENDING")
    slurm.run("scontrol", "update", f"JobId={job}", "StartTime=now")
    wait_for(f"job {job} running again", lambda: squeue_state(slurm, job) == "RUNNING")


def test_requeued_job_resumes_from_last_ckpt_and_keeps_its_wandb_run(slurm, slurm_workdir, embedded_root):
    interrupted, reference = slurm_workdir / "requeued", slurm_workdir / "uninterrupted"
    procs = [_start(interrupted, embedded_root, slurm.env), _start(reference, embedded_root, slurm.env)]
    try:
        job = wait_for("the job's submission", lambda: submitit_job(interrupted))
        last = wait_for("the first last.ckpt", lambda: next((interrupted / "runs").glob("stage1-*/last.ckpt"), None))
        run_id = (last.parent / "wandb_id.txt").read_text()
        slurm.run("scontrol", "requeue", job)  # SIGTERM now, then SLURM queues the job again
        _resume(slurm, job)
        written = last.stat().st_mtime_ns
        wait_for("a checkpoint of the second attempt", lambda: last.stat().st_mtime_ns != written)
        slurm.run("scancel", "--signal=USR2", job)  # what SLURM sends signal_delay_s before the time limit
        _resume(slurm, job)
        for proc, tmp in zip(procs, (interrupted, reference), strict=True):
            finished(proc, tmp)
    except BaseException:
        stop_all(slurm, procs, [interrupted, reference])
        raise

    attempts = slurm.run("sacct", "-n", "-X", "-D", "-P", "-o", "JobID,State", f"-j{job}").split()
    assert attempts == [f"{job}|REQUEUED", f"{job}|REQUEUED", f"{job}|COMPLETED"], attempts
    log = job_log(interrupted)
    stops = [line for line in log.splitlines() if line.startswith("preemption:") and "saved" in line]
    assert [s.split()[1] for s in stops] == ["SIGTERM", "SIGUSR2"], log[-3000:]
    stopped_at = [int(s.split("at step ")[1]) for s in stops]
    assert 0 < stopped_at[0] < stopped_at[1] < STEPS, stops  # both mid-training, the second after resuming
    assert log.count("Restoring states from the checkpoint path") == 2

    done = json.loads((job_folder(interrupted) / "done.json").read_text())
    assert done["global_step"] == STEPS and done["wandb_run"] == run_id
    attempts_logged = [read_offline_run(d) for d in sorted((interrupted / "out" / "wandb").glob(f"*-{run_id}"))]
    assert len(attempts_logged) == 3 and attempts_logged[-1].state is RunState.FINISHED

    ours, theirs = (json.loads(next(job_folder(t).glob("test-*.json")).read_text()) for t in (interrupted, reference))
    assert ours["per_video"] == theirs["per_video"]
    a, b = (
        torch.load(job_folder(t) / "final.ckpt", map_location="cpu", weights_only=True)["state_dict"]
        for t in (interrupted, reference)
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
