"""Pixel losses of the recipe: Charbonnier first, then MSE for the fine-tuning phase."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CharbonnierLoss(nn.Module):
    """Mean of ``sqrt((x - y)^2 + eps^2)``: an L1 that is smooth at zero (BasicVSR++'s loss)."""

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return torch.sqrt((pred - target) ** 2 + self.eps**2).mean()


def make_loss(name: str) -> nn.Module:
    """``"charbonnier"`` or ``"mse"``."""
    if name == "charbonnier":
        return CharbonnierLoss()
    if name == "mse":
        return nn.MSELoss()
    raise ValueError(f"loss must be 'charbonnier' or 'mse', got {name!r}")
