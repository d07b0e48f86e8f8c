"""Training windows and validation videos from a real prepared dataset: alignment, shapes, sources."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsr_lightning.data.datamodule import DataSource, VideoDataModule
from vsr_lightning.data.duplicates import unique_indices
from vsr_lightning.data.manifest import Manifest
from vsr_lightning.data.paired_augment import AugmentConfig, paired_augment
from vsr_lightning.data.paired_datasets import PairedClipDataset, PairedVideoDataset


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / torch.mean((a - b) ** 2)))


def test_augmentations_keep_lq_and_gt_paired():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 200, (5, 6, 8, 3)).astype(np.uint8)
    lq = gt + 7  # a known pairing to preserve
    flags = np.arange(5)[:, None].repeat(2, 1)
    seen = set()
    for _ in range(40):
        a, b, f = paired_augment(lq, gt, flags, AugmentConfig(), rng)
        assert np.array_equal(a, b + 7)
        seen.add((a.shape[1:3], int(f[0, 0])))
        # the frame carried with flag k is a transform of frame k
        k = int(f[0, 0])
        assert sorted(b[0].ravel().tolist()) == sorted(gt[k].ravel().tolist())
    assert {s for s, _ in seen} == {(6, 8), (8, 6)}  # transposition happened both ways
    assert {k for _, k in seen} == {0, 4}  # temporal reversal happened both ways


def test_training_windows_are_aligned_and_shaped(mini_dataset):
    ds = PairedClipDataset(mini_dataset, window=5, patch=32, augment=AugmentConfig(), samples_per_epoch=12, seed=1)
    for i in range(12):
        item = ds[i]
        assert item["lq"].shape == item["gt"].shape == (5, 3, 32, 32)
        assert item["pqf"].shape == item["qp"].shape == (5,)
        # PQF flags travel with their frames: PQFs have the lowest QP of the window's P frames
        p_frames = item["qp"][item["qp"] != 37]
        if item["pqf"].any() and len(p_frames):
            assert item["qp"][item["pqf"]].max() <= p_frames.min()
        aligned = _psnr(item["lq"], item["gt"])
        shifted = _psnr(item["lq"][:, :, 2:], item["gt"][:, :, :-2])
        assert aligned > 20 and aligned > shifted + 1


def test_duplicate_removal_trains_on_unique_frames(mini_dataset):
    manifest = Manifest.load(mini_dataset)
    entry = next(v for v in manifest.videos if v.name == "carphone_dup")
    ds = PairedClipDataset(
        mini_dataset,
        [entry],
        window=len(unique_indices(entry.num_frames, entry.duplicates)),
        patch=0,
        augment=None,
        drop_duplicates=True,
    )
    item = ds[0]
    # the repeats the clip was built with (identical originals) are gone from the window
    consecutive = [torch.equal(item["gt"][t], item["gt"][t - 1]) for t in range(1, item["gt"].shape[0])]
    assert entry.duplicates and not any(consecutive)
    with pytest.raises(Exception, match="shorter than the training window"):
        PairedClipDataset(mini_dataset, [entry], window=entry.num_frames, drop_duplicates=True)


def test_validation_yields_whole_named_videos(mini_dataset):
    ds = PairedVideoDataset(mini_dataset, "val")
    item = ds[0]
    assert item["video"] == "carphone_val"
    assert item["lq"].shape == (12, 3, 144, 176) == item["gt"].shape
    assert 26 < _psnr(item["lq"], item["gt"]) < 40


def test_datamodule_weights_sources_and_batches(mini_dataset):
    dm = VideoDataModule(
        train_sources=[
            DataSource(str(mini_dataset), include=["carphone_a"], weight=1.0),
            DataSource(str(mini_dataset), include=["carphone_b"], weight=0.0),
        ],
        val_source=DataSource(str(mini_dataset), split="val"),
        window=3,
        patch=16,
        batch_size=4,
        samples_per_epoch=16,
        seed=0,
    )
    dm.prepare_data()
    dm.setup("fit")
    videos = [v for batch in dm.train_dataloader() for v in batch["video"]]
    assert len(videos) == 16 and set(videos) == {"carphone_a"}
    batch = next(iter(dm.train_dataloader()))
    assert batch["lq"].shape == (4, 3, 3, 16, 16)
    val = next(iter(dm.val_dataloader()))
    assert val["video"] == ["carphone_val"] and val["lq"].shape[1] == 12
    assert len(dm.manifest_hash) == 16
