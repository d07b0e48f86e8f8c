"""BasicVSR++ stage-one model: shapes, PQF propagation, progressive growth, training steps."""

import pytest
import torch

from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.pqf import fixed_period_pqf, second_order_sources

pytestmark = pytest.mark.usefixtures("single_thread")


def _tiny(propagation: str = "second_order", **kw) -> BasicVSRPlusPlus:
    torch.manual_seed(0)
    model = BasicVSRPlusPlus(
        mid_channels=8, num_blocks=1, num_reconstruction_blocks=2, propagation=propagation, deform_groups=8, **kw
    )
    # Non-zero offset residuals so the alignment path really depends on its inputs.
    for dcn in model.deform_align.values():
        torch.nn.init.normal_(dcn.conv_offset[6].weight, std=0.01)
    torch.nn.init.normal_(model.conv_last.weight, std=0.02)  # zero-initialised residual: make it visible
    return model


@pytest.mark.parametrize("propagation", ["second_order", "pqf"])
def test_odd_size_output_shape(propagation):
    model = _tiny(propagation)
    x = torch.rand(2, 5, 3, 37, 45)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_single_frame_clip():
    with torch.no_grad():
        y = _tiny()(torch.rand(1, 1, 3, 16, 20))
    assert y.shape == (1, 1, 3, 16, 20)


def test_official_key_names():
    keys = set(BasicVSRPlusPlus(mid_channels=16, num_blocks=1).state_dict())
    for expected in [
        "spynet.basic_module.5.basic_module.8.weight",
        "feat_extract.0.weight",
        "feat_extract.2.weight",
        "feat_extract.4.main.0.weight",
        "feat_extract.4.main.2.4.conv2.bias",
        "deform_align.forward_2.weight",
        "deform_align.backward_1.conv_offset.6.bias",
        "backbone.backward_1.main.0.weight",
        "backbone.forward_2.main.2.0.conv1.weight",
        "reconstruction.main.0.weight",
        "reconstruction.main.2.4.conv2.weight",
        "upconv1.weight",
        "upconv2.weight",
        "conv_hr.weight",
        "conv_last.bias",
    ]:
        assert expected in keys, expected
    m = BasicVSRPlusPlus(mid_channels=16, num_blocks=1)
    assert m.backbone["forward_2"].main[0].in_channels == 5 * 16
    assert m.reconstruction.main[0].in_channels == 5 * 16
    assert m.upconv2.out_channels == 256


def test_default_size_parameter_count():
    n = sum(p.numel() for p in BasicVSRPlusPlus().parameters())
    assert 7.0e6 < n < 7.6e6  # the paper's 7.3 M for 64 channels / 7 blocks


def test_second_order_sources_and_pqf_sources():
    assert second_order_sources(5, backward=False) == [[None], [None], [0], [1], [2]]
    assert second_order_sources(5, backward=True) == [[2], [3], [4], [None], [None]]
    flags = fixed_period_pqf(9, 4, batch=1)
    fwd = [s[0] for s in second_order_sources(9, False, flags)]
    bwd = [s[0] for s in second_order_sources(9, True, flags)]
    assert fwd == [None, None, 0, 0, 0, 0, 4, 4, 4]
    # Frame 1's second-order input is the next PQF (4) instead of the non-PQF 3.
    assert bwd == [4, 4, 4, 8, 8, 8, 8, None, None]
    # Without any PQF in reach, fall back to +-2.
    none = torch.zeros(1, 6, dtype=torch.bool)
    assert [s[0] for s in second_order_sources(6, False, none)] == [None, None, 0, 1, 2, 3]


def test_pqf_flags_equal_to_period_give_same_result_and_differ_from_second_order():
    model = _tiny("pqf", pqf_period=4)
    x = torch.rand(1, 7, 3, 16, 16)
    with torch.no_grad():
        by_period = model(x)
        by_flags = model(x, pqf=fixed_period_pqf(7, 4, batch=1))
        other = model(x, pqf=fixed_period_pqf(7, 3, batch=1))
        model.propagation = "second_order"
        second = model(x)
    assert torch.equal(by_period, by_flags)
    assert not torch.allclose(by_period, other, atol=1e-6)
    assert not torch.allclose(by_period, second, atol=1e-6)


def test_pqf_all_flags_at_distance_two_equals_second_order():
    """When every frame is a PQF, the nearest PQF two steps back is frame t-2: identical to BasicVSR++."""
    model = _tiny("pqf")
    x = torch.rand(1, 5, 3, 16, 16)
    with torch.no_grad():
        a = model(x, pqf=torch.ones(1, 5, dtype=torch.bool))
        model.propagation = "second_order"
        b = model(x)
    assert torch.equal(a, b)


def test_per_sample_pqf_flags_in_a_batch():
    model = _tiny("pqf")
    x = torch.rand(2, 6, 3, 16, 16)
    flags = torch.stack([fixed_period_pqf(6, 4), torch.roll(fixed_period_pqf(6, 4), 1)])
    with torch.no_grad():
        both = model(x, pqf=flags)
        first = model(x[:1], pqf=flags[:1])
        second = model(x[1:], pqf=flags[1:])
    assert torch.allclose(both[0], first[0], atol=1e-5)
    assert torch.allclose(both[1], second[0], atol=1e-5)


def test_grow_keeps_function_and_new_blocks_learn():
    model = _tiny("pqf")
    x, gt = torch.rand(1, 4, 3, 16, 16), torch.rand(1, 4, 3, 16, 16)
    with torch.no_grad():
        before = model(x)
    new = model.grow(10)
    assert model.num_reconstruction_blocks == 12
    assert "reconstruction.main.2.11.conv2.weight" in model.state_dict()
    with torch.no_grad():
        after = model(x)
    assert torch.allclose(before, after, atol=1e-6, rtol=0)

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = torch.mean((model(x) - gt) ** 2)
    loss.backward()
    for block in new:
        assert block.conv2.weight.grad is not None and block.conv2.weight.grad.abs().sum() > 0
    old = [b.conv1.weight.detach().clone() for b in new]
    opt.step()
    opt.zero_grad()
    torch.mean((model(x) - gt) ** 2).backward()
    opt.step()
    assert all(not torch.equal(o, b.conv1.weight) for o, b in zip(old, new, strict=True))


@pytest.mark.parametrize("propagation", ["second_order", "pqf"])
def test_one_training_step(propagation):
    model = _tiny(propagation)
    x = torch.rand(1, 4, 3, 16, 16)
    gt = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    losses = []
    for _ in range(2):
        loss = torch.sqrt((model(x) - gt) ** 2 + 1e-6).mean()  # Charbonnier
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    assert any(k.startswith("deform_align.") for k in changed)
    assert any(k.startswith("spynet.") for k in changed)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_bad_input_rejected():
    model = _tiny("pqf")
    with pytest.raises(ValueError):
        model(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError):
        model(torch.rand(1, 4, 3, 16, 16), pqf=torch.ones(1, 3, dtype=torch.bool))


def test_untrained_networks_are_the_identity():
    """Zero-initialised residual heads: short runs start at their input's PSNR, never below it."""
    from vsr_lightning.models.swinir import swinir_small

    x = torch.rand(1, 5, 3, 24, 24)
    with torch.no_grad():
        assert torch.allclose(BasicVSRPlusPlus(mid_channels=8, num_blocks=1, deform_groups=8)(x), x, atol=1e-6)
        assert torch.allclose(swinir_small(img_size=16)(x[0]), x[0], atol=1e-6)


@pytest.mark.slow  # bf16 convolutions fall back to a slow kernel on CPUs without bf16 instructions
def test_bf16_autocast_trains_and_stays_close_to_float32():
    """Mixed precision (trainer=gpu uses bf16): the deformable convolution runs in float32 inside autocast,
    since torchvision has no bf16 CPU kernel for it."""
    torch.manual_seed(0)
    model = BasicVSRPlusPlus(mid_channels=16, num_blocks=1, num_reconstruction_blocks=2, propagation="pqf")
    with torch.no_grad():  # leave the zero-initialised output head: make the residual non-trivial
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    x = torch.rand(1, 4, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert (ref - x).abs().mean() > 0.05  # the comparison below is not between two copies of the input
    assert (out.float() - ref).abs().mean() < 0.01
    out.float().mean().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_untrained_frozen_spynet_is_skipped_with_the_same_output(monkeypatch):
    """Zero-initialised and frozen, SPyNet computes an exact zero flow: the model does not run it."""
    from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus

    torch.manual_seed(0)
    net = BasicVSRPlusPlus(
        mid_channels=8, num_blocks=1, num_reconstruction_blocks=1, deform_groups=2, hr_channels=8
    ).eval()
    with torch.no_grad():
        net.conv_last.weight.normal_(0, 0.01)
    lqs = torch.rand(1, 3, 3, 32, 32)
    calls = []
    real_forward = net.spynet.forward
    monkeypatch.setattr(net.spynet, "forward", lambda a, b: calls.append(1) or real_forward(a, b))
    with torch.no_grad():
        skipped = net(lqs)
    assert not calls
    monkeypatch.setattr(net.spynet, "predicts_zero", lambda: False)
    with torch.no_grad():
        computed = net(lqs)
    assert calls
    assert torch.equal(skipped, computed)


def test_spynet_that_learns_is_run():
    from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus

    net = BasicVSRPlusPlus(mid_channels=8, num_blocks=1, num_reconstruction_blocks=1, deform_groups=2, hr_channels=8)
    assert not net._flow_is_constant_zero()  # gradients flow into SPyNet: it must run
    net.spynet.requires_grad_(False)
    assert net._flow_is_constant_zero()
    with torch.no_grad():
        net.spynet.basic_module[0].basic_module[-1].bias.fill_(0.1)
    assert not net._flow_is_constant_zero()
