"""Per-pair optimised flow: the photometric objective minimised directly, as a teacher for SPyNet.

Training SPyNet on the photometric loss alone moves slowly: a network update sees one noisy gradient per
crop. Minimising the same objective (a robust warping error plus a smoothness term) separately for each
frame pair, coarse to fine, finds a flow for real footage in a few hundred Adam steps, with no
ground-truth flow involved. SPyNet then regresses these flows, which is a dense, low-variance target.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vsr_lightning.models.flow_warp import flow_warp


def warp(supp: Tensor, flow: Tensor) -> Tensor:
    return flow_warp(supp, flow.permute(0, 2, 3, 1), padding_mode="border")


def photometric_objective(ref: Tensor, supp: Tensor, flow: Tensor, smooth: float) -> Tensor:
    """Charbonnier warping error plus ``smooth`` times the mean absolute flow gradient (per pair summed)."""
    data = ((ref - warp(supp, flow)).pow(2) + 1e-6).sqrt().mean(dim=(1, 2, 3))
    grad_x = (flow[..., 1:] - flow[..., :-1]).abs().mean(dim=(1, 2, 3))
    grad_y = (flow[..., 1:, :] - flow[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return (data + smooth * (grad_x + grad_y)).sum()


def optimised_flow(
    ref: Tensor,
    supp: Tensor,
    smooth: float = 0.03,
    iters: int = 150,
    factors: tuple[int, ...] = (4, 2, 1),
    lr: float = 0.05,
) -> Tensor:
    """(N,2,H,W) flow warping ``supp`` onto ``ref``, each pair of the batch optimised on its own.

    Every pyramid factor starts from the coarser result; the per-pair objectives are summed, so Adam's
    per-element steps keep the pairs independent."""
    flow: Tensor | None = None
    for factor in factors:
        r = F.avg_pool2d(ref, factor) if factor > 1 else ref
        s = F.avg_pool2d(supp, factor) if factor > 1 else supp
        if flow is None:
            start = r.new_zeros(r.shape[0], 2, *r.shape[-2:])
        else:
            scale = r.new_tensor([r.shape[-1] / flow.shape[-1], r.shape[-2] / flow.shape[-2]]).view(1, 2, 1, 1)
            start = F.interpolate(flow, size=r.shape[-2:], mode="bilinear", align_corners=False) * scale
        f = start.clone().requires_grad_(True)
        opt = torch.optim.Adam([f], lr=lr)
        with torch.enable_grad():
            for _ in range(iters):
                loss = photometric_objective(r, s, f, smooth)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        flow = f.detach()
    assert flow is not None
    return flow
