"""Hydra's submitit SLURM launcher with one change in behaviour: each arm's SLURM job stands on its own.

The stock launcher turns an arm's exception into a *completed* SLURM job (Hydra's ``run_job`` catches
it) and, on the submitting side, stops at the first failed arm while the others still run, so no report
is written. Here a failed arm fails its SLURM job (``sacct`` shows FAILED), the launcher waits for every
arm, writes the combined report with the failures listed, and Hydra then exits non-zero. A job that
SLURM requeues (``scontrol requeue``, preemption, the time limit) stops at a step's end with a fresh
``last.ckpt`` and resumes from it (:mod:`vsr_lightning.jobs.preemption`).
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher


class ArmJobFailed(RuntimeError):
    """An arm's SLURM job ended without a result (raised on the submitting side for Hydra)."""


def _arm_of(overrides: Sequence[str]) -> str:
    return next((o.split("=", 1)[1] for o in overrides if o.startswith("arm=")), " ".join(overrides))


def _last_error_line(err: Exception) -> str:
    """The exception's own line from submitit's message (which ends with where the logs are)."""
    lines = [line.strip() for line in str(err).splitlines()]
    lines = [line for line in lines if line and not line.startswith(("You can check", "srun:", "submitit", "-"))]
    return lines[-1] if lines else type(err).__name__


def _stop_at_step_end_on_slurm_signals() -> None:
    """In the job: SIGTERM (requeue, preemption) and submitit's time-limit signal stop training at a step's
    end with a fresh last.ckpt; the time limit then goes on to submitit's own requeue (see preemption)."""
    import submitit

    from vsr_lightning.jobs import preemption

    env = submitit.JobEnvironment()
    time_limit = env._usr_sig()  # USR2 unless SUBMITIT_PREEMPT_SIGNAL says otherwise
    submitit_handler = signal.getsignal(time_limit)  # set by submitit's process_job before it called us
    if callable(submitit_handler):
        preemption.install(time_limit, submitit_handler)


class ArmSlurmLauncher(SlurmLauncher):
    """One SLURM job per arm; a failing arm fails its own job and is listed in the report."""

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        _stop_at_step_end_on_slurm_signals()
        from vsr_lightning.jobs import preemption

        try:
            ret = super().__call__(*args, **kwargs)
        finally:
            preemption.work_done()
        if ret.status is JobStatus.FAILED:
            raise ret._return_value  # the SLURM job exits non-zero: FAILED in sacct
        return ret

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit

        jobs: list[Any] = []
        original = submitit.AutoExecutor.map_array

        def keep_jobs(executor: Any, fn: Any, *iterables: Any) -> list[Any]:
            jobs.extend(original(executor, fn, *iterables))
            return []  # the stock launcher then waits on nothing; this launcher waits below

        submitit.AutoExecutor.map_array = keep_jobs
        try:
            super().launch(job_overrides, initial_job_idx)
        finally:
            submitit.AutoExecutor.map_array = original
        returns, failures = [], {}
        for job, overrides in zip(jobs, job_overrides, strict=True):
            try:
                returns.append(job.results()[0])
            except submitit.core.utils.UncompletedJobError as err:
                failures[_arm_of(overrides)] = f"SLURM job {job.job_id} {job.state}: {_last_error_line(err)}"
                failed = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
                failed.return_value = ArmJobFailed(f"arm {_arm_of(overrides)}: {failures[_arm_of(overrides)]}")
                returns.append(failed)
        if failures:  # Hydra raises on the first failure and skips on_multirun_end: report here
            from vsr_lightning.jobs.report_callback import write_multirun_report

            write_multirun_report(self.config, failures)
        return returns
