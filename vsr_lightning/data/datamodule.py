"""LightningDataModule: weighted training sources (official + extra data), cleaning, duplicates, validation.

Training draws from several prepared datasets at once with given weights (the "extra training
data" arm adds a source); cleaning rules drop clips per source and write why; validation yields
whole videos, one per batch.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from vsr_lightning.data.cleaning import CleaningRule, Drop, apply_cleaning, check_stats_version, write_cleaning_report
from vsr_lightning.data.embedded import DUPLICATE_THRESHOLD as EMBEDDED_DUPLICATE_THRESHOLD
from vsr_lightning.data.embedded import ensure_embedded_dataset
from vsr_lightning.data.errors import DataError
from vsr_lightning.data.hevc import HevcConfig
from vsr_lightning.data.manifest import Manifest, VideoEntry
from vsr_lightning.data.paired_augment import AugmentConfig
from vsr_lightning.data.paired_datasets import PairedClipDataset, PairedVideoDataset, collate_videos
from vsr_lightning.data.resumable import (
    SALT_ITEM,
    ResumableDataLoader,
    load_resumable_state,
    resolve_seed,
    resumable_sampler,
    resumable_state,
    resume_point,
    sample_rng,
)

EMBEDDED = "embedded"
"""A source root of ``"embedded"`` means the embedded default dataset (built on first use)."""


@dataclass
class DataSource:
    """One prepared dataset (or part of it) used for training or validation."""

    root: str = EMBEDDED
    split: str = "train"
    include: list[str] | None = None
    """fnmatch patterns on video names (``["bikes_*"]``); all videos when empty."""
    exclude: list[str] = field(default_factory=list)
    weight: float = 1.0
    """Relative share of training samples drawn from this source."""


def select_videos(manifest: Manifest, source: DataSource) -> list[VideoEntry]:
    """Videos of the source's split that match its include patterns and none of its excludes."""
    videos = manifest.split(source.split)
    if source.include:
        videos = [v for v in videos if any(fnmatch.fnmatch(v.name, p) for p in source.include)]
    return [v for v in videos if not any(fnmatch.fnmatch(v.name, p) for p in source.exclude)]


class VideoDataModule(L.LightningDataModule):
    """Training windows from weighted sources; whole validation videos.

    Args:
        train_sources / val_source: :class:`DataSource` (or dicts with its fields).
        window, patch: training clip length (7 on a laptop, 30 on a cluster) and crop size.
        batch_size, num_workers: DataLoader settings for training.
        samples_per_epoch: training items per epoch, over all sources.
        drop_duplicates: train on unique frames only (the duplicate-removal arm).
        cleaning: rules applied to training sources; ``None`` or empty disables cleaning.
        cleaning_report: where to write the kept/dropped list (JSON), when cleaning is on.
        embedded_root / embedded_clip_frames / qp / duplicate_threshold: how the embedded default is built.
        val_max_frames: cap frames per validation video (quick checks).
        train_max_frames: train on the first frames of each video only (stage two: where outputs are cached).
        input_root: stage-one outputs (``<root>/<split>/<video>/NNN.png``) replacing LQ as the input (stage two).
        cache_frames: keep decoded training frames (PNG layout) in memory, in each loader worker.
    """

    def __init__(
        self,
        train_sources: Sequence[DataSource | dict] | None = None,
        val_source: DataSource | dict | None = None,
        window: int = 7,
        patch: int = 64,
        batch_size: int = 4,
        num_workers: int = 0,
        samples_per_epoch: int = 64,
        augment: AugmentConfig | dict | None = None,
        drop_duplicates: bool = False,
        cleaning: Sequence[CleaningRule] | None = None,
        cleaning_report: str | None = None,
        embedded_root: str | None = None,
        embedded_clip_frames: int = 25,
        qp: int = 37,
        duplicate_threshold: float = EMBEDDED_DUPLICATE_THRESHOLD,
        val_max_frames: int | None = None,
        frame_source: str | None = None,
        seed: int | None = None,
        input_root: str | None = None,
        train_max_frames: int | None = None,
        cache_frames: bool = False,
    ) -> None:
        super().__init__()
        self.cache_frames = cache_frames
        self.train_max_frames = train_max_frames
        self.input_root = input_root  # stage one's cached outputs: stage two trains and validates on them
        train_sources = train_sources if train_sources is not None else [DataSource()]
        val_source = val_source if val_source is not None else DataSource(split="val")
        self.train_sources = [s if isinstance(s, DataSource) else DataSource(**s) for s in train_sources]
        self.val_source = val_source if isinstance(val_source, DataSource) else DataSource(**val_source)
        self.window, self.patch, self.batch_size = window, patch, batch_size
        self.num_workers, self.samples_per_epoch = num_workers, samples_per_epoch
        if isinstance(augment, dict):
            augment = AugmentConfig(**augment)
        self.augment = augment if augment is not None else AugmentConfig()
        self.drop_duplicates = drop_duplicates
        self.cleaning = list(cleaning or [])
        self.cleaning_report = cleaning_report
        self.embedded_root, self.embedded_clip_frames = embedded_root, embedded_clip_frames
        self.qp, self.duplicate_threshold = qp, duplicate_threshold
        self.val_max_frames, self.frame_source, self.seed = val_max_frames, frame_source, seed
        self.data_seed = resolve_seed(seed)  # every training sample is a function of (data_seed, sample number)
        self._resume_batches: int | None = None
        self.dropped: list[Drop] = []
        self.manifests: dict[str, Manifest] = {}
        self.train_set: ConcatDataset | None = None
        self.val_set: PairedVideoDataset | None = None

    # -- preparation ---------------------------------------------------------------------------
    def resolve_root(self, root: str) -> Path:
        """Path of a source root, building the embedded default when asked for it."""
        if root == EMBEDDED:
            return ensure_embedded_dataset(
                self.embedded_root, self.embedded_clip_frames, HevcConfig(qp=self.qp), self.duplicate_threshold
            )
        path = Path(root).expanduser()
        if not path.is_dir():
            raise DataError(path, "dataset folder does not exist (build it with `python -m vsr_lightning.prepare`)")
        return path

    def prepare_data(self) -> None:
        for source in [*self.train_sources, self.val_source]:
            self.resolve_root(source.root)

    def _manifest(self, root: Path) -> Manifest:
        key = str(root)
        if key not in self.manifests:
            self.manifests[key] = Manifest.load(root)
        return self.manifests[key]

    @property
    def manifest_hash(self) -> str:
        """Hash of every manifest in use plus the selection: logged with each run."""
        digest = hashlib.sha256()
        for source in [*self.train_sources, self.val_source]:
            root = self.resolve_root(source.root)
            digest.update(self._manifest(root).content_hash.encode())
            digest.update(repr((source.split, source.include, source.exclude, source.weight)).encode())
        return digest.hexdigest()[:16]

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self._setup_train()
        if self.val_set is None:
            root = self.resolve_root(self.val_source.root)
            videos = select_videos(self._manifest(root), self.val_source)
            self.val_set = PairedVideoDataset(
                root, self.val_source.split, videos, self.frame_source, self.val_max_frames, self.input_root
            )

    def _setup_train(self) -> None:
        datasets, weights, self.dropped = [], [], []
        kept_total = 0
        for source in self.train_sources:
            root = self.resolve_root(source.root)
            videos = select_videos(self._manifest(root), source)
            if self.cleaning:
                check_stats_version(self._manifest(root), root)
                videos, dropped = apply_cleaning(videos, self.cleaning)
                self.dropped.extend(dropped)
            if not videos:
                raise DataError(root, f"no training videos left in source {source} (after cleaning)")
            kept_total += len(videos)
            ds = PairedClipDataset(
                root,
                videos,
                source.split,
                self.window,
                self.patch,
                self.augment,
                self.drop_duplicates,
                samples_per_epoch=len(videos),
                frame_source=self.frame_source,
                seed=self.seed,
                lq_root=self.input_root,
                max_frames=self.train_max_frames,
                cache_frames=self.cache_frames,
            )
            datasets.append(ds)
            weights.extend([source.weight / len(ds)] * len(ds))
        if self.cleaning and self.cleaning_report:
            write_cleaning_report(self.dropped, kept_total, Path(self.cleaning_report))
        self.train_set = ConcatDataset(datasets)
        self._weights = torch.tensor(weights, dtype=torch.double)

    # -- loaders -------------------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        """Sample numbers in order, each item drawn from ``(data_seed, number)``; resumes mid-epoch."""
        consumed = resume_point(self, self._resume_batches)
        sampler = resumable_sampler(self.samples_per_epoch, self.batch_size, self, consumed)
        self._resume_batches = None
        items = WeightedSamples(self.train_set, self._weights, self.data_seed)
        return ResumableDataLoader(
            items,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            drop_last=True,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1, shuffle=False, num_workers=0, collate_fn=collate_videos)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return resumable_state(self)

    def load_state_dict(self, state_dict: dict) -> None:
        self.data_seed, self._resume_batches = load_resumable_state(state_dict, self.data_seed)


class WeightedSamples(Dataset):
    """Sample number ``n`` -> one training item: the source clip drawn with the sources' weights, and
    the window, crop and augmentations, all from a generator seeded by ``(seed, n)`` alone."""

    def __init__(self, datasets: ConcatDataset, weights: torch.Tensor, seed: int) -> None:
        self.datasets, self.seed = datasets, seed
        p = weights.double().numpy()
        self._p = p / p.sum()

    def __len__(self) -> int:
        return len(self.datasets)

    def __getitem__(self, number: int) -> dict:
        rng = sample_rng(self.seed, SALT_ITEM, number)
        index = int(rng.choice(len(self._p), p=self._p))
        which = next(i for i, end in enumerate(self.datasets.cumulative_sizes) if index < end)
        local = index - (self.datasets.cumulative_sizes[which - 1] if which else 0)
        return self.datasets.datasets[which].sample(local, rng)
