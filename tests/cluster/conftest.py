"""A one-node SLURM cluster for the whole test session, started by ``slurm_up.sh`` and stopped after it.

Tests that use the ``slurm`` fixture are marked ``slurm``; where the cluster cannot start (not root, no
apt) they skip with the script's reason. Teardown fails the session if a slurmstepd or a job's process
is left behind, or if a job folder holds a half-written file.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("slurm_up.sh")
CANNOT = 3
"""Exit code of ``slurm_up.sh up`` when this machine cannot run SLURM."""


@dataclass(frozen=True)
class SlurmCluster:
    """A running test cluster: its folder and the environment its commands (and jobs) need."""

    root: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.root / "etc" / "slurm.conf")}

    def run(self, *args: str) -> str:
        """A SLURM command's stdout (sacct, scontrol, squeue, ...); raises if it fails."""
        return subprocess.run(args, env=self.env, capture_output=True, text=True, check=True, timeout=60).stdout

    def job_states(self, job_ids: list[str]) -> dict[str, str]:
        """``sacct``'s final state of each job (the allocation line, not its steps)."""
        out = self.run("sacct", "-n", "-X", "-P", "-o", "JobID,State", *[f"-j{j}" for j in job_ids])
        return dict(line.split("|", 1) for line in out.splitlines() if line)


def _half_written(folder: Path) -> list[Path]:
    """Files left under a temporary name by an interrupted atomic write."""
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix in (".tmp", ".partial")]


@pytest.fixture(scope="session")
def slurm(tmp_path_factory) -> Iterator[SlurmCluster]:
    root = tmp_path_factory.mktemp("slurm")
    up = subprocess.run(["bash", str(SCRIPT), "up", str(root)], capture_output=True, text=True, timeout=600)
    if up.returncode == CANNOT:
        pytest.skip(up.stdout.strip() or "cannot start SLURM")
    if up.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "down", str(root)], capture_output=True, timeout=300)
        pytest.fail(f"slurm_up.sh up failed:\n{up.stdout}\n{up.stderr[-3000:]}")
    cluster = SlurmCluster(root)
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = cluster.env["SLURM_CONF"]  # submitit's sbatch/sacct calls read it
    try:
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        down = subprocess.run(["bash", str(SCRIPT), "down", str(root)], capture_output=True, text=True, timeout=300)
        assert down.returncode == 0, f"slurm_up.sh down: {down.stderr[-3000:]}"


@pytest.fixture
def slurm_workdir(slurm, tmp_path) -> Iterator[Path]:
    """A test's folder for runs and outputs; after the test no half-written file may remain in it."""
    yield tmp_path
    left = _half_written(tmp_path)
    assert not left, f"half-written files left behind: {left}"
