"""SPyNet optical flow (Ranjan & Black, 2017), the flow estimator inside BasicVSR++."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsr_lightning.models.flow_warp import flow_warp

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class SpyNetBasicModule(nn.Module):
    """One pyramid level: 5 convs 7x7 (8->32->64->32->16->2), ReLU between, predicting a flow residual.

    Keys ``basic_module.{0,2,4,6,8}`` as in BasicSR (ReLUs occupy the odd indices).
    """

    def __init__(self) -> None:
        super().__init__()
        chans = (8, 32, 64, 32, 16, 2)
        layers: list[nn.Module] = []
        for i in range(5):
            layers.append(nn.Conv2d(chans[i], chans[i + 1], 7, 1, 3))
            if i < 4:
                layers.append(nn.ReLU(inplace=False))
        self.basic_module = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.basic_module(x)


class SpyNet(nn.Module):
    """Coarse-to-fine flow over a 6-level pyramid.

    ``forward(ref, supp)`` returns the (N,2,H,W) flow, (x, y) in pixels, that warps ``supp`` onto ``ref``
    via :func:`flow_warp`. Inputs are RGB in [0, 1]; any size works (resized internally to a multiple of 32).
    """

    num_levels = 6

    def __init__(self, load_path: str | None = None) -> None:
        super().__init__()
        self.basic_module = nn.ModuleList([SpyNetBasicModule() for _ in range(self.num_levels)])
        # Persistent buffers because official checkpoints contain them (``spynet.mean``/``spynet.std``).
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))
        if load_path is not None:
            from vsr_lightning.models.spynet_weights import load_spynet_weights

            load_spynet_weights(self, load_path)
        else:
            # No pretrained flow: He initialisation keeps the activations at unit scale through the
            # 7x7 ReLU stack (PyTorch's default shrinks them about 40x by the last conv, and training
            # without ground-truth flow then barely moves), and each level's last conv starts at
            # zero, so the flow starts exactly at zero.
            for module in self.basic_module:
                for conv in module.basic_module[:-1:2]:
                    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                    nn.init.zeros_(conv.bias)
                last = module.basic_module[-1]
                nn.init.zeros_(last.weight)
                nn.init.zeros_(last.bias)

    def predicts_zero(self) -> bool:
        """True when every level's last convolution is zero: the flow is then exactly zero for any input.

        An untrained SPyNet starts that way; while it is also frozen, callers may skip its forward pass.
        """
        return all(not m.basic_module[-1].weight.any() and not m.basic_module[-1].bias.any() for m in self.basic_module)

    def image_pyramid(self, x: Tensor) -> list[Tensor]:
        """The normalised input at every level, coarse to fine (each level half the size of the next)."""
        levels = [(x - self.mean) / self.std]
        for _ in range(self.num_levels - 1):
            levels.insert(0, F.avg_pool2d(levels[0], kernel_size=2, stride=2, count_include_pad=False))
        return levels

    @staticmethod
    def upsample_flow(flow: Tensor | None, like: Tensor) -> Tensor:
        """The coarser level's flow at ``like``'s size (in that level's pixels); zeros at the coarsest level."""
        if flow is None:
            # The official code upsamples an all-zero flow of half size; starting from zeros directly
            # is identical and also works when the coarsest level is 1 pixel.
            return like.new_zeros(like.shape[0], 2, like.shape[2], like.shape[3])
        up = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
        if up.shape[2] != like.shape[2]:
            up = F.pad(up, [0, 0, 0, 1], mode="replicate")
        if up.shape[3] != like.shape[3]:
            up = F.pad(up, [0, 1, 0, 0], mode="replicate")
        return up

    def refine(self, level: int, ref: Tensor, supp: Tensor, up: Tensor) -> Tensor:
        """One level's flow: its residual on top of the upsampled coarser flow ``up``."""
        warped = flow_warp(supp, up.permute(0, 2, 3, 1), padding_mode="border")
        return self.basic_module[level](torch.cat([ref, warped, up], dim=1)) + up

    def _process(self, ref: Tensor, supp: Tensor, level_flows: list[Tensor] | None = None) -> Tensor:
        """The finest flow; ``level_flows``, when given, collects every level's flow (unsupervised training)."""
        refs, supps = self.image_pyramid(ref), self.image_pyramid(supp)
        flow = None
        for level in range(self.num_levels):
            flow = self.refine(level, refs[level], supps[level], self.upsample_flow(flow, refs[level]))
            if level_flows is not None:
                level_flows.append(flow)
        assert flow is not None
        return flow

    def forward(self, ref: Tensor, supp: Tensor) -> Tensor:
        if ref.shape != supp.shape:
            raise ValueError(f"ref and supp shapes differ: {tuple(ref.shape)} vs {tuple(supp.shape)}")
        h, w = ref.shape[-2:]
        h32 = int(math.ceil(h / 32.0) * 32)
        w32 = int(math.ceil(w / 32.0) * 32)
        if (h32, w32) != (h, w):
            ref = F.interpolate(ref, size=(h32, w32), mode="bilinear", align_corners=False)
            supp = F.interpolate(supp, size=(h32, w32), mode="bilinear", align_corners=False)
        flow = self._process(ref, supp)
        if (h32, w32) != (h, w):
            flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
            scale = flow.new_tensor([w / w32, h / h32]).view(1, 2, 1, 1)
            flow = flow * scale
        return flow
