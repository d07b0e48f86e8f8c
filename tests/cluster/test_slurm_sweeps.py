"""An experiment's arms as SLURM jobs: shared prerequisites once, one W&B run per arm, one report; and a
failing arm fails only its own job."""

from __future__ import annotations

import json

import pytest
from slurm_run import job_log, submitted_jobs, sweep

from vsr_lightning.report.offline_reader import read_offline_runs
from vsr_lightning.report.run_record import RunState

pytestmark = pytest.mark.slurm


def test_ablation_transfer_arms_run_as_slurm_jobs(slurm, slurm_workdir, embedded_root):
    tmp = slurm_workdir
    done = sweep(tmp, embedded_root, slurm.env, "+experiment=ablation_transfer", "steps_cap=2")
    assert done.returncode == 0, done.stderr[-3000:] + job_log(tmp)[-3000:]
    jobs = submitted_jobs(tmp)
    assert len(jobs) == 1  # submitit sends the arms as one array: <id>_0, <id>_1
    states = slurm.run("sacct", "-n", "-X", "-P", "-o", "JobID,State", f"-j{jobs[0]}").split()
    assert sorted(states) == [f"{jobs[0]}_0|COMPLETED", f"{jobs[0]}_1|COMPLETED"]
    runs = tmp / "runs"
    for kind in ("stage1", "stage1_outputs"):  # shared by both arms: computed once (the other arm waited)
        assert len(list(runs.glob(f"{kind}-*/done.json"))) == 1, kind
    assert len(list(runs.glob("stage2-*/done.json"))) == 2
    runs_logged = read_offline_runs(tmp / "out" / "wandb")
    assert sorted(r.arm for r in runs_logged if "arm" in r.tags) == ["denoise_pretrained", "scratch"]
    assert all(r.state is RunState.FINISHED for r in runs_logged)  # every job finished its W&B runs
    report = (tmp / "rep" / "ablation_transfer" / "report.md").read_text()
    assert "scratch" in report and "denoise_pretrained" in report and "carphone_val0" in report
    assert "None: every run found finished" in report
    assert json.loads(next(runs.glob("stage1-*/done.json")).read_text())["global_step"] == 2
