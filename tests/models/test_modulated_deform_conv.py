"""The CPU deformable convolution equals torchvision's, forward and backward."""

import pytest
import torch
from torchvision.ops import deform_conv2d

from vsr_lightning.models.modulated_deform_conv import modulated_deform_conv2d

pytestmark = pytest.mark.usefixtures("single_thread")


def _inputs(h: int, w: int, c: int = 8, c_out: int = 6, groups: int = 2, k: int = 3, scale: float = 3.0):
    gen = torch.Generator().manual_seed(h * 100 + w)
    x = torch.randn(2, c, h, w, generator=gen)
    offset = scale * torch.randn(2, 2 * groups * k * k, h, w, generator=gen)  # reaches well outside the map
    mask = torch.rand(2, groups * k * k, h, w, generator=gen)
    weight = 0.1 * torch.randn(c_out, c, k, k, generator=gen)
    bias = torch.randn(c_out, generator=gen)
    return x, offset, weight, bias, mask


@pytest.mark.parametrize("h,w", [(9, 13), (5, 1), (1, 6), (16, 16)])
def test_forward_equals_torchvision(h, w):
    x, offset, weight, bias, mask = _inputs(h, w)
    ref = deform_conv2d(x, offset, weight, bias, stride=1, padding=1, mask=mask)
    got = modulated_deform_conv2d(x, offset, weight, bias, 1, mask)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_integer_offsets_sample_exact_pixels_and_5x5_kernels():
    x, offset, weight, bias, mask = _inputs(7, 8, k=5, scale=0.0)
    offset = torch.randint(-3, 4, offset.shape).float()
    ref = deform_conv2d(x, offset, weight, None, stride=1, padding=2, mask=mask)
    torch.testing.assert_close(modulated_deform_conv2d(x, offset, weight, None, 2, mask), ref, rtol=1e-5, atol=1e-5)


def test_gradients_equal_torchvision():
    tensors = _inputs(6, 7, scale=1.5)
    ours = [t.clone().requires_grad_() for t in tensors]
    theirs = [t.clone().requires_grad_() for t in tensors]
    x, offset, weight, bias, mask = ours
    modulated_deform_conv2d(x, offset, weight, bias, 1, mask).square().sum().backward()
    x, offset, weight, bias, mask = theirs
    deform_conv2d(x, offset, weight, bias, stride=1, padding=1, mask=mask).square().sum().backward()
    for name, a, b in zip(("x", "offset", "weight", "bias", "mask"), ours, theirs, strict=True):
        # bilinear weights are not differentiable on the pixel grid: compare away from integer offsets
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-3, msg=f"gradient of {name}")


def test_inference_mode_gives_the_same_result():
    x, offset, weight, bias, mask = _inputs(9, 10)
    expected = modulated_deform_conv2d(x, offset, weight, bias, 1, mask)
    with torch.inference_mode():
        torch.testing.assert_close(modulated_deform_conv2d(x, offset, weight, bias, 1, mask), expected)


def test_inconsistent_shapes_are_named():
    x, offset, weight, bias, mask = _inputs(6, 6)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        modulated_deform_conv2d(x, offset[:, :-2], weight, bias, 1, mask)
