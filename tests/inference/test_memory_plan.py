"""The memory plan: the largest tiles whose estimated working set fits the budget, on the CPU and on CUDA."""

import pytest
import torch

from vsr_lightning.inference import memory_plan
from vsr_lightning.inference.memory_plan import choose_tiles, plan_memory, plan_tile
from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.swinir import swinir_m, swinir_small


def test_plan_tile_picks_the_largest_tile_within_budget():
    def cost(h: int, w: int) -> int:
        return 100 * h * w

    assert plan_tile(cost, 120, 200, budget=100 * 120 * 200) is None  # whole frames fit
    tile = plan_tile(cost, 120, 200, budget=100 * 90 * 90, multiple=8)
    assert tile is not None and tile % 8 == 0
    assert cost(min(tile, 120), min(tile, 200)) <= 100 * 90 * 90 < cost(min(tile + 8, 120), tile + 8)
    with pytest.raises(ValueError, match="32x32 tile needs"):
        plan_tile(cost, 120, 200, budget=100 * 16 * 16)


def test_memory_estimates_grow_with_window_and_width():
    tiny = BasicVSRPlusPlus(mid_channels=16, num_blocks=1, num_reconstruction_blocks=2, hr_channels=16)
    wide = BasicVSRPlusPlus(mid_channels=64, num_blocks=1, num_reconstruction_blocks=1)
    assert tiny.inference_bytes(8, 64, 64) < tiny.inference_bytes(16, 64, 64) < tiny.inference_bytes(16, 128, 64)
    assert wide.inference_bytes(8, 64, 64) > 3 * tiny.inference_bytes(8, 64, 64)
    small = swinir_small()
    assert small.inference_bytes(2, 64, 64) == 2 * small.inference_bytes(1, 64, 64) > 0


def test_1080p_plan_tiles_both_stages_within_four_gib(monkeypatch):
    """The paper-size models cannot hold a 1080p chunk (or one SwinIR-M frame) at once: both get tiles."""
    monkeypatch.setattr(memory_plan, "resident_bytes", lambda: 600 * 2**20)
    net1 = BasicVSRPlusPlus(mid_channels=64, num_blocks=7, num_reconstruction_blocks=5)
    net2 = swinir_m()
    plan = plan_memory(net1, net2, 1920, 1080, chunk=32, overlap=4, budget_gib=4.0)
    assert plan.stage1_tile is not None and plan.stage2_tile is not None and plan.stage2_tile % 8 == 0
    assert net1.inference_bytes(32, 1080, 1920) > 4 * 2**30 and net2.inference_bytes(1, 1080, 1920) > 4 * 2**30
    for bytes_used in (
        net1.inference_bytes(32, plan.stage1_tile, plan.stage1_tile),
        net2.inference_bytes(1, plan.stage2_tile, plan.stage2_tile),
    ):
        assert plan.fixed_bytes + bytes_used <= 4 * 2**30


def test_cuda_plan_budgets_device_memory_not_the_host_stream(monkeypatch):
    """On CUDA the networks' working set is on the device: host memory and the 8-bit stream do not count."""
    monkeypatch.setattr(memory_plan, "resident_bytes", lambda: 2**30)  # the host process
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 50 * 2**20)  # the weights
    net = BasicVSRPlusPlus(mid_channels=64, num_blocks=7, num_reconstruction_blocks=5)
    on_cpu = plan_memory(net, None, 1920, 1080, chunk=32, overlap=4, budget_gib=6.0)
    on_cuda = plan_memory(net, None, 1920, 1080, chunk=32, overlap=4, budget_gib=6.0, device="cuda")
    assert on_cuda.fixed_bytes == 50 * 2**20 and on_cpu.fixed_bytes > 2**30 + 32 * 1920 * 1080 * 12  # + float chunk
    assert on_cuda.stage1_tile > on_cpu.stage1_tile  # more of the budget is left for the model
    assert on_cuda.fixed_bytes + net.inference_bytes(32, on_cuda.stage1_tile, on_cuda.stage1_tile) <= 4.5 * 2**30


def test_tile_choice_fixed_none_or_planned():
    def never():
        raise AssertionError("planned although the size was given")

    assert choose_tiles(64, never) == (64, 64, "64x64 tiles", False)
    assert choose_tiles(None, never) == (None, None, "whole frames", False)
    with pytest.raises(ValueError, match="tile must be an integer, None or 'auto', got 'big'"):
        choose_tiles("big", never)
    plan = memory_plan.MemoryPlan(96, None, True, 3 * 2**30, 2**30)
    assert choose_tiles("auto", lambda: plan) == (96, None, plan.describe(), True)
    assert (
        plan.describe()
        == "memory plan: 3.0 GiB planned, 1.00 GiB fixed; stage one on 96x96 tiles, stage two on whole frames"
    )
