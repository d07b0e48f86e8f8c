"""Level-by-level SPyNet training: every level sees whole-frame context and learns a known motion."""

from __future__ import annotations

import random

import pytest
import torch

from vsr_lightning.models.flow_warp import flow_warp
from vsr_lightning.models.spynet import SpyNet
from vsr_lightning.zoo import spynet_levels
from vsr_lightning.zoo.spynet_levels import at_multiple_of_32, level_samples, train_levels


def _texture(n: int = 2, h: int = 64, w: int = 96) -> torch.Tensor:
    torch.manual_seed(0)
    coarse = torch.rand(n, 3, h // 8, w // 8)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


def _shifted_pair(dx: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ref, supp, flow) where warping supp by flow gives ref: supp is ref moved right by dx pixels."""
    supp = _texture()
    flow = torch.zeros(supp.shape[0], 2, *supp.shape[-2:])
    flow[:, 0] = dx
    ref = flow_warp(supp, flow.permute(0, 2, 3, 1), padding_mode="border")
    return ref, supp, flow


def test_flipped_crops_negate_every_flow_channel(monkeypatch):
    """A flipped crop is still a sample of the flipped frames: its supp channels are the flipped supp warped by
    its (negated) coarser flow, and its target is the flipped frames' teacher flow."""
    net = SpyNet()
    for module in net.basic_module:
        torch.nn.init.normal_(module.basic_module[-1].weight, std=0.05)
    ref, supp, flow = _shifted_pair(1.5)
    level = 3
    sample = level_samples(net, [(ref, supp, flow)], level)[0]
    assert sample.up.abs().mean() > 0.01  # the coarser levels move, so a wrong sign would show
    draws = iter([0.0, 0.9])  # flip x, keep y
    monkeypatch.setattr(spynet_levels.random, "random", lambda: next(draws))
    inputs, up, target, _ = spynet_levels._flip(sample.inputs[0], sample.up[0], sample.target[0], sample.supp[0])
    supp_level = net.image_pyramid(supp.flip(-1))[level][:1]
    mirrored_flow = flow.flip(-1) * torch.tensor([-1.0, 1.0]).view(1, 2, 1, 1)
    assert torch.equal(inputs[6:], up)
    assert torch.allclose(
        inputs[3:6], flow_warp(supp_level, up[None].permute(0, 2, 3, 1), padding_mode="border")[0], atol=1e-5
    )
    assert torch.allclose(target, torch.nn.functional.avg_pool2d(mirrored_flow, 4)[0] / 4, atol=1e-6)


def test_odd_sizes_are_resized_like_spynet_does():
    ref, supp, flow = _shifted_pair(2.0)
    ref, supp, flow = (x[..., :50, :70] for x in (ref, supp, flow))
    r, s, f = at_multiple_of_32((ref, supp, flow))
    assert r.shape[-2:] == (64, 96) and s.shape == r.shape
    assert torch.allclose(f[:, 0], torch.full_like(f[:, 0], 2.0 * 96 / 70), atol=1e-4)


@pytest.mark.parametrize("photometric", [0.0, 1.0])
def test_levels_learn_a_translation_and_report_each_level(photometric):
    random.seed(0)
    torch.manual_seed(0)
    net = SpyNet()
    ref, supp, flow = _shifted_pair(-1.0)
    with torch.no_grad():
        before = (net(ref, supp) - flow).norm(dim=1).mean().item()
    seen = []
    train_levels(
        net,
        [(ref, supp, flow)],
        steps=30,
        batch=2,
        patch=32,
        lr=1e-3,
        photometric=photometric,
        after_level=lambda level, so_far: seen.append(level),
    )
    with torch.no_grad():
        after = (net(ref, supp) - flow).norm(dim=1).mean().item()
    assert seen == list(range(net.num_levels))
    assert after < 0.5 * before


def test_levels_that_learn_nothing_on_held_in_pairs_are_switched_off():
    """Static footage: no level can cut the error of zero flow, so every level ends switched off (exact zero)."""
    torch.manual_seed(0)
    net = SpyNet()
    for module in net.basic_module:  # start from levels that move, as after phase 1
        torch.nn.init.normal_(module.basic_module[-1].weight, std=0.05)
    frames = _texture(n=1, h=32, w=32)
    static = [(frames, frames.clone(), torch.zeros(1, 2, 32, 32)) for _ in range(14)]
    train_levels(net, static, steps=2, batch=1, patch=32, lr=1e-4, min_gain=0.05, check_every=7)
    assert net.predicts_zero()
