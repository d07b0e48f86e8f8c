"""x8 test-time augmentation, spatial tiles and temporal chunks of the one engine (``enhance_video`` runs both)."""

import pytest
import torch
import torch.nn.functional as F

from vsr_lightning.inference.tiling import enhance_tiles, framewise, window_weights
from vsr_lightning.inference.tta import tta_x8
from vsr_lightning.inference.video import EnhanceOptions, enhance_video
from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.swinir import swinir_small

pytestmark = pytest.mark.usefixtures("single_thread")


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Symmetric 3x3 blur with reflect padding: commutes with flips and transposition."""
    k = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    c = x.shape[-3]
    flat = x.reshape(-1, c, *x.shape[-2:])
    out = F.conv2d(F.pad(flat, [1, 1, 1, 1], mode="reflect"), k.expand(c, 1, 3, 3), groups=c)
    return out.reshape(x.shape)


def test_tta_of_equivariant_functions_is_the_function():
    img = torch.rand(2, 3, 9, 13)
    vid = torch.rand(1, 4, 3, 9, 13)
    assert torch.allclose(tta_x8(lambda t: t, img), img, atol=1e-6)
    assert torch.allclose(tta_x8(_blur, img), _blur(img), atol=1e-6)
    assert torch.allclose(tta_x8(_blur, vid, temporal_reversal=True), _blur(vid), atol=1e-6)
    assert torch.allclose(tta_x8(torch.sigmoid, vid), torch.sigmoid(vid), atol=1e-6)


def test_tta_of_random_conv_differs_and_is_equivariant():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        y = tta_x8(conv, x)
        assert not torch.allclose(y, conv(x), atol=1e-4)
        # The averaged model is itself flip-equivariant.
        assert torch.allclose(tta_x8(conv, x.flip(-1)), y.flip(-1), atol=1e-5)
        assert torch.allclose(tta_x8(conv, x.transpose(-1, -2)), y.transpose(-1, -2), atol=1e-5)


def test_temporal_reversal_reverses_pqf_kwargs():
    def fn(x, pqf):  # weights each frame by its flag: wrong unless flags travel with the frames
        return x * pqf[:, :, None, None, None].float()

    vid = torch.rand(1, 5, 3, 4, 6)
    flags = torch.tensor([[True, False, False, False, True]]) | torch.tensor([[False, True, False, False, False]])
    out = tta_x8(fn, vid, temporal_reversal=True, pqf=flags)
    assert torch.allclose(out, fn(vid, flags), atol=1e-6)


def _tiny_vsr() -> BasicVSRPlusPlus:
    torch.manual_seed(0)
    model = BasicVSRPlusPlus(
        mid_channels=8, num_blocks=1, num_reconstruction_blocks=1, propagation="pqf", deform_groups=8
    ).eval()
    torch.nn.init.normal_(model.conv_last.weight, std=0.02)  # zero-initialised residual: make it visible
    return model


def test_chunk_covering_clip_equals_unchunked_and_overlap_is_finite():
    model = _tiny_vsr()
    lq = torch.rand(6, 3, 16, 20)
    flags = torch.tensor([True, False, False, False, True, False])
    with torch.no_grad():
        ref = model(lq.unsqueeze(0), pqf=flags.unsqueeze(0))[0]
    out = enhance_video(model, lq, flags, options=EnhanceOptions(chunk=6, chunk_overlap=0))
    assert torch.equal(out, ref)
    out = enhance_video(model, lq, flags, options=EnhanceOptions(chunk=4, chunk_overlap=2))
    assert out.shape == lq.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert (out - ref).abs().mean() < 0.1  # same model, different temporal context


@pytest.mark.parametrize("length,size,overlap", [(82, 32, 4), (47, 6, 2), (37, 18, 6), (9, 4, 2), (10, 4, 0)])
def test_window_weights_sum_to_one_and_the_last_window_only_takes_over_the_ramp(length, size, overlap):
    """Sums are exactly 1 while 2 x overlap <= size (beyond that ramps of non-neighbours meet; callers divide)."""
    windows = window_weights(length, size, overlap)
    total = torch.zeros(length)
    for start, w in windows:
        assert w.shape == (size,) and (w >= 0).all() and (w <= 1).all()
        total[start : start + size] += w
    assert torch.allclose(total, torch.ones(length), atol=1e-6)
    if len(windows) > 1:
        (before, _), (last, w_last) = windows[-2], windows[-1]
        takeover = before + size - overlap - last  # where the window before the last starts ramping down
        assert (w_last[:takeover] == 0).all() and (w_last[takeover:] > 0).all()


def test_tiles_and_chunks_exact_for_pointwise_model():
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(3, 3, 1)

    def video_fn(x, pqf=None):
        assert x.shape[-1] <= 16 and x.shape[-2] <= 16 and x.shape[1] <= 3  # bounded working set
        n, t = x.shape[:2]
        return conv(x.flatten(0, 1)).view(n, t, 3, *x.shape[-2:])

    lq = torch.rand(7, 3, 37, 45)
    with torch.no_grad():
        ref = conv(lq)
    out = enhance_video(video_fn, lq, options=EnhanceOptions(chunk=3, chunk_overlap=1, tile=18, tile_overlap=6))
    assert out.shape == lq.shape
    assert torch.allclose(out, ref, atol=1e-6)


def test_framewise_stage_two_with_tiles():
    model = swinir_small(img_size=16).eval()
    torch.nn.init.normal_(model.conv_last.weight, std=0.02)
    lq = torch.rand(3, 3, 20, 30)
    whole = enhance_video(framewise(model, batch=2), lq, options=EnhanceOptions(chunk=8))
    with torch.no_grad():
        assert torch.allclose(whole, model(lq), atol=1e-5)
    options = EnhanceOptions(chunk=2, chunk_overlap=1, tile=16, tile_overlap=8, multiple=8)
    tiled = enhance_video(framewise(model), lq, options=options)
    assert tiled.shape == lq.shape and torch.isfinite(tiled).all()


def test_blending_never_modifies_the_input_when_the_model_returns_it():
    lq = torch.rand(6, 3, 20, 24)
    before = lq.clone()
    options = EnhanceOptions(chunk=4, chunk_overlap=2, tile=12, tile_overlap=4)
    out = enhance_video(lambda x, pqf=None: x, lq, options=options)
    torch.testing.assert_close(lq, before, rtol=0, atol=0)
    torch.testing.assert_close(out, before)


def test_one_tile_is_the_model_output_and_tiles_round_to_the_multiple():
    seen = []

    def fn(x, pqf=None):
        seen.append(tuple(x.shape[-2:]))
        return x * 2

    clip = torch.rand(2, 3, 20, 30)
    assert torch.equal(enhance_tiles(fn, clip), clip * 2) and seen == [(20, 30)]
    seen.clear()
    out = enhance_tiles(fn, clip, tile=15, tile_overlap=4, multiple=4)  # 15 -> 12
    assert set(seen) == {(12, 12)} and torch.allclose(out, clip * 2, atol=1e-6)
