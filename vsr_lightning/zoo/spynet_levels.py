"""SPyNet trained one pyramid level at a time, as its authors trained it, on teacher flows of real pairs.

Regressing the teacher with the whole pyramid on small crops taught the coarse levels on images of 2x2
pixels, mostly zero padding; on whole frames they then invented motion that every finer level doubled
(``benchmarks/results/2026-12-02_spynet_teacher.md``). Here level ``l`` is trained alone, with the
coarser levels frozen: their flow is computed once on whole frames, and level ``l`` regresses the
teacher flow at its own scale on crops of its own images (whole images where they are smaller than a
crop), so every level sees what it sees at inference.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from vsr_lightning.models.flow_warp import flow_warp
from vsr_lightning.models.spynet import SpyNet

TeacherPair = tuple[Tensor, Tensor, Tensor]
"""(ref, supp, flow): (N,3,H,W) frames and the (N,2,H,W) teacher flow warping supp onto ref."""


@dataclass
class LevelSamples:
    """One chunk of frame pairs at one level: the level's 8-channel input, the coarser flow, the target, and
    the level's supp image (for the photometric loss)."""

    inputs: Tensor  # (N,8,h,w): ref, supp warped by ``up``, ``up``
    up: Tensor  # (N,2,h,w)
    target: Tensor  # (N,2,h,w)
    supp: Tensor  # (N,3,h,w)


def at_multiple_of_32(pair: TeacherPair) -> TeacherPair:
    """The pair resized as :meth:`SpyNet.forward` resizes its inputs, the flow scaled with it."""
    ref, supp, flow = pair
    h, w = ref.shape[-2:]
    h32, w32 = int(math.ceil(h / 32) * 32), int(math.ceil(w / 32) * 32)
    if (h32, w32) == (h, w):
        return pair

    def resize(x: Tensor) -> Tensor:
        return F.interpolate(x, size=(h32, w32), mode="bilinear", align_corners=False)

    scale = flow.new_tensor([w32 / w, h32 / h]).view(1, 2, 1, 1)
    return resize(ref), resize(supp), resize(flow) * scale


@torch.no_grad()
def level_samples(net: SpyNet, pairs: list[TeacherPair], level: int) -> list[LevelSamples]:
    """Inputs of ``level`` for every chunk, the coarser (frozen) levels run on whole frames."""
    out = []
    factor = 2 ** (net.num_levels - 1 - level)
    for ref, supp, teacher in pairs:
        refs, supps = net.image_pyramid(ref), net.image_pyramid(supp)
        flow = None
        for coarser in range(level):
            flow = net.refine(coarser, refs[coarser], supps[coarser], net.upsample_flow(flow, refs[coarser]))
        up = net.upsample_flow(flow, refs[level])
        warped = flow_warp(supps[level], up.permute(0, 2, 3, 1), padding_mode="border")
        target = F.avg_pool2d(teacher, factor) / factor if factor > 1 else teacher
        out.append(LevelSamples(torch.cat([refs[level], warped, up], dim=1), up, target, supps[level]))
    return out


def level_batch(samples: list[LevelSamples], batch: int, patch: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Random crops of one random chunk (whole images where smaller than ``patch``), flipped at random."""
    chunk = random.choice(samples)
    h, w = chunk.inputs.shape[-2:]
    ph, pw = min(patch, h), min(patch, w)
    crops = []
    for _ in range(batch):
        k, y, x = random.randrange(chunk.inputs.shape[0]), random.randrange(h - ph + 1), random.randrange(w - pw + 1)
        crop = [t[k, :, y : y + ph, x : x + pw] for t in (chunk.inputs, chunk.up, chunk.target, chunk.supp)]
        crops.append(_flip(*crop))
    inputs, up, target, supp = (torch.stack([c[i] for c in crops]) for i in range(4))
    return inputs, up, target, supp


# Channels of the level input that hold a flow's (x, y): the ``up`` flow after the two RGB images.
_FLOW_X = (6,)
_FLOW_Y = (7,)


def _flip(inputs: Tensor, up: Tensor, target: Tensor, supp: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A random horizontal and vertical flip; a flipped axis negates that flow component everywhere."""
    inputs, up, target = inputs.clone(), up.clone(), target.clone()
    for axis, component, channels in ((-1, 0, _FLOW_X), (-2, 1, _FLOW_Y)):
        if random.random() < 0.5:
            inputs, up, target, supp = (t.flip(axis) for t in (inputs, up, target, supp))
            inputs[list(channels)] *= -1
            up[component] *= -1
            target[component] *= -1
    return inputs, up, target, supp


def level_loss(flow: Tensor, target: Tensor, ref: Tensor, supp: Tensor, photometric: float, smooth: float) -> Tensor:
    """Endpoint error to the teacher, plus ``photometric`` times the Charbonnier warping error of the
    level's own (normalised) images and a first-order smoothness term."""
    loss = (flow - target).pow(2).sum(1).add(1e-6).sqrt().mean()
    if photometric > 0:
        warped = flow_warp(supp, flow.permute(0, 2, 3, 1), padding_mode="border")
        data = (ref - warped).pow(2).add(1e-6).sqrt().mean()
        grad = (flow[..., 1:] - flow[..., :-1]).abs().mean() + (flow[..., 1:, :] - flow[..., :-1, :]).abs().mean()
        loss = loss + photometric * (data + smooth * grad)
    return loss


def train_level(
    net: SpyNet,
    level: int,
    samples: list[LevelSamples],
    steps: int,
    batch: int,
    patch: int,
    lr: float,
    photometric: float = 0.0,
    smooth: float = 0.03,
    log_every: int = 100,
) -> None:
    """Level ``level`` regresses the teacher at its scale (:func:`level_loss`), the other levels untouched."""
    module = net.basic_module[level]
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    started, epe, epe_up = time.perf_counter(), 0.0, 0.0
    for step in range(1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        inputs, up, target, supp = level_batch(samples, batch, patch)
        flow = module(inputs) + up
        loss = level_loss(flow, target, inputs[:, :3], supp, photometric, smooth)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        opt.step()
        epe += (flow - target).detach().norm(dim=1).mean().item()
        epe_up += (up - target).norm(dim=1).mean().item()
        if step % log_every == 0:
            print(
                f"level {level} step {step}/{steps}: endpoint error {epe / log_every:.3f} px "
                f"(coarser levels alone {epe_up / log_every:.3f}) {time.perf_counter() - started:.0f}s",
                flush=True,
            )
            epe = epe_up = 0.0


@torch.no_grad()
def level_gain(net: SpyNet, level: int, samples: list[LevelSamples]) -> float:
    """How much the level cuts the endpoint error of passing the coarser flow through (whole images, 0-1)."""
    module = net.basic_module[level]
    err = err_up = 0.0
    for s in samples:
        err += (module(s.inputs) + s.up - s.target).norm(dim=1).sum().item()
        err_up += (s.up - s.target).norm(dim=1).sum().item()
    return 1 - err / err_up if err_up > 0 else 0.0


def switch_off(net: SpyNet, level: int) -> None:
    """The level then passes the coarser flow through unchanged (its last conv zero)."""
    torch.nn.init.zeros_(net.basic_module[level].basic_module[-1].weight)
    torch.nn.init.zeros_(net.basic_module[level].basic_module[-1].bias)


def with_levels_up_to(net: SpyNet, level: int) -> SpyNet:
    """A copy whose levels finer than ``level`` add nothing (their last conv zero): the flow so far."""
    out = copy.deepcopy(net)
    for finer in range(level + 1, net.num_levels):
        switch_off(out, finer)
    return out


def train_levels(
    net: SpyNet,
    pairs: list[TeacherPair],
    steps: int | Sequence[int],
    batch: int,
    patch: int,
    lr: float,
    photometric: float = 0.0,
    smooth: float = 0.03,
    first_level: int = 0,
    min_gain: float = float("-inf"),
    check_every: int = 7,
    after_level: Callable[[int, SpyNet], None] | None = None,
) -> SpyNet:
    """Levels ``first_level`` to the finest in turn, coarse to fine (``steps`` per level: one number or one
    per level); the coarser ones are kept as they are. ``after_level(level, net_so_far)`` follows each level trained.

    With ``min_gain``, every ``check_every``-th chunk of pairs is kept out of a level's training to check
    it: a level that cuts the endpoint error there by less than ``min_gain`` is switched off. Where the training footage
    moves too little at a scale for a level to learn anything, the level would otherwise only add motion
    of its own on unfamiliar footage, and every finer level doubles it."""
    per_level = [steps] * net.num_levels if isinstance(steps, int) else list(steps)
    if len(per_level) != net.num_levels:
        raise ValueError(f"steps: one number or {net.num_levels} (one per level), got {len(per_level)}")
    pairs = [at_multiple_of_32(p) for p in pairs]
    for level in range(first_level, net.num_levels):
        if per_level[level] > 0:
            samples = level_samples(net, pairs, level)
            checked = min_gain > float("-inf") and len(samples) >= 2 * check_every
            check = samples[::check_every] if checked else []
            train = [s for i, s in enumerate(samples) if not check or i % check_every]
            train_level(net, level, train, per_level[level], batch, patch, lr, photometric, smooth)
            if check:
                gain = level_gain(net, level, check)
                kept = gain >= min_gain
                print(
                    f"level {level}: {100 * gain:.1f} % less endpoint error on held-in pairs: "
                    f"{'kept' if kept else 'switched off'}",
                    flush=True,
                )
                if not kept:
                    switch_off(net, level)
            if after_level is not None:
                after_level(level, with_levels_up_to(net, level))
    return net
