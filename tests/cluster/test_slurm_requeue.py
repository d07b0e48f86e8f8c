"""A SLURM job requeued twice mid-training (``scontrol requeue``, as preemption does; then the time-limit
warning submitit asks SLURM for) resumes from its last.ckpt each time, keeps its W&B run, and ends with
the same weights and per-video PSNR as an uninterrupted job."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from slurm_run import LAUNCHER, ROOT, job_env, job_log, small, submitted_jobs

from vsr_lightning.report.offline_reader import read_offline_run
from vsr_lightning.report.run_record import RunState

pytestmark = pytest.mark.slurm

STEPS = 8
SHAPE = ["+experiment=baseline", f"steps_cap={STEPS}", "stage1.val_every=2"]


def _start(tmp: Path, embedded_root: Path, slurm_env: dict[str, str]) -> subprocess.Popen:
    """``run.py -m`` in the background (it waits for its SLURM job); its output goes to ``tmp/run.log``."""
    tmp.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "run.py", "-m", *SHAPE, *LAUNCHER, *small(tmp, embedded_root, samples_per_epoch=8)]
    with open(tmp / "run.log", "w") as log:
        return subprocess.Popen(args, cwd=ROOT, env=job_env(tmp, slurm_env), stdout=log, stderr=subprocess.STDOUT)


def _wait(what: str, check: Callable[[], object], timeout: float = 240) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _state(slurm, job: str) -> str:
    return slurm.run("squeue", "-h", "-j", job, "-o", "%T").strip()


def _resume_now(slurm, job: str) -> None:
    """SLURM holds a requeued job for about two minutes (EligibleTime); let it start again at once."""
    _wait(f"job {job} requeued", lambda: _state(slurm, job) == "PENDING")
    slurm.run("scontrol", "update", f"JobId={job}", "StartTime=now")
    _wait(f"job {job} running again", lambda: _state(slurm, job) == "RUNNING")


def _finished(proc: subprocess.Popen, tmp: Path) -> None:
    try:
        rc = proc.wait(timeout=400)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    assert rc == 0, (tmp / "run.log").read_text()[-3000:] + job_log(tmp)[-3000:]


def _submitit_job(tmp: Path) -> str | None:
    """The SLURM id of the sweep's one job (one arm: a plain job, not an array), from submitit's folder."""
    folders = [p.name for p in (tmp / "out").rglob(".submitit/*") if p.is_dir()]
    return folders[0] if folders else None


def _job(tmp: Path) -> Path:
    return next((tmp / "runs").glob("stage1-*/done.json")).parent


def test_requeued_job_resumes_from_last_ckpt_and_keeps_its_wandb_run(slurm, slurm_workdir, embedded_root):
    interrupted, reference = slurm_workdir / "requeued", slurm_workdir / "uninterrupted"
    procs = [_start(interrupted, embedded_root, slurm.env), _start(reference, embedded_root, slurm.env)]
    try:
        job = _wait("the job's submission", lambda: _submitit_job(interrupted))
        last = _wait("the first last.ckpt", lambda: next((interrupted / "runs").glob("stage1-*/last.ckpt"), None))
        run_id = (last.parent / "wandb_id.txt").read_text()
        slurm.run("scontrol", "requeue", job)  # SIGTERM now, then SLURM queues the job again
        _resume_now(slurm, job)
        written = last.stat().st_mtime_ns
        _wait("a checkpoint of the second attempt", lambda: last.stat().st_mtime_ns != written)
        slurm.run("scancel", "--signal=USR2", job)  # what SLURM sends signal_delay_s before the time limit
        _resume_now(slurm, job)
    except BaseException:  # stop both sweeps and their jobs: the cluster serves the next tests
        for proc in procs:
            proc.kill()
            proc.wait()
        for tmp in (interrupted, reference):
            for array in submitted_jobs(tmp):
                slurm.run("scancel", array)
        raise
    for proc, tmp in zip(procs, (interrupted, reference), strict=True):
        _finished(proc, tmp)

    attempts = slurm.run("sacct", "-n", "-X", "-D", "-P", "-o", "JobID,State", f"-j{job}").split()
    assert attempts == [f"{job}|REQUEUED", f"{job}|REQUEUED", f"{job}|COMPLETED"], attempts
    log = job_log(interrupted)
    stops = [line for line in log.splitlines() if line.startswith("preemption:") and "saved" in line]
    assert [s.split()[1] for s in stops] == ["SIGTERM", "SIGUSR2"], log[-3000:]
    stopped_at = [int(s.split("at step ")[1]) for s in stops]
    assert 0 < stopped_at[0] < stopped_at[1] < STEPS, stops  # both mid-training, the second after resuming
    assert log.count("Restoring states from the checkpoint path") == 2

    done = json.loads((_job(interrupted) / "done.json").read_text())
    assert done["global_step"] == STEPS and done["wandb_run"] == run_id
    attempts_logged = [read_offline_run(d) for d in sorted((interrupted / "out" / "wandb").glob(f"*-{run_id}"))]
    assert len(attempts_logged) == 3 and attempts_logged[-1].state is RunState.FINISHED

    ours, theirs = (json.loads(next(_job(t).glob("test-*.json")).read_text()) for t in (interrupted, reference))
    assert ours["per_video"] == theirs["per_video"]
    a, b = (
        torch.load(_job(t) / "final.ckpt", map_location="cpu", weights_only=True)["state_dict"]
        for t in (interrupted, reference)
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
