"""Torch datasets over a prepared dataset: random training windows, and whole validation videos."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from vsr_lightning.data.duplicates import unique_indices
from vsr_lightning.data.errors import DataError
from vsr_lightning.data.frame_store import FrameStore
from vsr_lightning.data.manifest import Manifest, VideoEntry
from vsr_lightning.data.paired_augment import AugmentConfig, paired_augment, random_crop


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``(T, H, W, 3) uint8`` -> ``(T, 3, H, W) float32`` in [0, 1]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)


def _pair(
    root: Path,
    manifest: Manifest,
    entry: VideoEntry,
    source: str | None,
    lq_root: Path | None = None,
    cache: bool = False,
) -> tuple[FrameStore, FrameStore]:
    lq = FrameStore(root, manifest, entry, "lq", source, override_root=lq_root, cache=cache)
    return lq, FrameStore(root, manifest, entry, "gt", source, cache=cache)


def _open_split(
    root: str | Path, videos: Sequence[VideoEntry] | None, split: str
) -> tuple[Path, Manifest, list[VideoEntry]]:
    """The dataset's root, manifest and chosen videos (the split's, unless given); never empty."""
    root = Path(root)
    manifest = Manifest.load(root)
    chosen = list(videos) if videos is not None else manifest.split(split)
    if not chosen:
        raise DataError(root, f"no videos in split {split!r}")
    return root, manifest, chosen


class PairedClipDataset(Dataset):
    """Random temporal windows with random crops of (LQ, GT) training videos.

    Each item draws a video (``index`` modulo the number of videos, so every video is visited
    equally often), a window of ``window`` consecutive frames, a ``patch`` crop and the augmentations.
    With ``drop_duplicates`` the window is taken over the video's unique frames only, as the NTIRE
    2022 winners trained. Items are dicts with ``lq``/``gt`` ``(T, 3, P, P)`` floats, ``pqf`` (T,)
    bools, ``qp`` (T,) ints and the ``video`` name.
    """

    def __init__(
        self,
        root: str | Path,
        videos: Sequence[VideoEntry] | None = None,
        split: str = "train",
        window: int = 7,
        patch: int = 64,
        augment: AugmentConfig | None = None,
        drop_duplicates: bool = False,
        samples_per_epoch: int | None = None,
        frame_source: str | None = None,
        seed: int | None = None,
        lq_root: str | Path | None = None,
        max_frames: int | None = None,
        cache_frames: bool = False,
    ) -> None:
        self.root, self.manifest, self.videos = _open_split(root, videos, split)
        self.window, self.patch = window, patch
        self.augment = augment  # None: no augmentation (the data module passes its AugmentConfig)
        self.drop_duplicates = drop_duplicates
        self.samples_per_epoch = samples_per_epoch or len(self.videos)
        self.seed = seed
        self._frames: list[list[int]] = []
        self._stores = []
        for entry in self.videos:
            frames = (
                unique_indices(entry.num_frames, entry.duplicates) if drop_duplicates else list(range(entry.num_frames))
            )
            if max_frames is not None:
                frames = [t for t in frames if t < max_frames]
            if len(frames) < window:
                raise DataError(
                    self.root / entry.split / "gt" / entry.name,
                    f"{len(frames)} usable frames, shorter than the training window of {window}",
                )
            if patch > 0 and (entry.height < patch or entry.width < patch):
                raise DataError(
                    self.root / entry.split / "gt" / entry.name,
                    f"{entry.width}x{entry.height} frames are smaller than the {patch} px patch",
                )
            self._frames.append(frames)
            self._stores.append(
                _pair(self.root, self.manifest, entry, frame_source, Path(lq_root) if lq_root else None, cache_frames)
            )
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def frame_stores(self, entry: VideoEntry) -> tuple[FrameStore, FrameStore]:
        """The ``(LQ, GT)`` frame stores of one of this dataset's videos."""
        return self._stores[self.videos.index(entry)]

    def worker_init(self, worker_id: int) -> None:
        """Give each DataLoader worker its own random stream."""
        base = self.seed if self.seed is not None else torch.initial_seed() % 2**32
        self._rng = np.random.default_rng([base, worker_id])

    def __getitem__(self, index: int) -> dict:
        return self.sample(index, self._rng)

    def sample(self, index: int, rng: np.random.Generator) -> dict:
        """Item ``index`` with its window, crop and augmentations drawn from ``rng`` (and nothing else)."""
        v = index % len(self.videos)
        entry, frames = self.videos[v], self._frames[v]
        start = int(rng.integers(0, len(frames) - self.window + 1))
        chosen = frames[start : start + self.window]
        lq_store, gt_store = self._stores[v]
        lq, gt = lq_store.load(chosen), gt_store.load(chosen)
        if lq.shape != gt.shape:
            raise DataError(lq_store.folder, f"LQ frames {lq.shape} and GT frames {gt.shape} differ in size")
        flags = np.stack([np.asarray(entry.pqf)[chosen], np.asarray(entry.qp)[chosen]], axis=1)
        lq, gt = random_crop(lq, gt, self.patch, rng)
        if self.augment is not None:
            lq, gt, flags = paired_augment(lq, gt, flags, self.augment, rng)
        return {
            "lq": to_tensor(np.ascontiguousarray(lq)),
            "gt": to_tensor(np.ascontiguousarray(gt)),
            "pqf": torch.from_numpy(flags[:, 0].astype(bool)),
            "qp": torch.from_numpy(flags[:, 1].astype(np.int64)),
            "video": entry.name,
        }


class PairedVideoDataset(Dataset):
    """Whole (LQ, GT) videos with their names, for per-video validation and testing.

    Items carry ``duplicates`` (indices of frames repeating their predecessor) so evaluation can
    enhance unique frames only and copy results back. With ``input_root`` (stage two) items also
    carry ``input``: stage one's output, the refiner's input; ``lq`` stays the compressed video.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "val",
        videos: Sequence[VideoEntry] | None = None,
        frame_source: str | None = None,
        max_frames: int | None = None,
        input_root: str | Path | None = None,
    ) -> None:
        self.root, self.manifest, self.videos = _open_split(root, videos, split)
        self.max_frames = max_frames
        self._stores = [_pair(self.root, self.manifest, e, frame_source) for e in self.videos]
        self._inputs = (
            [FrameStore(self.root, self.manifest, e, "lq", override_root=Path(input_root)) for e in self.videos]
            if input_root
            else None
        )

    def __len__(self) -> int:
        return len(self.videos)

    def frame_stores(self, entry: VideoEntry) -> tuple[FrameStore, FrameStore]:
        """The ``(LQ, GT)`` frame stores of one of this dataset's videos."""
        return self._stores[self.videos.index(entry)]

    def __getitem__(self, index: int) -> dict:
        entry = self.videos[index]
        n = entry.num_frames if self.max_frames is None else min(entry.num_frames, self.max_frames)
        lq_store, gt_store = self._stores[index]
        lq, gt = lq_store.load(range(n)), gt_store.load(range(n))
        if lq.shape != gt.shape:
            raise DataError(lq_store.folder, f"LQ frames {lq.shape} and GT frames {gt.shape} differ in size")
        item = {
            "lq": to_tensor(lq),
            "gt": to_tensor(gt),
            "pqf": torch.tensor(entry.pqf[:n], dtype=torch.bool),
            "qp": torch.tensor(entry.qp[:n], dtype=torch.int64),
            "duplicates": [d for d in entry.duplicates if d < n],
            "video": entry.name,
        }
        if self._inputs is not None:
            item["input"] = to_tensor(self._inputs[index].load(range(n)))  # stage one's output
        return item


def collate_videos(items: list[dict]) -> dict:
    """Batch of whole videos (batch size 1 in practice): tensors stacked, lists kept as lists."""
    out = {}
    for key in items[0]:
        values = [item[key] for item in items]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return out
