"""SPyNet, flow warping and the flow-guided deformable alignment."""

import pytest
import torch
import torch.nn.functional as F

from vsr_lightning.models.deformable_alignment import SecondOrderDeformableAlignment
from vsr_lightning.models.flow_warp import flow_warp
from vsr_lightning.models.spynet import SpyNet

pytestmark = pytest.mark.usefixtures("single_thread")


def test_flow_warp_zero_flow_is_identity_and_integer_flow_shifts():
    x = torch.rand(2, 3, 9, 11)
    assert torch.allclose(flow_warp(x, torch.zeros(2, 9, 11, 2)), x, atol=1e-6)
    flow = torch.zeros(2, 9, 11, 2)
    flow[..., 0] = 2.0  # x (width) displacement
    flow[..., 1] = -1.0  # y (height) displacement
    out = flow_warp(x, flow)
    # out(y, x) = x(y - 1, x + 2); zero padding outside.
    assert torch.allclose(out[:, :, 1:, :-2], x[:, :, :-1, 2:], atol=1e-5)
    assert torch.all(out[:, :, 0] == 0) and torch.all(out[:, :, :, -2:] == 0)


def test_spynet_key_layout_matches_basicsr():
    keys = set(SpyNet().state_dict())
    for i in range(6):
        for j in (0, 2, 4, 6, 8):
            assert f"basic_module.{i}.basic_module.{j}.weight" in keys
            assert f"basic_module.{i}.basic_module.{j}.bias" in keys
    assert {"mean", "std"} <= keys
    assert len(keys) == 6 * 5 * 2 + 2


def test_spynet_any_size_and_zero_residual_gives_zero_flow():
    net = SpyNet()
    a, b = torch.rand(2, 3, 23, 41), torch.rand(2, 3, 23, 41)
    with torch.no_grad():
        flow = net(a, b)
    assert flow.shape == (2, 2, 23, 41) and torch.isfinite(flow).all()
    for m in net.basic_module:
        torch.nn.init.zeros_(m.basic_module[8].weight)
        torch.nn.init.zeros_(m.basic_module[8].bias)
    with torch.no_grad():
        assert torch.count_nonzero(net(a, b)) == 0


def _shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """x sampled at (p + (dx, dy)) with zero padding."""
    flow = torch.zeros(x.shape[0], x.shape[2], x.shape[3], 2)
    flow[..., 0], flow[..., 1] = float(dx), float(dy)
    return flow_warp(x, flow)


def test_alignment_offsets_follow_flow_per_candidate():
    """With the zero-initialised offset conv, the DCN is a conv (mask 0.5) over flow-shifted candidates:
    this checks the (x, y) -> (dy, dx) flip and that groups 0..7 get flow_1 and 8..15 get flow_2."""
    torch.manual_seed(0)
    c = 16
    dcn = SecondOrderDeformableAlignment(2 * c, c, deform_groups=16, max_residue_magnitude=10)
    a, b = torch.rand(1, c, 12, 14), torch.rand(1, c, 12, 14)
    flow_1 = torch.zeros(1, 2, 12, 14)
    flow_1[:, 0] = 1.0  # x
    flow_2 = torch.zeros(1, 2, 12, 14)
    flow_2[:, 1] = 2.0  # y
    out = dcn(torch.cat([a, b], 1), torch.rand(1, 3 * c, 12, 14), flow_1, flow_2)
    ref = F.conv2d(torch.cat([_shift(a, 1, 0), _shift(b, 0, 2)], 1), dcn.weight * 0.5, dcn.bias, padding=1)
    assert torch.allclose(out[..., 1:-4, 1:-3], ref[..., 1:-4, 1:-3], atol=1e-5)
    names = set(dict(dcn.named_parameters()))
    assert names == {"weight", "bias"} | {f"conv_offset.{i}.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias")}
    assert dcn.weight.shape == (c, 2 * c, 3, 3)
    assert dcn.conv_offset[6].out_channels == 27 * 16
