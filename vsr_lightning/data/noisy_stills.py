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
from vsr_lightning.data.video_io import read_png


class NoisyStillsDataset(Dataset):
    """Random crops of clean images with Gaussian noise of a random level in ``sigma_range`` (0-255 scale)."""

    def __init__(self, images: Sequence[Path], patch: int = 48, sigma_range: Sequence[float] = (0.0, 50.0),
                 samples_per_epoch: int = 256, seed: int | None = None) -> None:
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
        image = self.images[index % len(self.images)]
        h, w = image.shape[:2]
        y, x = self._rng.integers(0, h - self.patch + 1), self._rng.integers(0, w - self.patch + 1)
        crop = image[y : y + self.patch, x : x + self.patch]
        if self._rng.random() < 0.5:
            crop = crop[:, ::-1]
        if self._rng.random() < 0.5:
            crop = crop.transpose(1, 0, 2)
        clean = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float() / 255
        sigma = self._rng.uniform(*self.sigma_range) / 255
        noise = torch.from_numpy(self._rng.standard_normal(clean.shape).astype(np.float32)) * sigma
        return {"lq": clean + noise, "gt": clean}


class NoisyStillsDataModule(L.LightningDataModule):
    """Training loader of :class:`NoisyStillsDataset` (no validation: the refiner is judged on video)."""

    def __init__(self, images: Sequence[Path], patch: int = 48, sigma_range: Sequence[float] = (0.0, 50.0),
                 batch_size: int = 8, samples_per_epoch: int = 256, seed: int | None = None) -> None:
        super().__init__()
        self.dataset = NoisyStillsDataset(images, patch, sigma_range, samples_per_epoch, seed)
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=True, drop_last=True)
