"""Backward warping of feature maps by optical flow."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def flow_warp(
    x: Tensor,
    flow: Tensor,
    interp_mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = True,
) -> Tensor:
    """Sample ``x`` (N,C,H,W) at ``p + flow(p)`` for every output pixel ``p``.

    ``flow`` is (N,H,W,2) in pixels with channel 0 = x (width) and 1 = y (height): the
    BasicSR/MMagic convention, so flows computed by official SPyNet weights plug in unchanged.
    Pixel coordinates are normalised with ``align_corners=True`` (pixel centres at -1 and 1).
    """
    if x.shape[-2:] != flow.shape[1:3] or flow.shape[-1] != 2:
        raise ValueError(
            f"flow must be (N,H,W,2) matching x spatially, got x {tuple(x.shape)}, flow {tuple(flow.shape)}"
        )
    _, _, h, w = x.shape
    grid_y, grid_x = torch.meshgrid(
        torch.arange(h, device=x.device, dtype=flow.dtype),
        torch.arange(w, device=x.device, dtype=flow.dtype),
        indexing="ij",
    )
    vx = grid_x + flow[..., 0]
    vy = grid_y + flow[..., 1]
    vx = 2.0 * vx / max(w - 1, 1) - 1.0
    vy = 2.0 * vy / max(h - 1, 1) - 1.0
    grid = torch.stack((vx, vy), dim=3).to(x.dtype)
    return F.grid_sample(x, grid, mode=interp_mode, padding_mode=padding_mode, align_corners=align_corners)
