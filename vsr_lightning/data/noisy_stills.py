"""Gaussian colour-denoising data for the refiner's pre-training (transfer learning).

SwinIR's public colour-denoising models are trained on clean photographs with added Gaussian noise;
the NTIRE 2022 winners started stage two from such a model (+0.04 dB, 66 h -> 29 h). Offline, the
framework runs that pre-training itself on scikit-image's photographs and training GT frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.resumable import (
    SALT_ITEM,
    ResumableDataLoader,
    epoch_permutation,
    load_resumable_state,
    resolve_seed,
    resumable_sampler,
    resumable_state,
    resume_point,
    sample_rng,
)
from vsr_lightning.data.video_io import read_png


class NoisyStillsDataset(Dataset):
    """Random crops of clean images with Gaussian noise of a random level in ``sigma_range`` (0-255 scale).

    Direct indexing draws from one running generator; :class:`NumberedStills` (the training loader)
    makes each item a function of ``(seed, sample number)`` instead, for exact resume.
    """

    def __init__(
        self,
        images: Sequence[Path],
        patch: int = 48,
        sigma_range: Sequence[float] = (0.0, 50.0),
        samples_per_epoch: int = 256,
        seed: int | None = None,
    ) -> None:
        if not images:
            raise ValueError("no images for the denoising pre-training")
        self.images = [read_png(Path(p)) for p in images]  # a few MB: kept in memory
        small = [str(p) for p, im in zip(images, self.images, strict=True) if min(im.shape[:2]) < patch]
        if small:
            raise DataError(small[0], f"smaller than the {patch} px pre-training patch")
        self.patch, self.sigma_range, self.samples = patch, tuple(sigma_range), samples_per_epoch
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int) -> dict:
        return self.sample(index, self._rng)

    def sample(self, index: int, rng: np.random.Generator) -> dict:
        """Item ``index`` (image ``index`` modulo their number) with crop, flips and noise drawn from ``rng``."""
        image = self.images[index % len(self.images)]
        h, w = image.shape[:2]
        y, x = rng.integers(0, h - self.patch + 1), rng.integers(0, w - self.patch + 1)
        crop = image[y : y + self.patch, x : x + self.patch]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.5:
            crop = crop.transpose(1, 0, 2)
        clean = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float() / 255
        sigma = rng.uniform(*self.sigma_range) / 255
        noise = torch.from_numpy(rng.standard_normal(clean.shape).astype(np.float32)) * sigma
        return {"lq": clean + noise, "gt": clean}


class NumberedStills(Dataset):
    """Sample number ``n`` of epoch ``e = n // samples``: item ``permutation(seed, e)[n % samples]`` (each item
    once per epoch, as a shuffled loader), its crop and noise drawn from ``(seed, n)`` alone."""

    def __init__(self, dataset: NoisyStillsDataset, seed: int) -> None:
        self.dataset, self.seed = dataset, seed
        self._order: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, number: int) -> dict:
        epoch, position = divmod(number, len(self.dataset))
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, epoch_permutation(self.seed, epoch, len(self.dataset)))
        index = int(self._order[1][position])
        return self.dataset.sample(index, sample_rng(self.seed, SALT_ITEM, number))


class NoisyStillsDataModule(L.LightningDataModule):
    """Training loader of :class:`NoisyStillsDataset` (no validation: the refiner is judged on video)."""

    def __init__(
        self,
        images: Sequence[Path],
        patch: int = 48,
        sigma_range: Sequence[float] = (0.0, 50.0),
        batch_size: int = 8,
        samples_per_epoch: int = 256,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.dataset = NoisyStillsDataset(images, patch, sigma_range, samples_per_epoch, seed)
        self.batch_size = batch_size
        self.data_seed = resolve_seed(seed)
        self._resume_batches: int | None = None

    def train_dataloader(self) -> DataLoader:
        sampler = resumable_sampler(len(self.dataset), self.batch_size, self, resume_point(self, self._resume_batches))
        self._resume_batches = None
        return ResumableDataLoader(
            NumberedStills(self.dataset, self.data_seed), batch_size=self.batch_size, sampler=sampler, drop_last=True
        )

    def state_dict(self) -> dict:
        return resumable_state(self)

    def load_state_dict(self, state_dict: dict) -> None:
        self.data_seed, self._resume_batches = load_resumable_state(state_dict, self.data_seed)
