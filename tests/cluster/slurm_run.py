"""``run.py -m ... hydra/launcher=submitit_slurm`` as the cluster tests run it, at smoke scale."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LAUNCHER = [
    "hydra/launcher=submitit_slurm",
    "hydra.launcher.partition=debug",
    "hydra.launcher.gpus_per_node=null",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=2",
    "hydra.launcher.timeout_min=10",
]


def small(tmp: Path, embedded_root: Path, samples_per_epoch: int = 2) -> list[str]:
    """Overrides that keep every job to seconds, with every folder under ``tmp``."""
    return [
        f"paths.runs_dir={tmp / 'runs'}",
        f"paths.output_root={tmp / 'out'}",
        f"paths.reports_dir={tmp / 'rep'}",
        f"data.embedded_root={embedded_root}",
        "data.val_max_frames=3",
        "data.val_source.include=[carphone_val0]",
        f"data.samples_per_epoch={samples_per_epoch}",
        "data.cleaning_report=null",
        "stage2.outputs_max_frames=4",
        "stage2.batch_size=2",
        "pretrain.batch_size=2",
        "trainer.enable_progress_bar=false",
    ]


def job_env(tmp: Path, slurm_env: dict[str, str]) -> dict[str, str]:
    """The submitting shell's environment, which sbatch passes on to the jobs."""
    return {
        **slurm_env,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "VSR_LIGHTNING_CACHE": str(tmp / "cache"),
    }


def sweep(
    tmp: Path,
    embedded_root: Path,
    slurm_env: dict[str, str],
    *overrides: str,
    timeout: float = 600,
    samples_per_epoch: int = 2,
) -> subprocess.CompletedProcess:
    args = [sys.executable, "run.py", "-m", *overrides, *LAUNCHER, *small(tmp, embedded_root, samples_per_epoch)]
    return subprocess.run(args, cwd=ROOT, env=job_env(tmp, slurm_env), capture_output=True, text=True, timeout=timeout)


def submitted_jobs(tmp: Path) -> list[str]:
    """SLURM job ids of the sweep's jobs (submitit's folders under the sweep folder)."""
    ids = {re.sub(r"_.*", "", p.name) for p in (tmp / "out").rglob(".submitit/*") if p.is_dir()}
    return sorted(i for i in ids if i.isdigit())


def job_log(tmp: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted((tmp / "out").rglob(".submitit/*/*_log.*")))


def launcher(**fields: object) -> list[str]:
    """:data:`LAUNCHER` with some ``hydra.launcher`` fields set otherwise (``timeout_min=1``, ...)."""
    kept = [o for o in LAUNCHER if o.split("=", 1)[0].removeprefix("hydra.launcher.") not in fields]
    return [*kept, *(f"hydra.launcher.{k}={v}" for k, v in fields.items())]


def start(
    tmp: Path, embedded_root: Path, slurm_env: dict[str, str], overrides: list[str], samples_per_epoch: int = 8
) -> subprocess.Popen:
    """``run.py -m`` in the background (it waits for its SLURM jobs); its output goes to ``tmp/run.log``."""
    tmp.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "run.py", "-m", *overrides, *small(tmp, embedded_root, samples_per_epoch)]
    with open(tmp / "run.log", "w") as log:
        return subprocess.Popen(args, cwd=ROOT, env=job_env(tmp, slurm_env), stdout=log, stderr=subprocess.STDOUT)


def wait_for(what: str, check: Callable[[], object], timeout: float = 240) -> object:
    """``check()``'s first truthy value, polled every 0.2 s; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def finished(proc: subprocess.Popen, tmp: Path, timeout: float = 400) -> None:
    """Wait for a :func:`start`-ed sweep; it must succeed."""
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    assert rc == 0, (tmp / "run.log").read_text()[-3000:] + job_log(tmp)[-3000:]


def stop_all(slurm, procs: list[subprocess.Popen], tmps: list[Path]) -> None:
    """After a failure: stop the sweeps and cancel their jobs, so that the cluster serves the next tests."""
    for proc in procs:
        proc.kill()
        proc.wait()
    for tmp in tmps:
        for job in submitted_jobs(tmp):
            slurm.run("scancel", job)


def submitit_job(tmp: Path) -> str | None:
    """The SLURM id of a one-arm sweep's job (a plain job, not an array), from submitit's folder."""
    folders = [p.name for p in (tmp / "out").rglob(".submitit/*") if p.is_dir()]
    return folders[0] if folders else None


def squeue_state(slurm, job: str) -> str:
    return slurm.run("squeue", "-h", "-j", job, "-o", "%T").strip()


def rank_log(tmp: Path, rank: int, stream: str) -> str:
    """What one srun task wrote (``out``: submitit's lines; ``err``: Lightning's and preemption's), every attempt."""
    return "\n".join(
        p.read_text(errors="replace") for p in sorted((tmp / "out").rglob(f".submitit/*/*_{rank}_log.{stream}"))
    )


def job_folder(tmp: Path) -> Path:
    """The sweep's stage-one training job folder (once it has its result)."""
    return next((tmp / "runs").glob("stage1-*/done.json")).parent
