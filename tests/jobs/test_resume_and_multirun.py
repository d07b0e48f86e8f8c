"""Robustness of the main job: a killed run resumes where it stopped; a failing arm spares the others."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _base(tmp: Path, embedded_root: Path) -> list[str]:
    return [
        f"paths.runs_dir={tmp / 'runs'}",
        f"paths.output_root={tmp / 'out'}",
        f"paths.reports_dir={tmp / 'rep'}",
        f"data.embedded_root={embedded_root}",
        "data.val_max_frames=3",
        "data.val_source.include=[carphone_val0]",
        "data.cleaning_report=null",
        "trainer.enable_progress_bar=false",
    ]


def _env() -> dict:
    return {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONUNBUFFERED": "1"}


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint_and_same_wandb_run(tmp_path, embedded_root):
    args = [
        sys.executable,
        "run.py",
        "+experiment=baseline",
        "stage1.max_steps=6",
        "stage1.val_every=2",
        *_base(tmp_path, embedded_root),
    ]
    proc = subprocess.Popen(args, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    ckpts: list[Path] = []
    while time.time() < deadline and not ckpts:
        ckpts = list((tmp_path / "runs").glob("stage1-*/last.ckpt"))
        time.sleep(0.5)
    assert ckpts, "no checkpoint appeared"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    job = ckpts[0].parent
    assert not (job / "done.json").exists()
    run_id = (job / "wandb_id.txt").read_text()
    done = subprocess.run(args, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    result = json.loads((job / "done.json").read_text())
    assert result["global_step"] == 6
    assert (job / "wandb_id.txt").read_text() == run_id
    assert len(list((tmp_path / "out" / "wandb").glob(f"offline-run-*-{run_id}"))) == 2  # same run, resumed
    # a third invocation trains nothing: the finished job is reused
    again = subprocess.run(args, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "Restoring" not in again.stdout + again.stderr
    assert json.loads((job / "done.json").read_text())["wall_seconds"] == result["wall_seconds"]


@pytest.mark.slow
def test_multirun_with_a_failing_arm_finishes_the_others(tmp_path, embedded_root):
    args = [
        sys.executable,
        "run.py",
        "-m",
        "+experiment=ablation_mse_finetune",
        "steps_cap=1",
        "logger=none",
        "experiment.arms.charbonnier_then_mse=['stage1.phases=[{loss: mse, steps: 20}]','stage1.loss=not_a_loss']",
        *_base(tmp_path, embedded_root),
    ]
    done = subprocess.run(args, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode != 0  # the failure is reported...
    assert "not_a_loss" in done.stderr + done.stdout
    finished = [json for json in (tmp_path / "runs").glob("stage1-*/done.json")]
    assert len(finished) == 4  # ...and the healthy arms still trained: their shared first phase, then charbonnier's
    # second phase and three_step's two
