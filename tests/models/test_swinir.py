"""SwinIR stage-two model: shapes, official key names, size-independent loading, parameter count."""

import pytest
import torch

from vsr_lightning.models.loading import load_network_weights_into
from vsr_lightning.models.swinir import SwinIR, WindowAttention, swinir_m, swinir_small

pytestmark = pytest.mark.usefixtures("single_thread")


def test_swinir_m_parameter_count_and_official_keys():
    model = swinir_m()
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 11.5e6) / 11.5e6 < 0.05
    keys = set(model.state_dict())
    for k in [
        "conv_first.weight",
        "patch_embed.norm.weight",
        "norm.bias",
        "conv_after_body.weight",
        "conv_last.weight",
        "layers.5.conv.weight",
        "layers.0.residual_group.blocks.1.attn_mask",
        "layers.0.residual_group.blocks.0.attn.relative_position_index",
        "layers.5.residual_group.blocks.5.attn.relative_position_bias_table",
    ]:
        assert k in keys, k
    for part in ["norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2"]:
        assert f"layers.2.residual_group.blocks.3.{part}.weight" in keys
    assert "layers.0.residual_group.blocks.0.attn_mask" not in keys  # no mask without shift


def test_any_size_and_global_residual():
    torch.manual_seed(0)
    model = swinir_small().eval()
    torch.nn.init.normal_(model.conv_last.weight, std=0.02)  # zero-initialised residual: make it visible
    x = torch.rand(2, 3, 37, 45)
    with torch.no_grad():
        y = model(x)
        assert y.shape == x.shape and torch.isfinite(y).all()
        torch.nn.init.zeros_(model.conv_last.weight)
        torch.nn.init.zeros_(model.conv_last.bias)
        assert torch.allclose(model(x), x, atol=1e-6)  # output = input + conv_last(...)


def test_loads_weights_saved_at_another_img_size(tmp_path):
    torch.manual_seed(1)
    src = swinir_small(img_size=64).eval()
    torch.nn.init.normal_(src.conv_last.weight, std=0.02)
    path = tmp_path / "swinir_64.pth"
    torch.save({"params": src.state_dict()}, path)
    dst = swinir_small(img_size=32).eval()
    mask_key = "layers.0.residual_group.blocks.1.attn_mask"
    assert src.state_dict()[mask_key].shape != dst.state_dict()[mask_key].shape
    load_network_weights_into(dst, path)
    assert dst.state_dict()[mask_key].shape == (16, 64, 64)  # kept its own 32x32 mask
    x = torch.rand(1, 3, 64, 64)  # src uses its stored mask, dst builds one at run time
    x2 = torch.rand(1, 3, 32, 27)
    with torch.no_grad():
        assert torch.allclose(dst(x), src(x), atol=1e-5)
        assert torch.allclose(dst(x2), src(x2), atol=1e-5)


def test_window_attention_matches_explicit_softmax():
    torch.manual_seed(2)
    attn = WindowAttention(dim=8, window_size=4, num_heads=2)
    torch.nn.init.normal_(attn.relative_position_bias_table)
    x = torch.rand(6, 16, 8)
    mask = torch.zeros(3, 16, 16).masked_fill(torch.rand(3, 16, 16) > 0.7, -100.0)
    qkv = attn.qkv(x).reshape(6, 16, 3, 2, 4).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0] * attn.scale, qkv[1], qkv[2]
    bias = attn.relative_position_bias_table[attn.relative_position_index.view(-1)].view(16, 16, 2).permute(2, 0, 1)
    logits = (q @ k.transpose(-2, -1) + bias).view(2, 3, 2, 16, 16) + mask.unsqueeze(1)
    ref = attn.proj((logits.view(6, 2, 16, 16).softmax(-1) @ v).transpose(1, 2).reshape(6, 16, 8))
    assert torch.allclose(attn(x, mask), ref, atol=1e-5)


def test_swinir_trains_a_step():
    torch.manual_seed(3)
    model = SwinIR(img_size=16, embed_dim=16, depths=(2,), num_heads=(2,), window_size=4)
    x = torch.rand(2, 3, 16, 16)
    loss = ((model(x) - x.flip(-1)) ** 2).mean()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
