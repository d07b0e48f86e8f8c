"""The test cluster accepts a two-task job and records it in accounting."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slurm


def test_two_task_job_completes_and_shows_in_sacct(slurm, slurm_workdir):
    out = slurm_workdir / "job.out"
    job = slurm.run(
        "sbatch",
        "--parsable",
        "-n",
        "2",
        "--mem=100M",
        f"-o{out}",
        "--wrap",
        "srun bash -c 'echo rank $SLURM_PROCID of $SLURM_NTASKS'",
    ).strip()
    deadline = time.time() + 60
    while time.time() < deadline and slurm.job_states([job]).get(job) != "COMPLETED":
        time.sleep(0.5)
    assert slurm.job_states([job]) == {job: "COMPLETED"}
    assert sorted(out.read_text().split("\n")[:2]) == ["rank 0 of 2", "rank 1 of 2"]
