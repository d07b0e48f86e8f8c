"""``run.py -m ... hydra/launcher=submitit_slurm`` as the cluster tests run it, at smoke scale."""

from __future__ import annotations

import re
import subprocess
import sys
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
