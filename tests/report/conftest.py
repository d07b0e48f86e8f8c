"""Real offline W&B runs following the logging contract, created once per test session.

Numbers are chosen so the expected table values can be written down by hand (see EXPECTED_*).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from vsr_lightning.report import run_schema as rs

os.environ["WANDB_MODE"] = "offline"  # never talk to a server from the tests
os.environ["WANDB_SILENT"] = "true"
os.environ["WANDB_ERROR_REPORTING"] = "false"

GROUP = "ablation_transfer"
PROJECT = "vsr-report-tests"
CONVENTION = {"channel": "rgb", "crop_border": 0, "average": rs.AVERAGE_PER_VIDEO}
INPUT = {"carphone": 29.0, "bikes": 35.5, "bunny": 32.0}


@dataclass(frozen=True)
class ArmSpec:
    """One run to create: arm, per-video PSNR, how it ends."""

    name: str
    arm: str
    psnr: dict[str, float]
    job_type: str = "stage2"
    exit_code: int = 0
    group: str = GROUP
    params: int = 11_500_000
    train_seconds: float = 7200.0
    frames: bool = False


RUNS: tuple[ArmSpec, ...] = (
    # an older scratch run, superseded by the later one
    ArmSpec("scratch-old", "scratch", {"carphone": 30.0, "bikes": 35.0, "bunny": 32.5}),
    ArmSpec("scratch", "scratch", {"carphone": 31.0, "bikes": 36.0, "bunny": 33.0}, frames=True),
    ArmSpec(
        "denoise",
        "denoise_pretrained",
        {"carphone": 31.2, "bikes": 35.9, "bunny": 33.3},
        frames=True,
        train_seconds=3600.0,
    ),
    # third arm never evaluated on "bunny"
    ArmSpec("deep", "deep", {"carphone": 31.1, "bikes": 36.2}, job_type="stage1", params=15_800_000),
    # crashed: huge numbers that must never show up
    ArmSpec("denoise-crash", "denoise_pretrained", {"carphone": 40.0, "bikes": 40.0, "bunny": 40.0}, exit_code=1),
    # another experiment in the same wandb dir
    ArmSpec("other", "scratch", {"carphone": 20.0, "bikes": 20.0, "bunny": 20.0}, group="other_group"),
)

# Means over the common videos (carphone, bikes) and gains; baseline arm = scratch.
EXPECTED_MEAN = {"scratch": 33.5, "denoise_pretrained": 33.55, "deep": 33.65}
EXPECTED_INPUT_MEAN = 32.25
EXPECTED_GAIN_VS_BASELINE = {"denoise_pretrained": 0.05, "deep": 0.15}
EXPECTED_IMPROVED = {"denoise_pretrained": (1, 2), "deep": (2, 2)}
EXPECTED_GAIN_VS_INPUT = {"scratch": 1.25, "denoise_pretrained": 1.3, "deep": 1.4}

_KILLED_SCRIPT = textwrap.dedent(
    """
    import os, signal, wandb
    run = wandb.init(project=%r, group=%r, name="killed", job_type="stage2",
                     config={"arm": "killed_arm"}, settings=wandb.Settings(console="off"))
    run.summary["val/psnr"] = 50.0
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _image(color: tuple[int, int, int]) -> np.ndarray:
    img = np.zeros((24, 32, 3), dtype=np.uint8)
    img[:, :] = color
    img[4:12, 4:20] = 255
    return img


def log_contract_run(spec: ArmSpec, wandb_dir: Path) -> None:
    """Log one run exactly as the trainer will (see run_schema)."""
    import wandb

    config: dict[str, Any] = {
        rs.CONFIG_ARM: spec.arm,
        rs.CONFIG_EXPERIMENT: "transfer",
        rs.CONFIG_BASELINE_ARM: "scratch",
        rs.CONFIG_GIT_COMMIT: "abc123def456",
        rs.CONFIG_DATA_MANIFEST_HASH: "d41d8cd98f00",
        rs.CONFIG_PSNR_CONVENTION: dict(CONVENTION),
    }
    run = wandb.init(
        project=PROJECT,
        group=spec.group,
        name=spec.name,
        job_type=spec.job_type,
        config=config,
        dir=str(wandb_dir),
        mode="offline",
        settings=wandb.Settings(console="off", x_disable_stats=True),
    )
    rows = []
    for video, psnr in spec.psnr.items():
        lq = INPUT[video]
        metrics = {"psnr": psnr, "psnr_lq": lq, "ssim": 0.9, "psnr_y": psnr + 1.0, "psnr_y_lq": lq + 1.0}
        for metric, value in metrics.items():
            run.summary[rs.video_metric_key(video, metric)] = value
        rows.append([video, *metrics.values()])
    run.log({rs.TABLE_PER_VIDEO: wandb.Table(columns=list(rs.PER_VIDEO_COLUMNS), data=rows)})
    if spec.frames:
        offset = 1.5 if spec.arm == "scratch" else 1.7
        frame_rows = [
            ["carphone", f, (30.0 if f % 4 == 0 else 28.7) + offset, 30.0 if f % 4 == 0 else 28.7, f % 4 == 0]
            for f in range(8)
        ]
        run.log({rs.TABLE_PER_FRAME: wandb.Table(columns=list(rs.PER_FRAME_COLUMNS), data=frame_rows)})
        images = {"lq": (90, 0, 0), "output": (0, 120, 0), "gt": (0, 0, 150), "stage1": (80, 80, 0)}
        run.log({rs.sample_key("carphone", k): wandb.Image(_image(c)) for k, c in images.items()})
    values = list(spec.psnr.values())
    lqs = [INPUT[v] for v in spec.psnr]
    run.summary[rs.VAL_PSNR] = float(np.mean(values))
    run.summary[rs.VAL_PSNR_LQ] = float(np.mean(lqs))
    run.summary[rs.VAL_PSNR_GAIN] = float(np.mean(values) - np.mean(lqs))
    run.summary[rs.VAL_SSIM] = 0.9
    run.summary[rs.VAL_PSNR_Y] = float(np.mean(values)) + 1.0
    run.summary[rs.VAL_PSNR_Y_LQ] = float(np.mean(lqs)) + 1.0
    run.summary[rs.MODEL_PARAMS] = spec.params
    run.summary[rs.TIME_TRAIN_SECONDS] = spec.train_seconds
    run.summary[rs.TIME_TO_FINAL_PSNR_SECONDS] = spec.train_seconds / 2
    run.summary[rs.TRAINER_GLOBAL_STEP] = 1000
    run.finish(exit_code=spec.exit_code)


@pytest.fixture(scope="session")
def wandb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding a wandb/ dir with all RUNS plus one process killed before finish()."""
    root = tmp_path_factory.mktemp("wb")
    env = dict(os.environ, WANDB_DIR=str(root))
    killed = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SCRIPT % (PROJECT, GROUP)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for spec in RUNS:
            log_contract_run(spec, root)
    finally:
        killed.wait(timeout=120)
    return root


@pytest.fixture(scope="session")
def offline_records(wandb_root: Path) -> list:
    from vsr_lightning.report.offline_reader import read_offline_runs

    return read_offline_runs(wandb_root, group=GROUP)


@pytest.fixture(scope="session")
def contract() -> ModuleType:
    """This module (logged numbers and expected results), without importing ``conftest`` by name."""
    return sys.modules[__name__]
