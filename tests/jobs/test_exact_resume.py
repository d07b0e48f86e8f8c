"""Exact resume: a job killed right after a mid-epoch checkpoint and re-run ends bit-identical to one
that ran without interruption (stage one, progressive steps, stage two, denoising pre-training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from lightning.pytorch.callbacks import ModelCheckpoint

from vsr_lightning.config_schema import register_configs
from vsr_lightning.data.resumable import ResumableSampler
from vsr_lightning.jobs.arms import arm_config
from vsr_lightning.jobs.job_result import JobResult
from vsr_lightning.jobs.pipeline import Pipeline

CONF = Path(__file__).resolve().parents[2] / "conf"
register_configs()


class Killed(BaseException):
    """Stands for SIGKILL: nothing after the checkpoint runs (no cleanup, no done.json)."""


def _cfg(tmp: Path, embedded_root: Path, extra: list[str] = ()):
    overrides = [
        "logger=none",
        f"paths.runs_dir={tmp / 'runs'}",
        f"paths.output_root={tmp / 'out'}",
        f"paths.reports_dir={tmp / 'rep'}",
        f"data.embedded_root={embedded_root}",
        "data.val_max_frames=3",
        "data.val_source.include=[carphone_val0]",
        "data.cleaning_report=null",
        "trainer.enable_progress_bar=false",
        # 8 samples of batch 2: 4 batches an epoch, so 6 steps cross an epoch and step 2 is mid-epoch
        "data.samples_per_epoch=8",
        "data.window=3",
        "data.patch=32",
        "stage1.max_steps=6",
        "stage1.val_every=2",
        "stage1.batch_size=2",
        "stage2.max_steps=6",
        "stage2.val_every=2",
        "stage2.batch_size=2",
        "stage2.patch=16",
        "stage2.outputs_max_frames=3",
        "stage2.init=pretrain",
        "pretrain.max_steps=3",
        "pretrain.batch_size=2",
        "pretrain.patch=16",
        *extra,
    ]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*overrides, "+experiment=baseline"])
    return arm_config(cfg, "basicvsr_pp", [*overrides, "+experiment=baseline"])


def _kill_at(monkeypatch, job_type: str, step: int) -> None:
    original = ModelCheckpoint.on_train_batch_end

    def killing(self, trainer, pl_module, *args, **kwargs):
        original(self, trainer, pl_module, *args, **kwargs)  # last.ckpt written
        if pl_module.job_type == job_type and trainer.global_step == step:
            monkeypatch.setattr(ModelCheckpoint, "on_train_batch_end", original)  # one kill per run
            raise Killed

    monkeypatch.setattr(ModelCheckpoint, "on_train_batch_end", killing)


def _weights(runs: Path, kind: str) -> list[dict[str, torch.Tensor]]:
    """Final weights of each job of a kind, in the order they ran (stage two's key holds its folder)."""
    paths = sorted(
        runs.glob(f"{kind}-*/final.ckpt"),
        key=lambda p: json.loads((p.parent / "done.json").read_text())["lineage"].__len__(),
    )
    return [torch.load(p, map_location="cpu", weights_only=True)["state_dict"] for p in paths]


def _assert_same(a: list, b: list) -> None:
    assert len(a) == len(b) and a
    for job, (x, y) in enumerate(zip(a, b, strict=True)):
        assert x.keys() == y.keys()
        for name, tensor in x.items():
            assert torch.equal(tensor, y[name]), f"job {job}: {name} differs"


def _per_video(result: JobResult) -> dict[str, float]:
    return {video: m["psnr"] for video, m in result.scores.per_video.items()}


@pytest.mark.slow
def test_killed_mid_epoch_jobs_resume_exactly(tmp_path, embedded_root, monkeypatch, single_thread):
    whole = _cfg(tmp_path / "whole", embedded_root)
    reference = Pipeline(whole).stage2()
    reference_s1 = Pipeline(whole).stage1()

    cfg = _cfg(tmp_path / "killed", embedded_root)
    for job_type in ("stage1", "stage2"):  # killed after the step-2 checkpoint, mid-epoch, then re-run
        _kill_at(monkeypatch, job_type, 2)
        with pytest.raises(Killed):
            Pipeline(cfg).stage2()
        killed = next((tmp_path / "killed" / "runs").glob(f"{job_type}-*/last.ckpt")).parent
        assert not (killed / "done.json").exists()
        monkeypatch.undo()
    resumed = Pipeline(cfg).stage2()
    resumed_s1 = Pipeline(cfg).stage1()

    for kind in ("stage1", "pretrain", "stage2"):
        _assert_same(_weights(tmp_path / "whole" / "runs", kind), _weights(tmp_path / "killed" / "runs", kind))
    for ref, res in ((reference, resumed), (reference_s1, resumed_s1)):
        assert res.global_step == 6
        for video, psnr in _per_video(ref).items():
            assert abs(_per_video(res)[video] - psnr) < 1e-6
    stage2 = json.loads(next((tmp_path / "killed" / "runs").glob("stage2-*/done.json")).read_text())
    assert stage2["global_step"] == 6


@pytest.mark.slow
def test_progressive_step_and_pretraining_resume_exactly(tmp_path, embedded_root, monkeypatch, single_thread):
    extra = ["stage1.progressive=[[3,2],[4,6]]", "pretrain.max_steps=6", "pretrain.val_every=2"]
    whole = _cfg(tmp_path / "whole", embedded_root, extra)
    Pipeline(whole).stage1()
    Pipeline(whole).pretrain()

    cfg = _cfg(tmp_path / "killed", embedded_root, extra)
    _kill_at(monkeypatch, "stage1", 4)  # second progressive step: its own job, killed mid-epoch 1
    with pytest.raises(Killed):
        Pipeline(cfg).stage1()
    monkeypatch.undo()
    Pipeline(cfg).stage1()
    _kill_at(monkeypatch, "pretrain", 2)
    with pytest.raises(Killed):
        Pipeline(cfg).pretrain()
    monkeypatch.undo()
    Pipeline(cfg).pretrain()
    for kind in ("stage1", "pretrain"):
        _assert_same(_weights(tmp_path / "whole" / "runs", kind), _weights(tmp_path / "killed" / "runs", kind))


def test_sampler_continues_mid_epoch_where_the_uninterrupted_one_is():
    whole = ResumableSampler(7, 2)  # 3 batches an epoch (one sample dropped)
    reference = [list(whole) for _ in range(3)]
    assert reference[0] == list(range(7)) and reference[1][0] == 7
    resumed = ResumableSampler(7, 2)
    resumed.start_at_batch(4)  # epoch 1, after its first batch
    assert list(resumed) == reference[1][2:]
    assert list(resumed) == reference[2]


@pytest.mark.parametrize("samples, ranks", [(8, 2), (7, 2), (13, 4)])
def test_sharded_sampler_deals_what_lightnings_wrapper_deals_and_resumes_mid_epoch(samples, ranks):
    """Under DDP Lightning would wrap ResumableSampler in its DistributedSamplerWrapper; the sharded sampler
    hands each rank the same numbers, and resumed after b of its rank's batches continues where it was."""
    from lightning.fabric.utilities.distributed import DistributedSamplerWrapper

    from vsr_lightning.data.resumable import ShardedResumableSampler

    batch = 2
    for rank in range(ranks):
        wrapped = DistributedSamplerWrapper(
            ResumableSampler(samples, batch), num_replicas=ranks, rank=rank, shuffle=False
        )
        sharded = ShardedResumableSampler(samples, batch, ranks, rank)
        reference = [list(wrapped) for _ in range(3)]
        assert [list(sharded) for _ in range(3)] == reference and len(sharded) == len(wrapped)
        per_epoch = len(reference[0]) // batch
        resumed = ShardedResumableSampler(samples, batch, ranks, rank)
        resumed.start_at_batch(per_epoch + 1)  # epoch 1, after this rank's first batch of it
        assert list(resumed) == reference[1][batch:]
        assert list(resumed) == reference[2]
