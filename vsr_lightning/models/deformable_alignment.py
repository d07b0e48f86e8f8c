"""Second-order flow-guided deformable alignment (BasicVSR++).

DCN offsets are the optical flow plus a learned, bounded residual: flow gives a stable base so the
offsets do not diverge (the EDVR failure mode), the residual lets the DCN correct flow errors.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from vsr_lightning.models.modulated_deform_conv import modulated_deform_conv2d
from vsr_lightning.models.residual_blocks import child_as


class SecondOrderDeformableAlignment(nn.Module):
    """Modulated DCN over two candidates [feat_n1, feat_n2] (2C channels) producing C channels.

    Keys match BasicSR/MMagic: ``weight`` (C, 2C, 3, 3), ``bias``, ``conv_offset.{0,2,4,6}``.
    The first ``deform_groups/2`` groups read the n-1 candidate and get ``flow_1`` as base offset, the
    others read the n-2 candidate and get ``flow_2``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 1,
        deform_groups: int = 16,
        max_residue_magnitude: float = 10.0,
    ) -> None:
        super().__init__()
        if in_channels % deform_groups or deform_groups % 2:
            raise ValueError(f"in_channels={in_channels} must be divisible by an even deform_groups ({deform_groups})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.padding = padding
        self.deform_groups = deform_groups
        self.max_residue_magnitude = max_residue_magnitude
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        k2 = kernel_size * kernel_size
        self.conv_offset = nn.Sequential(
            nn.Conv2d(3 * out_channels + 4, out_channels, 3, 1, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(out_channels, 3 * k2 * deform_groups, 3, 1, 1),
        )
        stdv = 1.0 / math.sqrt(in_channels * k2)
        nn.init.uniform_(self.weight, -stdv, stdv)
        # Zero residual and mask logits at start: offsets equal the flow, masks 0.5.
        offset_out = child_as(self.conv_offset[-1], nn.Conv2d)
        assert offset_out.bias is not None  # Conv2d's default bias=True
        nn.init.zeros_(offset_out.weight)
        nn.init.zeros_(offset_out.bias)

    def forward(self, x: Tensor, extra_feat: Tensor, flow_1: Tensor, flow_2: Tensor) -> Tensor:
        """x: (N,2C,H,W) candidates; extra_feat: (N,3C,H,W) [warped n1, current, warped n2]; flows (N,2,H,W)."""
        out = self.conv_offset(torch.cat([extra_feat, flow_1, flow_2], dim=1))
        o1, o2, mask = torch.chunk(out, 3, dim=1)
        offset = self.max_residue_magnitude * torch.tanh(torch.cat((o1, o2), dim=1))
        offset_1, offset_2 = torch.chunk(offset, 2, dim=1)
        # DCN wants (dy, dx) pairs per group and kernel position; flows are (x, y).
        reps = offset_1.shape[1] // 2
        offset_1 = offset_1 + flow_1.flip(1).repeat(1, reps, 1, 1)
        offset_2 = offset_2 + flow_2.flip(1).repeat(1, reps, 1, 1)
        offset = torch.cat([offset_1, offset_2], dim=1)
        mask = torch.sigmoid(mask)
        return modulated_deform_conv2d(x, offset, self.weight, self.bias, self.padding, mask)
