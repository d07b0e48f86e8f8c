"""W&B online with a server that does not answer: the run falls back to offline and training goes on.

Run in a subprocess: W&B's service and its environment must not leak into other tests' processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
URL = "http://127.0.0.1:9"  # nothing listens on the discard port

SCRIPT = """
import sys, time
from vsr_lightning.jobs.wandb_runs import start_run
started = time.perf_counter()
run = start_run("online", 3, project="vsr-test", id="fallback1", dir=sys.argv[1], resume="allow")
print(run.id, run.settings.mode, round(time.perf_counter() - started))
run.log({"val/psnr": 30.0})
run.finish()
"""


def _unreachable_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update({"WANDB_BASE_URL": URL, "WANDB_API_KEY": "0" * 40, "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"})
    return env


def test_unreachable_server_logs_offline_with_one_warning(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        env=_unreachable_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    run_id, mode, seconds = proc.stdout.split()
    assert (run_id, mode) == ("fallback1", "offline") and int(seconds) < 60
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: W&B server {URL} unreachable (")
    assert f"logging offline under {tmp_path}/wandb" in warnings[0]
    assert list((tmp_path / "wandb").glob("offline-run-*-fallback1/run-fallback1.wandb"))


@pytest.mark.slow  # a whole run.py process with a training set-up
def test_online_only_fails_at_once_naming_the_server(tmp_path, embedded_root):
    args = [
        sys.executable,
        "run.py",
        "+experiment=baseline",
        "steps_cap=2",
        "logger.mode=online",
        "logger.init_timeout=3",
        "logger.offline_fallback=false",
        f"paths.runs_dir={tmp_path / 'runs'}",
        f"paths.output_root={tmp_path / 'out'}",
        f"paths.reports_dir={tmp_path / 'rep'}",
        f"data.embedded_root={embedded_root}",
        "data.val_max_frames=3",
        "data.val_source.include=[carphone_val0]",
        "data.cleaning_report=null",
    ]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=_unreachable_env(), timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: W&B server {URL} unreachable (") and last.endswith(
        "logger.offline_fallback=false asks for online logging only"
    )
    assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "runs").glob("*/done.json"))
