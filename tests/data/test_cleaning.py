"""Each cleaning rule fires on a clip built for it, from real frames, and leaves normal clips alone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vsr_lightning.data.cleaning import (
    FlatClipRule,
    PsnrOutlierRule,
    SceneCutRule,
    StaticClipRule,
    apply_cleaning,
    write_cleaning_report,
)
from vsr_lightning.data.clip_stats import ClipStatsAccumulator
from vsr_lightning.data.manifest import VideoEntry
from vsr_lightning.data.video_io import VideoReader


def _entry(name: str, gt: np.ndarray, lq: np.ndarray) -> VideoEntry:
    acc = ClipStatsAccumulator()
    for g, q in zip(gt, lq, strict=True):
        acc.update(g, q)
    n = len(gt)
    return VideoEntry(
        name,
        "train",
        n,
        gt.shape[2],
        gt.shape[1],
        25.0,
        [37] * n,
        ["P"] * n,
        [False] * n,
        [],
        "test",
        "0",
        [0, n],
        acc.result(),
    )


def _noisy(frames: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frames + rng.normal(0, sigma, frames.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def frames(carphone_path, bikes_path):
    carphone = VideoReader(carphone_path).read(0, 10)
    bikes = VideoReader(bikes_path, resize=(176, 144)).read(200, 210)  # a different scene, same size
    return carphone, bikes


@pytest.fixture(scope="module")
def clips(frames):
    carphone, bikes = frames
    normal = [_entry(f"normal_{i}", carphone, _noisy(carphone, 6, i)) for i in range(4)]
    cut = _entry("cut", np.concatenate([carphone[:5], bikes[:5]]), _noisy(np.concatenate([carphone[:5], bikes[:5]]), 6))
    still = np.repeat(carphone[:1], 10, axis=0)
    static = _entry("static", still, _noisy(still, 6))
    flat_frames = np.full((10, 144, 176, 3), 120, np.uint8)
    flat_frames[:, :, :, 0] += (10 * np.arange(10, dtype=np.uint8))[:, None, None]  # moves, but has no texture
    flat = _entry("flat", flat_frames, _noisy(flat_frames, 6))
    outlier = _entry("outlier", carphone, _noisy(carphone, 40))
    return normal, cut, static, flat, outlier


@pytest.mark.parametrize(
    ("rule", "target"),
    [(SceneCutRule(), "cut"), (StaticClipRule(), "static"), (FlatClipRule(), "flat"), (PsnrOutlierRule(), "outlier")],
)
def test_rule_fires_on_its_case_only(rule, target, clips):
    normal, *special = clips
    split = [*normal, *special]
    fired = {v.name for v in split if rule.check(v, split) is not None}
    assert target in fired
    assert not any(n.name in fired for n in normal)


def test_apply_cleaning_reports_each_drop(clips, tmp_path):
    normal, *special = clips
    rules = [FlatClipRule(), SceneCutRule(), StaticClipRule(), PsnrOutlierRule()]  # first match is reported
    kept, dropped = apply_cleaning([*normal, *special], rules)
    assert [v.name for v in kept] == [v.name for v in normal]
    assert {(d.video, d.rule) for d in dropped} == {
        ("cut", "scene_cut"),
        ("static", "static"),
        ("flat", "flat"),
        ("outlier", "psnr_outlier"),
    }
    assert all(d.reason for d in dropped)
    write_cleaning_report(dropped, len(kept), tmp_path / "cleaning.json")
    report = json.loads((tmp_path / "cleaning.json").read_text())
    assert report["kept"] == 4 and len(report["dropped"]) == 4


def test_thresholds_are_configurable(clips):
    normal, cut, *_ = clips
    assert SceneCutRule(max_histogram_change=2.1).check(cut, [cut]) is None


def test_statistics_of_another_definition_are_refused(tmp_path, clips):
    from vsr_lightning.data.cleaning import check_stats_version, stats_version
    from vsr_lightning.data.clip_stats import CLIP_STATS_VERSION
    from vsr_lightning.data.errors import DataError
    from vsr_lightning.data.manifest import Manifest

    manifest = Manifest("m", 37, "png", list(clips[0]), build={"clip_stats_version": CLIP_STATS_VERSION})
    check_stats_version(manifest, tmp_path)
    manifest.build = {}  # written before manifests said: version 1, the float32 definition
    assert stats_version(manifest) == 1
    with pytest.raises(DataError, match="re-prepare"):
        check_stats_version(manifest, tmp_path)
