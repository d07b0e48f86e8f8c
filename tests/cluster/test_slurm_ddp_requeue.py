"""A 2-task DDP job (gloo, CPU) that reaches its real SLURM time limit: SLURM's own USR2 (``--signal``, from
``signal_delay_s``) reaches both ranks, they agree on the step to stop at, save ``last.ckpt``, and submitit
requeues the job (one of ``max_num_timeout``). Both ranks resume from that checkpoint, rank zero continues
the same W&B run, and the job ends with the same weights and per-video PSNR as an uninterrupted 2-task job.

No signal comes from the test. slurmctld checks time limits on a 30-second timer: with ``--time=1`` and
``signal_delay_s=1`` the warning comes 29 to 59 s after the attempt starts (SLURM kills it 30 s after the
warning at the earliest). Startup takes about 15 s and training (STEPS) at least 50 s, so the first attempt
is always still training at its warning. How far it got depends on the machine's load; so that the test
knows how many attempts to expect, it raises the requeued job's limit to 10 minutes before it starts again.
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

STEPS = 40
MAX_TIMEOUTS = 3
DDP = ["+experiment=baseline", f"steps_cap={STEPS}", "trainer=ddp_cpu", "hydra.launcher.tasks_per_node=2"]
TIME_LIMITED = launcher(timeout_min=1, signal_delay_s=1, max_num_timeout=MAX_TIMEOUTS)


def _result(tmp: Path) -> tuple[dict, dict]:
    """The job's training result and its final evaluation."""
    job = job_folder(tmp)
    return json.loads((job / "done.json").read_text()), json.loads(next(job.glob("test-*.json")).read_text())


def _run_both(slurm, tmp: Path, embedded_root: Path) -> tuple[Path, Path, str]:
    """The time-limited job, then (once it runs) the uninterrupted one, which takes the two CPUs while the
    first one, requeued at its time limit, waits to start again; returns both folders and the first job's id."""
    limited, reference = tmp / "time_limited", tmp / "uninterrupted"
    procs = [start(limited, embedded_root, slurm.env, [*DDP, *TIME_LIMITED])]
    try:
        job = wait_for("the job's submission", lambda: submitit_job(limited))
        wait_for(f"job {job} running", lambda: squeue_state(slurm, job) == "RUNNING")
        procs.append(start(reference, embedded_root, slurm.env, [*DDP, *launcher()]))
        wait_for(f"job {job} requeued at its time limit", lambda: squeue_state(slurm, job) == "PENDING", 150)
        slurm.run("scontrol", "update", f"JobId={job}", "TimeLimit=10")  # one time limit is enough
        for proc, folder in zip(procs, (limited, reference), strict=True):
            finished(proc, folder, timeout=600)
    except BaseException:
        stop_all(slurm, procs, [limited, reference])
        raise
    return limited, reference, job


def test_ddp_job_at_its_time_limit_resumes_on_both_ranks_with_the_same_result(slurm, slurm_workdir, embedded_root):
    limited, reference, job = _run_both(slurm, slurm_workdir, embedded_root)

    # SLURM's time limit, not the test, stopped the first attempt; submitit requeued the job
    attempts = slurm.run("sacct", "-n", "-X", "-D", "-P", "-o", "State,Timelimit", f"-j{job}").split()
    assert attempts == ["REQUEUED|00:01:00", "COMPLETED|00:10:00"], attempts
    rank0, rank1 = rank_log(limited, 0, "out"), rank_log(limited, 1, "out")
    caught = re.findall(r"^submitit WARNING .* Caught signal SIGUSR2 on \S+: this job is (\S+)\.$", rank0, re.M)
    assert caught == ["timed-out"], rank0
    assert f"Requeued job {job} ({MAX_TIMEOUTS - 1} remaining timeouts)" in rank0  # counted against max_num_timeout
    assert "Not checkpointing nor requeuing since I am a slave (procid=1)" in rank1  # rank 1 leaves it to rank 0

    # both ranks stopped at the same step's end, mid-training, and both resumed from that step's last.ckpt
    err0, err1 = rank_log(limited, 0, "err"), rank_log(limited, 1, "err")
    saved = [re.findall(r"preemption: (\S+) during step (\d+): saved", err) for err in (err0, err1)]
    assert saved[0] == saved[1] and len(saved[0]) == 1, (saved, err0[-3000:])
    ((signame, step),) = saved[0]
    assert signame == "SIGUSR2" and 0 < int(step) < STEPS, saved  # STEPS too few for this machine if not
    for rank, err in enumerate((err0, err1)):
        resumed = re.findall(rf"preemption: rank {rank} resumed at step (\d+) from \S+/last\.ckpt", err)
        assert resumed == [step], (rank, resumed, step)

    # rank zero logged both attempts into one W&B run, the second one finished it
    done, ours = _result(limited)
    run_id = (job_folder(limited) / "wandb_id.txt").read_text()
    assert done["global_step"] == STEPS and done["wandb_run"] == run_id
    wandb = limited / "out" / "wandb"
    runs = [read_offline_run(d) for d in sorted(wandb.glob(f"offline-run-*-{run_id}"))]
    assert len(runs) == 2 and runs[-1].state is RunState.FINISHED  # one per attempt
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
