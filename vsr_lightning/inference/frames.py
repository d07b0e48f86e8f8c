"""8-bit frames (H,W,3) and float tensors (3,H,W) in [0,1]: the one conversion each way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


def to_tensor(frames: Sequence[np.ndarray]) -> Tensor:
    """(T,H,W,3) uint8 -> (T,3,H,W) float32 in [0,1], the conversion the in-memory path uses too."""
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous().float() / 255.0


def to_uint8(frame: Tensor) -> np.ndarray:
    """(3,H,W) float -> (H,W,3) uint8, rounding like saving a PNG."""
    return frame.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def unit_float(x: Tensor) -> Tensor:
    """8-bit frames to float in [0,1] (per tile, so a chunk stays 8-bit in memory); float frames as they are."""
    return x.contiguous().float() / 255.0 if x.dtype == torch.uint8 else x
