"""A two-process CPU DDP run (gloo) of the main job completes, and only rank zero logs to W&B."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_process_cpu_ddp_run_completes(tmp_path, embedded_root):
    args = [
        sys.executable,
        "run.py",
        "+experiment=baseline",
        "trainer=ddp_cpu",
        "steps_cap=2",
        f"paths.runs_dir={tmp_path / 'runs'}",
        f"paths.output_root={tmp_path / 'out'}",
        f"paths.reports_dir={tmp_path / 'rep'}",
        f"data.embedded_root={embedded_root}",
        "data.val_max_frames=3",
        "data.val_source.include=[carphone_val0]",
        "data.cleaning_report=null",
    ]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert "MEMBER: 1/2" in log and "MEMBER: 2/2" in log
    result = json.loads(next((tmp_path / "runs").glob("stage1-*/done.json")).read_text())
    assert result["global_step"] == 2
    runs = list((tmp_path / "out" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2  # the training job's run and the arm's run, both from rank zero only
    assert (tmp_path / "rep" / "baseline" / "report.md").is_file()
