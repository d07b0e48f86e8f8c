"""Plain residual blocks shared by BasicVSR++ (names follow BasicSR/MMagic so weights map 1:1)."""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import Tensor, nn

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def child_as(module: nn.Module, cls: type[ModuleT]) -> ModuleT:
    """``module`` narrowed to ``cls``: indexing a Sequential or ModuleDict is typed as a plain Module."""
    if not isinstance(module, cls):
        raise TypeError(f"expected a {cls.__name__}, got {type(module).__name__}")
    return module


class ResidualBlockNoBN(nn.Module):
    """conv-ReLU-conv with an identity shortcut; no BatchNorm because it hurts restoration fidelity."""

    def __init__(self, mid_channels: int = 64, res_scale: float = 1.0) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(mid_channels, mid_channels, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(mid_channels, mid_channels, 3, 1, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        # Small initial residuals keep deep stacks close to identity at the start of training.
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
            conv.weight.data.mul_(0.1)
            assert conv.bias is not None  # bias=True above
            nn.init.zeros_(conv.bias)

    def zero_residual_(self) -> None:
        """Make the block an exact identity (used when growing a trained trunk)."""
        assert self.conv2.bias is not None  # bias=True in __init__
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale


class ResidualBlocksWithInputConv(nn.Module):
    """Input conv (changes channel count) + LeakyReLU + a stack of residual blocks.

    Keys: ``main.0`` (conv), ``main.1`` (lrelu), ``main.2.<k>.conv{1,2}`` (blocks).
    """

    def __init__(self, in_channels: int, out_channels: int = 64, num_blocks: int = 30) -> None:
        super().__init__()
        blocks = nn.Sequential(*[ResidualBlockNoBN(out_channels) for _ in range(num_blocks)])
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=True),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            blocks,
        )

    @property
    def input_conv(self) -> nn.Conv2d:
        return child_as(self.main[0], nn.Conv2d)

    @property
    def blocks(self) -> nn.Sequential:
        return child_as(self.main[2], nn.Sequential)

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @torch.no_grad()
    def append_identity_blocks(self, num_new_blocks: int) -> list[ResidualBlockNoBN]:
        """Append blocks whose residual branch outputs zero, so the function is unchanged."""
        ref = self.input_conv.weight
        channels = ref.shape[0]
        new = []
        for _ in range(num_new_blocks):
            block = ResidualBlockNoBN(channels).to(device=ref.device, dtype=ref.dtype)
            block.zero_residual_()
            self.blocks.append(block)
            new.append(block)
        return new

    def forward(self, feat: Tensor) -> Tensor:
        return self.main(feat)
