"""W&B online with a server that does not answer: the run falls back to offline and training goes on.

Run in a subprocess: W&B's service and its environment must not leak into other tests' processes."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import sys, time
from vsr_lightning.jobs.wandb_runs import start_run
started = time.perf_counter()
run = start_run("online", 3, project="vsr-test", id="fallback1", dir=sys.argv[1], resume="allow")
print(run.id, run.settings.mode, round(time.perf_counter() - started))
run.log({"val/psnr": 30.0})
run.finish()
"""


def test_unreachable_server_logs_offline_with_one_warning(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update({"WANDB_BASE_URL": "http://127.0.0.1:9", "WANDB_API_KEY": "0" * 40, "WANDB_SILENT": "true",
                "OMP_NUM_THREADS": "1"})  # nothing listens on the discard port
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    run_id, mode, seconds = proc.stdout.split()
    assert (run_id, mode) == ("fallback1", "offline") and int(seconds) < 60
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: W&B server unreachable (")
    assert f"logging offline under {tmp_path}/wandb" in warnings[0]
    assert list((tmp_path / "wandb").glob("offline-run-*-fallback1/run-fallback1.wandb"))
