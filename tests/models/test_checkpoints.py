"""Official checkpoint layouts (MMagic, BasicSR, standalone SPyNet) round-trip through the loading door."""

import pytest
import torch

from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.checkpoints import convert_state_dict, to_basicsr_state_dict, to_mmagic_state_dict
from vsr_lightning.models.loading import load_network_weights_into
from vsr_lightning.models.spynet import SpyNet
from vsr_lightning.models.spynet_weights import load_spynet_weights

pytestmark = pytest.mark.usefixtures("single_thread")


def _model(seed: int) -> BasicVSRPlusPlus:
    torch.manual_seed(seed)
    m = BasicVSRPlusPlus(mid_channels=8, num_blocks=1, num_reconstruction_blocks=2, deform_groups=8)
    with torch.no_grad():  # make every parameter distinctive, including the zero-initialised ones
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return m.eval()


@pytest.fixture(scope="module")
def source_and_output():
    src = _model(1)
    x = torch.rand(1, 3, 3, 16, 16)
    with torch.no_grad():
        y = src(x)
    return src, x, y


def test_mmagic_layout_names_and_roundtrip(tmp_path, source_and_output):
    src, x, y = source_and_output
    ckpt = to_mmagic_state_dict(src)
    keys = set(ckpt["state_dict"])
    assert "generator.spynet.basic_module.0.basic_module.4.conv.weight" in keys
    assert not any(".basic_module.8." in k for k in keys)
    assert "generator.upsample1.upsample_conv.weight" in keys and "generator.upsample2.upsample_conv.bias" in keys
    assert not any(k.startswith("generator.upconv") for k in keys)
    path = tmp_path / "mmagic.pth"
    torch.save(ckpt, path)
    dst = _model(2)
    assert load_network_weights_into(dst, path) == "mmagic"
    with torch.no_grad():
        assert torch.equal(dst(x), y)


def test_basicsr_layout_prefers_ema_and_roundtrip(tmp_path, source_and_output):
    src, x, y = source_and_output
    ckpt = to_basicsr_state_dict(src)
    ckpt["params"] = to_basicsr_state_dict(_model(3))["params"]  # a different, non-EMA generator
    path = tmp_path / "basicsr.pth"
    torch.save(ckpt, path)
    dst = _model(2)
    assert load_network_weights_into(dst, path) == "basicsr"
    with torch.no_grad():
        assert torch.equal(dst(x), y)
    load_network_weights_into(dst, path, prefer_ema=False)
    assert torch.equal(dst.conv_last.weight, _model(3).conv_last.weight)


def test_plain_state_dict_with_dataparallel_prefix(tmp_path, source_and_output):
    src, x, y = source_and_output
    path = tmp_path / "plain.pth"
    torch.save({"module." + k: v for k, v in src.state_dict().items()}, path)
    dst = _model(2)
    assert load_network_weights_into(dst, path) == "plain"
    with torch.no_grad():
        assert torch.equal(dst(x), y)


def test_missing_unexpected_and_shape_errors_name_the_file(tmp_path, source_and_output):
    src = source_and_output[0]
    sd = dict(src.state_dict())
    del sd["conv_hr.weight"]
    sd["conv_extra.weight"] = torch.zeros(1)
    path = tmp_path / "broken_keys.pth"
    torch.save({"params": sd}, path)
    with pytest.raises(ValueError) as err:
        load_network_weights_into(_model(2), path)
    msg = str(err.value)
    assert str(path) in msg
    assert "missing keys (1)" in msg and "conv_hr.weight" in msg
    assert "unexpected keys (1)" in msg and "conv_extra.weight" in msg

    sd = dict(src.state_dict())
    sd["conv_last.weight"] = torch.zeros(3, 64, 5, 5)
    path2 = tmp_path / "bad_shape.pth"
    torch.save(sd, path2)
    with pytest.raises(ValueError, match=r"bad_shape\.pth[\s\S]*conv_last\.weight: checkpoint \(3, 64, 5, 5\)"):
        load_network_weights_into(_model(2), path2)

    # A checkpoint of a smaller trunk is refused, unless asked to grow from it (progressive training).
    grown = _model(2)
    grown.grow(2)
    small = _save(tmp_path, src)
    with pytest.raises(ValueError, match="reconstruction.main.2.3"):
        load_network_weights_into(grown, small)
    load_network_weights_into(grown, small, grow_from_smaller=True)
    assert torch.equal(grown.conv_hr.weight, src.conv_hr.weight)


def _save(tmp_path, model):
    path = tmp_path / "small.pth"
    torch.save(model.state_dict(), path)
    return path


def test_corrupt_and_missing_files_name_the_file(tmp_path):
    bad = tmp_path / "corrupt.pth"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="corrupt.pth"):
        load_network_weights_into(_model(0), bad)
    with pytest.raises(ValueError, match="nowhere.pth"):
        load_network_weights_into(_model(0), tmp_path / "nowhere.pth")
    notdict = tmp_path / "list.pth"
    torch.save([1, 2], notdict)
    with pytest.raises(ValueError, match="list.pth"):
        load_network_weights_into(_model(0), notdict)


@pytest.mark.parametrize("layout", ["basicsr", "mmagic"])
@pytest.mark.parametrize("prefixed", [False, True])
def test_standalone_spynet_weights(tmp_path, layout, prefixed):
    torch.manual_seed(4)
    src = SpyNet()
    sd = {k: v for k, v in src.state_dict().items() if k not in ("mean", "std")}  # some files omit them
    if layout == "mmagic":
        sd = {_to_mm(k): v for k, v in sd.items()}
    if prefixed:
        sd = {"spynet." + k: v for k, v in sd.items()}
    path = tmp_path / f"spynet_{layout}.pth"
    torch.save({"state_dict": sd} if layout == "mmagic" else {"params": sd}, path)
    dst = SpyNet()
    load_spynet_weights(dst, path)
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(dst(a, b), src(a, b))
    # The same file feeds the model's spynet_path argument.
    model = BasicVSRPlusPlus(mid_channels=8, num_blocks=1, deform_groups=8, spynet_path=str(path))
    assert torch.equal(model.spynet.basic_module[3].basic_module[4].weight, src.basic_module[3].basic_module[4].weight)


def _to_mm(key: str) -> str:
    """basic_module.<i>.basic_module.<2j>.weight -> basic_module.<i>.basic_module.<j>.conv.weight"""
    parts = key.split(".")
    parts[3] = str(int(parts[3]) // 2)
    return ".".join(parts[:4] + ["conv"] + parts[4:])


def test_convert_state_dict_maps_mmagic_names():
    sd = {
        "spynet.basic_module.2.basic_module.3.conv.bias": torch.zeros(1),
        "upsample2.upsample_conv.weight": torch.zeros(1),
        "conv_hr.weight": torch.zeros(1),
    }
    assert set(convert_state_dict(sd)) == {
        "spynet.basic_module.2.basic_module.6.bias",
        "upconv2.weight",
        "conv_hr.weight",
    }
