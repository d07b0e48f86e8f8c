"""The loading door: our Lightning checkpoints, official BasicVSR++/SwinIR files, EMA choice, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.checkpoints import to_basicsr_state_dict, to_mmagic_state_dict
from vsr_lightning.models.loading import load_network, load_network_weights_into
from vsr_lightning.models.swinir import SwinIR
from vsr_lightning.models.swinir_weights import infer_swinir_config

S1_CONFIG = {
    "_target_": "vsr_lightning.models.basicvsr_pp.BasicVSRPlusPlus",
    "mid_channels": 8,
    "num_blocks": 1,
    "num_reconstruction_blocks": 2,
    "propagation": "pqf",
    "pqf_period": 4,
    "deform_groups": 8,
    "spynet_path": "/nowhere/spynet.pth",
}
S2_CONFIG = {
    "_target_": "vsr_lightning.models.swinir.SwinIR",
    "img_size": 16,
    "embed_dim": 16,
    "depths": [2, 1],
    "num_heads": [2, 4],
    "window_size": 4,
    "mlp_ratio": 1.5,
}


pytestmark = pytest.mark.usefixtures("single_thread")


def _perturb(m: nn.Module, seed: int) -> nn.Module:
    """Make every parameter distinctive (zero-initialised ones included) so a wrong load shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.02)
    return m.eval()


def _stage1(seed: int, recon: int = 2) -> BasicVSRPlusPlus:
    torch.manual_seed(seed)
    m = BasicVSRPlusPlus(
        mid_channels=8, num_blocks=1, num_reconstruction_blocks=recon, propagation="pqf", deform_groups=8
    )
    return _perturb(m, seed)


def _stage2(seed: int) -> SwinIR:
    torch.manual_seed(seed)
    cfg = {k: v for k, v in S2_CONFIG.items() if k != "_target_"}
    return _perturb(SwinIR(**cfg), seed)


def _lightning_ckpt(path: Path, net: nn.Module, config: dict, job: str, ema: nn.Module | None = None) -> Path:
    """What RestorationSystem's checkpoints hold: ``net.*`` (+ ``ema.module.*``, ``ema.n_averaged``) and vsr_*."""
    sd = {f"net.{k}": v.clone() for k, v in net.state_dict().items()}
    if ema is not None:
        sd.update({f"ema.module.{k}": v.clone() for k, v in ema.state_dict().items()})
        sd["ema.n_averaged"] = torch.tensor(7)
    torch.save(
        {
            "epoch": 3,
            "global_step": 120,
            "state_dict": sd,
            "vsr_model": dict(config),
            "vsr_job_type": job,
            "vsr_lineage": [{"run": "abc", "job_type": job}],
        },
        path,
    )
    return path


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    return torch.rand(1, 5, 3, 16, 16, generator=torch.Generator().manual_seed(0))


def _run(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(x)


def test_lightning_stage1_round_trip_is_exact(tmp_path, clip):
    src = _stage1(1)
    path = _lightning_ckpt(tmp_path / "s1.ckpt", src, S1_CONFIG, "stage1")
    net = load_network(path, "stage1")
    assert isinstance(net, BasicVSRPlusPlus) and net.propagation == "pqf" and not net.training
    assert torch.equal(_run(net, clip), _run(src, clip))


def test_ema_weights_preferred_unless_asked_otherwise(tmp_path, clip):
    raw, ema = _stage1(1), _stage1(2)
    path = _lightning_ckpt(tmp_path / "ema.ckpt", raw, S1_CONFIG, "stage1", ema=ema)
    assert torch.equal(_run(load_network(path, "stage1"), clip), _run(ema, clip))
    assert torch.equal(_run(load_network(path, "stage1", prefer_ema=False), clip), _run(raw, clip))
    target = _stage1(3)
    assert load_network_weights_into(target, path, prefer_ema=False) == "lightning"
    assert torch.equal(_run(target, clip), _run(raw, clip))


def test_grown_trunk_rebuilt_from_an_older_config(tmp_path, clip):
    """Progressive growth deepens the trunk after the config was written: the reader follows the weights."""
    src = _stage1(4)
    src.grow(3)
    _perturb(src, 5)
    path = _lightning_ckpt(tmp_path / "grown.ckpt", src, S1_CONFIG, "stage1")
    net = load_network(path, "stage1")
    assert net.num_reconstruction_blocks == 5
    assert torch.equal(_run(net, clip), _run(src, clip))


def test_weights_into_a_deeper_net_start_progressive_growth(tmp_path, clip):
    src = _stage1(6, recon=2)
    path = _lightning_ckpt(tmp_path / "small.ckpt", src, S1_CONFIG, "stage1")
    deeper = _stage1(7, recon=4)
    with pytest.raises(ValueError, match="small.ckpt"):
        load_network_weights_into(deeper, path)
    load_network_weights_into(deeper, path, grow_from_smaller=True)
    assert deeper.num_reconstruction_blocks == 4
    assert torch.equal(_run(deeper, clip), _run(src, clip))  # the extra blocks are identities


def test_lightning_stage2_round_trip_and_pretrain_accepted(tmp_path):
    src = _stage2(1)
    x = torch.rand(2, 3, 20, 12)
    for job in ("stage2", "pretrain"):
        path = _lightning_ckpt(tmp_path / f"{job}.ckpt", src, S2_CONFIG, job)
        net = load_network(path, "stage2")
        assert isinstance(net, SwinIR)
        assert torch.equal(_run(net, x), _run(src, x))


def test_wrong_stage_and_foreign_target_refused(tmp_path):
    path = _lightning_ckpt(tmp_path / "s1.ckpt", _stage1(1), S1_CONFIG, "stage1")
    with pytest.raises(ValueError, match=r"s1\.ckpt.*'stage1' job"):
        load_network(path, "stage2")
    evil = _lightning_ckpt(tmp_path / "evil.ckpt", _stage1(1), {"_target_": "os.system", "command": "true"}, "stage1")
    with pytest.raises(ValueError, match=r"evil\.ckpt.*os\.system"):
        load_network(evil, "stage1")


@pytest.mark.parametrize("layout", ["basicsr", "mmagic"])
def test_official_basicvsr_pp_sizes_inferred(tmp_path, clip, layout):
    src = _stage1(8, recon=3)
    src.propagation = "second_order"  # what the official models were trained with
    obj = to_basicsr_state_dict(src) if layout == "basicsr" else to_mmagic_state_dict(src)
    path = tmp_path / f"{layout}.pth"
    torch.save(obj, path)
    net = load_network(path, "stage1")
    assert (net.mid_channels, net.num_reconstruction_blocks, net.backbone["forward_1"].num_blocks) == (8, 3, 1)
    assert net.deform_align["backward_1"].deform_groups == 8 and net.propagation == "second_order"
    assert torch.equal(_run(net, clip), _run(src, clip))
    pqf = load_network(path, "stage1", model_config={"propagation": "pqf"})
    assert pqf.propagation == "pqf"
    into = _stage1(9, recon=3)
    assert load_network_weights_into(into, path) == layout


def test_official_swinir_sizes_inferred(tmp_path):
    src = _stage2(2)
    path = tmp_path / "swinir.pth"
    torch.save({"params": src.state_dict()}, path)
    sd = torch.load(path, map_location="cpu", weights_only=True)["params"]
    cfg = infer_swinir_config(sd)
    assert cfg == {
        "in_chans": 3,
        "embed_dim": 16,
        "depths": [2, 1],
        "num_heads": [2, 4],
        "window_size": 4,
        "mlp_ratio": 1.5,
        "patch_norm": True,
        "img_size": 16,
    }
    net = load_network(path, "stage2")
    x = torch.rand(1, 3, 13, 18)
    assert torch.equal(_run(net, x), _run(src, x))
    with pytest.raises(ValueError, match=r"swinir\.pth.*not a BasicVSR\+\+"):
        load_network(path, "stage1")


def test_unreadable_files_name_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(ValueError, match=r"corrupt\.ckpt"):
        load_network(corrupt, "stage1")
    with pytest.raises(ValueError, match=r"missing\.ckpt.*not found"):
        load_network(tmp_path / "missing.ckpt", "stage1")
    junk = tmp_path / "junk.pth"
    torch.save({"hello": "world"}, junk)
    with pytest.raises(ValueError, match=r"junk\.pth"):
        load_network(junk, "stage1")
    no_config = tmp_path / "noconfig.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in _stage1(1).state_dict().items()}}, no_config)
    with pytest.raises(ValueError, match=r"noconfig\.ckpt.*model_config"):
        load_network(no_config, "stage1")
    assert isinstance(load_network(no_config, "stage1", model_config=S1_CONFIG), BasicVSRPlusPlus)


def test_our_narrow_head_in_basicsr_layout_loads_back(tmp_path, clip):
    torch.manual_seed(3)
    src = _perturb(
        BasicVSRPlusPlus(mid_channels=8, num_blocks=1, num_reconstruction_blocks=2, deform_groups=8, hr_channels=16), 3
    )
    path = tmp_path / "tiny_basicsr.pth"
    torch.save(to_basicsr_state_dict(src), path)
    net = load_network(path, "stage1")
    assert net.conv_hr.out_channels == 16
    assert torch.equal(_run(net, clip), _run(src, clip))


def test_an_x4_super_resolution_basicvsr_pp_is_named_as_such(tmp_path):
    sd = to_basicsr_state_dict(_stage1(4))["params"]
    sr = {k: v for k, v in sd.items() if not k.startswith("feat_extract.")}
    sr.update(
        {k.replace("feat_extract.4.", "feat_extract.", 1): v for k, v in sd.items() if k.startswith("feat_extract.4.")}
    )  # the SR model's extractor: input conv + blocks only
    path = tmp_path / "basicvsrpp_x4_reds.pth"
    torch.save({"params": sr}, path)
    with pytest.raises(
        ValueError,
        match=r"^checkpoint .*basicvsrpp_x4_reds\.pth: a BasicVSR\+\+ for x4 "
        r"super-resolution .* needs a compressed-video BasicVSR\+\+",
    ):
        load_network(path, "stage1")


def test_every_loader_prefers_params_ema(tmp_path):
    plain, ema = _stage2(5), _stage2(6)
    path = tmp_path / "swinir_both.pth"
    torch.save({"params": plain.state_dict(), "params_ema": ema.state_dict()}, path)
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(_run(load_network(path, "stage2"), x), _run(ema, x))
    into = _stage2(7)
    assert load_network_weights_into(into, path) == "basicsr"
    assert torch.equal(_run(into, x), _run(ema, x))
    load_network_weights_into(into, path, prefer_ema=False)
    assert torch.equal(_run(into, x), _run(plain, x))
