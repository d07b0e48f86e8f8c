"""``done.json`` and ``test-*.json`` through their types: the files read back and write out unchanged."""

from __future__ import annotations

import json

import pytest

from vsr_lightning.jobs.evaluation import Evaluation
from vsr_lightning.jobs.job_dir import JobDir
from vsr_lightning.jobs.job_result import JobResult

# done.json as fit_job wrote it before JobResult existed (json.dumps(indent=1), keys in this order)
DONE = {
    "kind": "stage1",
    "key": "0123456789ab",
    "checkpoint": "/runs/stage1-0123456789ab/final.ckpt",
    "params": 1234,
    "train_seconds": 1.5,
    "wall_seconds": 2.25,
    "to_final_psnr_seconds": None,
    "val_history": [[0.5, 30.0], [1.5, 31.0]],
    "global_step": 4,
    "lineage": [{"init": "zoo:stage1-embedded"}, {"job": "0123456789ab", "reconstruction_blocks": 2, "steps": 4}],
    "wandb_run": None,
}
TEST = {
    "metrics": {"val/psnr": 31.0, "val/psnr_lq": 30.0},
    "per_video": {"carphone_val0": {"psnr": 31.0, "psnr_lq": 30.0}},
    "per_frame": [["carphone_val0", 0, 31.0, 30.0, False]],
    "samples": {"carphone_val0": {"gt": "/runs/x/samples/carphone_val0__gt.png"}},
    "per_video_stage1": {},
    "test_options": {"tta": False},
}


def test_done_json_reads_and_writes_back_byte_for_byte(tmp_path):
    job = JobDir.create(tmp_path, "stage1", {"a": 1})
    before = json.dumps(DONE, indent=1, default=str)
    job.done_file.write_text(before)
    result = JobResult.read(job)
    assert result is not None and result.checkpoint == DONE["checkpoint"] and result.global_step == 4
    result.write(job)
    assert job.done_file.read_text() == before


def test_a_fresh_result_writes_what_fit_job_wrote(tmp_path):
    job = JobDir.create(tmp_path, "stage1", {"a": 1})
    fresh = JobResult(**{**DONE, "val_history": [(0.5, 30.0), (1.5, 31.0)]})  # tuples in memory, as in training
    fresh.write(job)
    assert job.done_file.read_text() == json.dumps(DONE, indent=1, default=str)


def test_an_unfinished_job_has_no_result(tmp_path):
    assert JobResult.read(JobDir.create(tmp_path, "stage1", {"a": 1})) is None


def test_evaluation_file_round_trips(tmp_path):
    path = tmp_path / "test-abc.json"
    path.write_text(json.dumps(TEST))
    evaluation = Evaluation.read(path)
    assert evaluation is not None and evaluation.per_video["carphone_val0"]["psnr"] == 31.0
    evaluation.write(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == json.dumps(TEST)
    assert Evaluation.read(tmp_path / "missing.json") is None


def test_scores_of_an_evaluated_result():
    result = JobResult.from_json(DONE)
    with pytest.raises(ValueError, match="not evaluated"):
        _ = result.scores
    evaluated = result.evaluated(Evaluation.from_json(TEST))
    assert evaluated.scores.per_frame == TEST["per_frame"]
    assert evaluated.checkpoint == DONE["checkpoint"] and evaluated.global_step == 4
    assert evaluated.scores.per_video == TEST["per_video"] and result.evaluation is None
