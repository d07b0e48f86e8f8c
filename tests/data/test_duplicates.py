"""Duplicated frames: detection, and unique-only enhancement restoring the frame count and order."""

from __future__ import annotations

import numpy as np
import torch

from vsr_lightning.data.duplicates import (
    DuplicateDetector,
    expand_unique,
    find_duplicates,
    originals_repeat,
    source_of_each_frame,
    unique_indices,
)
from vsr_lightning.data.manifest import Manifest
from vsr_lightning.data.paired_datasets import PairedVideoDataset


def test_exact_and_threshold_detection():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    near = a.copy()
    near[0, 0, 0] ^= 1
    frames = [a, a, b, near, b]
    assert find_duplicates(frames) == [1]
    assert find_duplicates([a, near], threshold=0.1) == [1]
    assert find_duplicates([a, b], threshold=0.1) == []


def test_a_compressed_repeat_counts_only_where_the_originals_repeat_too():
    rng = np.random.default_rng(1)
    original = rng.integers(0, 250, (16, 16, 3), dtype=np.uint8)
    moved = original.copy()
    moved[:4, :4] += 5  # a small region moves: 43.6 dB, under LDV's 50-70 dB between repeated originals
    barely = original.copy()
    barely[0, :3] += 1  # nine levels of one: 63.3 dB
    assert not originals_repeat(original, moved) and originals_repeat(original, barely)
    assert originals_repeat(original, original)
    lq = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    detector = DuplicateDetector(threshold=0.0)
    flags = [detector.update(lq, gt) for gt in (original, moved, moved, barely)]
    # the encoder kept every frame identical; only the originals that repeat make duplicates
    assert flags == [False, False, True, False] and detector.duplicates == [2]
    # without originals (enhance has none) the compressed frames alone decide
    assert find_duplicates([lq, lq, lq]) == [1, 2]


def test_unique_enhancement_restores_count_and_order():
    n, dups = 7, [2, 3, 6]
    assert unique_indices(n, dups) == [0, 1, 4, 5]
    assert source_of_each_frame(n, dups) == [0, 1, 1, 1, 2, 3, 3]
    unique = torch.arange(4).float().view(4, 1, 1, 1) * 10
    full = expand_unique(unique, n, dups)
    assert full.shape[0] == n
    assert full.flatten().tolist() == [0, 10, 10, 10, 20, 30, 30]


def test_repeated_source_frames_are_found_in_real_compressed_clip(mini_dataset):
    manifest = Manifest.load(mini_dataset)
    entry = next(v for v in manifest.videos if v.name == "carphone_dup")
    # 12 source frames, every 3rd repeated once: 16 frames, repeats at 3, 7, 11, 15.
    assert entry.num_frames == 16
    assert set(entry.duplicates) >= {3, 7, 11, 15}
    video = PairedVideoDataset(mini_dataset, "train", [entry])[0]
    lq = video["lq"]
    keep = unique_indices(entry.num_frames, entry.duplicates)
    enhanced = expand_unique(lq[keep] * 0.5, entry.num_frames, entry.duplicates)  # any per-frame function
    assert enhanced.shape == lq.shape
    for t in range(entry.num_frames):
        src = keep[source_of_each_frame(entry.num_frames, entry.duplicates)[t]]
        assert torch.equal(enhanced[t], lq[src] * 0.5)


def test_same_bytes_is_array_equal():
    from vsr_lightning.data.duplicates import same_bytes

    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)  # 105 bytes: 13 words and a tail of 1
    assert same_bytes(a, a.copy())
    for index in [(0, 0, 0), (3, 2, 1), (6, 4, 2)]:  # first byte, a middle one, the tail
        b = a.copy()
        b[index] ^= 1
        assert not same_bytes(a, b)
        assert same_bytes(a[:, ::2], b[:, ::2]) == np.array_equal(a[:, ::2], b[:, ::2])  # strided: the slow path
    assert not same_bytes(a, a[:6])
