"""Augmentations applied identically to the compressed (LQ) and original (GT) clips.

Flips, transposition and temporal reversal are exact permutations of pixels and frames, so they
never blur the pairing; random crops take the same window from both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations a training dataset applies (each with probability 0.5)."""

    hflip: bool = True
    vflip: bool = True
    transpose: bool = True
    reverse: bool = True


def random_crop(lq: np.ndarray, gt: np.ndarray, patch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Same ``patch x patch`` window of ``(T, H, W, C)`` LQ and GT (whole frames when ``patch <= 0``)."""
    if patch <= 0:
        return lq, gt
    h, w = lq.shape[1:3]
    if h < patch or w < patch:
        raise ValueError(f"patch {patch} is larger than the {w}x{h} frames")
    y, x = int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1))
    return lq[:, y : y + patch, x : x + patch], gt[:, y : y + patch, x : x + patch]


def paired_augment(
    lq: np.ndarray, gt: np.ndarray, flags: np.ndarray, config: AugmentConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply one random draw of the enabled augmentations to ``(T, H, W, C)`` LQ and GT.

    ``flags`` is any per-frame array (PQF flags, QPs) that must follow temporal reversal.
    """
    if config.hflip and rng.random() < 0.5:
        lq, gt = lq[:, :, ::-1], gt[:, :, ::-1]
    if config.vflip and rng.random() < 0.5:
        lq, gt = lq[:, ::-1], gt[:, ::-1]
    if config.transpose and rng.random() < 0.5:
        lq, gt = lq.transpose(0, 2, 1, 3), gt.transpose(0, 2, 1, 3)
    if config.reverse and rng.random() < 0.5:
        lq, gt, flags = lq[::-1], gt[::-1], flags[::-1]
    return np.ascontiguousarray(lq), np.ascontiguousarray(gt), np.ascontiguousarray(flags)
