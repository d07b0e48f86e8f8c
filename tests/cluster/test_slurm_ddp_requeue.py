"""A 2-task DDP job (gloo, CPU) that reaches its real SLURM time limit: SLURM's own USR2 (``--signal``, from
``signal_delay_s``) reaches both ranks, they agree on the step to stop at, save ``last.ckpt``, and submitit
requeues the job (one of ``max_num_timeout``). Both ranks resume from that checkpoint, rank zero continues the
same W&B run. The resumed job is then preempted (``scontrol requeue``: SIGTERM to both ranks), stops at a
step's end the same way, SLURM requeues it, and it resumes again. It ends with the same weights and per-video
PSNR as an uninterrupted 2-task job.

The time limit's USR2 does not come from the test. slurmctld checks time limits on a 30-second timer: with
``--time=1`` and ``signal_delay_s=10`` the warning comes 20 to 50 s after the attempt starts, and SLURM would
kill the job 30 s or more after it. Startup takes 8 to 20 s; 40 steps took 50 s on one 2-core machine
(1.3 s a step when idle, 3.5 s when busy) but only about 30 s on a faster one, which finished before its
warning. So the job trains 100 steps: at least 70 s at 0.7 s a step, and the first attempt is still
training at its warning; on a busy machine (3.5 s a step) the last attempt's 100 steps or fewer still fit
in its 10 minutes. How
far it got depends on the load; so that the test knows how many attempts to expect, it raises the requeued
job's limit to 10 minutes before it starts again. A warning that comes before training (a very busy machine)
only requeues the job; the test then waits for the next attempt's, at most ``max_num_timeout`` in all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from slurm_run import (
    finished,
    job_folder,
    job_log,
    launcher,
    rank_log,
    squeue_state,
    start,
    stop_all,
    submitit_job,
    wait_for,
)

from vsr_lightning.report.offline_reader import read_offline_run
from vsr_lightning.report.run_record import RunState

pytestmark = pytest.mark.slurm

STEPS = 100  # the baseline's 40 steps, lengthened so that training outlasts the time limit's warning
MAX_TIMEOUTS = 3
DDP = [
    "+experiment=baseline",
    f"stage1.max_steps={STEPS}",
    f"stage1.val_every={STEPS}",
    f"stage1.optim.restart_periods=[{STEPS - 5}]",
    f"steps_cap={STEPS}",
    "trainer=ddp_cpu",
    "hydra.launcher.tasks_per_node=2",
]
TIME_LIMITED = launcher(timeout_min=1, signal_delay_s=10, max_num_timeout=MAX_TIMEOUTS)


def _result(tmp: Path) -> tuple[dict, dict]:
    """The job's training result and its final evaluation."""
    job = job_folder(tmp)
    return json.loads((job / "done.json").read_text()), json.loads(next(job.glob("test-*.json")).read_text())


def _raise_the_limit_once_saved(slurm, job: str, limited: Path) -> None:
    """After each time-limit requeue: once an attempt has stopped mid-training with a save, give the job
    10 minutes so that it completes in one more attempt. An attempt whose warning came before training
    (possible on a very busy machine) keeps the 1-minute limit: the next one tries again."""
    for _ in range(MAX_TIMEOUTS):
        wait_for(f"job {job} requeued at its time limit", lambda: squeue_state(slurm, job) in ("PENDING", ""), 180)
        if squeue_state(slurm, job) != "PENDING":
            return  # it ended; the test's assertions say how
        if "during step" in rank_log(limited, 0, "err"):
            slurm.run("scontrol", "update", f"JobId={job}", "TimeLimit=10")
            return
        wait_for(f"job {job} running again", lambda: squeue_state(slurm, job) != "PENDING", 180)


def _preempt_once_resumed(slurm, job: str, limited: Path) -> None:
    """Once both ranks of the next attempt have resumed: ``scontrol requeue`` (SIGTERM to every process, as
    preemption sends); SLURM queues the job again by itself, and the limit stays at 10 minutes."""
    resumed = ("preemption: rank 0 resumed", "preemption: rank 1 resumed")
    wait_for("both ranks resumed", lambda: all(r in rank_log(limited, i, "err") for i, r in enumerate(resumed)), 400)
    slurm.run("scontrol", "requeue", job)


def _run_both(slurm, tmp: Path, embedded_root: Path) -> tuple[Path, Path, str]:
    """The time-limited job, then (once it runs) the uninterrupted one, which takes the two CPUs while the
    first one, requeued at its time limit, waits to start again; returns both folders and the first job's id."""
    limited, reference = tmp / "time_limited", tmp / "uninterrupted"
    procs = [start(limited, embedded_root, slurm.env, [*DDP, *TIME_LIMITED])]
    try:
        job = wait_for("the job's submission", lambda: submitit_job(limited))
        wait_for(f"job {job} running", lambda: squeue_state(slurm, job) == "RUNNING")
        procs.append(start(reference, embedded_root, slurm.env, [*DDP, *launcher()]))
        _raise_the_limit_once_saved(slurm, job, limited)
        _preempt_once_resumed(slurm, job, limited)
        for proc, folder in zip(procs, (limited, reference), strict=True):
            finished(proc, folder, timeout=600)
    except BaseException:
        stop_all(slurm, procs, [limited, reference])
        raise
    return limited, reference, job


def test_ddp_job_at_its_time_limit_then_preempted_resumes_on_both_ranks_with_the_same_result(
    slurm, slurm_workdir, embedded_root
):
    limited, reference, job = _run_both(slurm, slurm_workdir, embedded_root)

    # SLURM's time limit, not the test, stopped the job (once, unless a warning came before training); then
    # the test's `scontrol requeue`
    attempts = slurm.run("sacct", "-n", "-X", "-D", "-P", "-o", "State,Timelimit", f"-j{job}").split()
    requeues = len(attempts) - 2
    limited_ones = ["REQUEUED|00:01:00"] * requeues
    assert 1 <= requeues <= MAX_TIMEOUTS and attempts == [*limited_ones, "REQUEUED|00:10:00", "COMPLETED|00:10:00"]
    rank0, rank1 = rank_log(limited, 0, "out"), rank_log(limited, 1, "out")
    caught = re.findall(r"^submitit WARNING .* Caught signal SIGUSR2 on \S+: this job is (\S+)\.$", rank0, re.M)
    assert caught == ["timed-out"] * requeues, rank0
    left = re.findall(rf"^submitit INFO .* Requeued job {job} \((\d+) remaining timeouts\)$", rank0, re.M)
    assert left == [str(MAX_TIMEOUTS - i) for i in range(1, requeues + 1)], rank0  # counted against max_num_timeout
    assert "Not checkpointing nor requeuing since I am a slave (procid=1)" in rank1  # rank 1 leaves it to rank 0

    # both ranks stopped at the same step's end, mid-training, each time, and both resumed from it
    err0, err1 = rank_log(limited, 0, "err"), rank_log(limited, 1, "err")
    saved = [re.findall(r"preemption: (\S+) during step (\d+): saved", err) for err in (err0, err1)]
    assert saved[0] == saved[1] and [s for s, _ in saved[0]] == ["SIGUSR2", "SIGTERM"], (saved, err0[-3000:])
    steps = [step for _, step in saved[0]]
    assert 0 < int(steps[0]) < int(steps[1]) < STEPS, saved  # STEPS too few for this machine if not
    for rank, err in enumerate((err0, err1)):
        resumed = re.findall(rf"preemption: rank {rank} resumed at step (\d+) from \S+/last\.ckpt", err)
        assert resumed == steps, (rank, resumed, steps)

    # rank zero logged the three attempts that trained into one W&B run, the last one finished it
    done, ours = _result(limited)
    run_id = (job_folder(limited) / "wandb_id.txt").read_text()
    assert done["global_step"] == STEPS and done["wandb_run"] == run_id
    wandb = limited / "out" / "wandb"
    runs = [read_offline_run(d) for d in sorted(wandb.glob(f"offline-run-*-{run_id}"))]
    assert len(runs) == 3 and runs[-1].state is RunState.FINISHED  # one per attempt that trained
    assert len(list(wandb.glob("offline-run-*"))) == len(runs) + 1  # and the arm's run; nothing from rank 1

    # the uninterrupted job: one attempt, two tasks, no signal; the same weights and per-video PSNR
    ref_job = submitit_job(reference)
    ref_attempts = slurm.run("sacct", "-n", "-X", "-D", "-P", "-o", "State", f"-j{ref_job}").split()
    assert ref_attempts == ["COMPLETED"] and "preemption:" not in job_log(reference)
    theirs_done, theirs = _result(reference)
    assert theirs_done["global_step"] == STEPS
    assert ours["per_video"] == theirs["per_video"]
    a, b = (
        torch.load(job_folder(t) / "final.ckpt", map_location="cpu", weights_only=True)["state_dict"]
        for t in (limited, reference)
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
