"""The model zoo mechanism: publish, find by name, check the hash, refuse damaged files; pinned footage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vsr_lightning.data.errors import DataError
from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.checkpoints import read_checkpoint
from vsr_lightning.models.loading import load_network
from vsr_lightning.models.spynet import SpyNet
from vsr_lightning.zoo import entry_report, footage, registry
from vsr_lightning.zoo.publish import publish

ZOO_BUDGET_BYTES = 20 * 2**20

TINY_STAGE1 = {
    "_target_": "vsr_lightning.models.basicvsr_pp.BasicVSRPlusPlus",
    "mid_channels": 8,
    "num_blocks": 1,
    "num_reconstruction_blocks": 1,
    "deform_groups": 2,
    "hr_channels": 8,
}


@pytest.fixture
def temp_zoo(tmp_path, monkeypatch) -> Path:
    """An empty zoo in a temporary folder in place of the package's."""
    monkeypatch.setattr(registry, "ZOO_DIR", tmp_path)
    monkeypatch.setattr(registry, "MANIFEST", tmp_path / "manifest.json")
    monkeypatch.setattr(entry_report, "EXPERIMENTS", tmp_path / "experiments")  # never the checkout's reports
    (tmp_path / "experiments").mkdir()
    registry._manifest.cache_clear()
    yield tmp_path
    registry._manifest.cache_clear()


def test_shipped_zoo_matches_its_manifest_and_fits_git():
    total = 0
    for name in json.loads(registry.MANIFEST.read_text()) if registry.MANIFEST.is_file() else {}:
        total += registry.zoo_weights(f"zoo:{name}").stat().st_size
    assert total <= ZOO_BUDGET_BYTES


def test_published_networks_load_back_by_name(temp_zoo):
    torch.manual_seed(0)
    spynet = SpyNet()
    torch.nn.init.normal_(spynet.basic_module[5].basic_module[-1].weight, std=0.01)
    publish(
        "flow",
        spynet,
        {"_target_": "vsr_lightning.models.spynet.SpyNet"},
        training_data="test frames",
        steps=1,
        recipe="test",
        metrics={},
    )
    report = (temp_zoo / "experiments" / "zoo_flow" / "zoo_entry.md").read_text()
    assert "# zoo:flow" in report and registry.zoo_entry("flow")["sha256"] in report and "test frames" in report
    loaded = SpyNet(load_path="zoo:flow")
    assert all(
        torch.equal(a, b) for a, b in zip(spynet.state_dict().values(), loaded.state_dict().values(), strict=True)
    )
    net = BasicVSRPlusPlus(**{k: v for k, v in TINY_STAGE1.items() if k != "_target_"})
    publish("s1", net, TINY_STAGE1, job_type="stage1", training_data="test clips", steps=2, recipe="test", metrics={})
    back = load_network("zoo:s1", "stage1")
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), back.state_dict().values(), strict=True))
    assert registry.provenance("zoo:s1").startswith("zoo:s1: BasicVSRPlusPlus, trained on test clips (2 steps), ")


def test_damaged_or_unknown_entries_are_refused(temp_zoo):
    publish(
        "flow",
        SpyNet(),
        {"_target_": "vsr_lightning.models.spynet.SpyNet"},
        training_data="x",
        steps=1,
        recipe="test",
        metrics={},
    )
    weights = temp_zoo / "weights" / "flow.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"^zoo:flow: .*flow\.pt does not match the manifest's SHA-256"):
        read_checkpoint("zoo:flow")
    with pytest.raises(ValueError, match=r"^zoo:nope: no such zoo entry \(known: flow\)$"):
        registry.zoo_weights("zoo:nope")


def test_footage_refuses_a_wrong_archive(tmp_path):
    fake = tmp_path / "mvtb_data-1.6.1-py3-none-any.whl"
    fake.write_bytes(b"not the pinned wheel")
    with pytest.raises(DataError, match="SHA-256 differs from the pinned"):
        footage.fetch_archive("mvtb-data-1.6.1", local=fake)


def test_footage_is_only_downloaded_when_a_recipe_asks(tmp_path, monkeypatch):
    """Without ``fetch=True`` a clip missing from the cache is refused in one line, and nothing is fetched."""
    monkeypatch.setattr(footage, "footage_root", lambda: tmp_path / "footage")

    def no_network(*args, **kwargs):
        raise AssertionError("downloaded without being asked to")

    monkeypatch.setattr(footage.urllib.request, "urlretrieve", no_network)
    clip = footage.clips("heldout")[0]
    archive = tmp_path / "footage" / "archives" / footage.ARCHIVES[clip.archive].name
    with pytest.raises(DataError) as info:
        footage.footage_path(clip)
    assert str(info.value) == (
        f"{archive}: pinned footage archive not in the cache; "
        "a zoo recipe fetches it (python -m vsr_lightning.zoo.footage)"
    )
    assert not (tmp_path / "footage").exists() or not any((tmp_path / "footage").rglob("*.*"))
    with pytest.raises(AssertionError, match="downloaded without being asked"):
        footage.footage_path(clip, fetch=True)  # a recipe's call does reach the (here forbidden) download
    assert not any(p.is_file() for p in (tmp_path / "footage").rglob("*"))  # its partial download removed


def test_no_clip_is_both_trained_on_and_held_out():
    train = {(c.archive, c.member) for c in footage.clips("train")}
    heldout = {(c.archive, c.member) for c in footage.clips("heldout")}
    assert train and heldout and not train & heldout
    assert all(Path(m).suffix in (".mp4", ".avi") for _, m in train | heldout)


def test_enhance_defaults_to_the_zoo_stage_one_and_names_what_is_missing(temp_zoo):
    from vsr_lightning.enhance import DEFAULT_STAGE1, DEFAULT_STAGE2, zoo_defaults

    with pytest.raises(
        ValueError,
        match=r"^--stage1: no checkpoint given and this installation's zoo has no "
        r"zoo:stage1-embedded$",
    ):
        zoo_defaults(None, None)
    net = BasicVSRPlusPlus(**{k: v for k, v in TINY_STAGE1.items() if k != "_target_"})
    publish(
        DEFAULT_STAGE1.removeprefix("zoo:"),
        net,
        TINY_STAGE1,
        job_type="stage1",
        training_data="test clips",
        steps=2,
        recipe="test",
        metrics={},
    )
    assert zoo_defaults(None, None) == (DEFAULT_STAGE1, None)
    assert zoo_defaults(Path("mine.ckpt"), Path("zoo")) == (Path("mine.ckpt"), DEFAULT_STAGE2)


def test_self_drawn_warps_are_exact_and_regressable():
    """The SPyNet recipe's phase-1 pairs: warping supp by the drawn flow gives ref (up to the added noise)."""
    import random

    from vsr_lightning.models.flow_warp import flow_warp
    from vsr_lightning.zoo.frame_pool import Clip
    from vsr_lightning.zoo.train_spynet import flow_regression_loss, pyramid_flows, synthetic_batch

    random.seed(0)
    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 6, 120), torch.linspace(0, 6, 120), indexing="ij")
    frame = torch.stack([torch.sin(xx + yy), torch.cos(xx - 2 * yy), torch.sin(3 * xx)]) * 0.4 + 0.5
    ref, supp, flow = synthetic_batch([Clip("waves", frame.unsqueeze(0))], 2, 64, max_shift=4, amplitude=1)
    warped = flow_warp(supp, flow.permute(0, 2, 3, 1), padding_mode="border")
    assert (warped - ref)[..., 8:-8, 8:-8].abs().mean() < 0.03  # only the noise (std <= 0.02) and brightness
    assert flow.abs().max() <= 4 + 4  # translation plus the smooth field
    net = SpyNet()
    assert torch.count_nonzero(net(ref, supp)) == 0  # untrained: exactly zero flow
    opt = torch.optim.Adam(net.parameters(), lr=5e-4)
    first = None
    for _ in range(15):
        loss = flow_regression_loss(pyramid_flows(net, ref, supp), flow)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first  # the regression target is learnable (He-initialised levels)


def test_leaky_phase_ends_with_the_official_plain_relu_level():
    """Phase 1 trains with leaky ReLUs but hands every pyramid level a plain-ReLU module in the official
    layout, blind to the coarser flow it is given."""
    from torch import nn

    from vsr_lightning.models.spynet import SpyNetBasicModule
    from vsr_lightning.zoo.train_spynet import AnnealedLeakyReLUs, start_every_level_from

    level = SpyNetBasicModule()
    keys = set(level.state_dict())
    leaky = AnnealedLeakyReLUs(level.basic_module, 0.2)
    assert sum(isinstance(m, nn.LeakyReLU) for m in level.basic_module) == 4
    x = torch.randn(1, 8, 16, 16)
    leaky.set_slope(0.0)
    with torch.no_grad():
        at_zero_slope = level(x)
    leaky.restore()
    assert [type(m) for m in level.basic_module[1::2]] == [nn.ReLU] * 4 and set(level.state_dict()) == keys
    with torch.no_grad():
        assert torch.equal(level(x), at_zero_slope)  # slope 0 is the plain ReLU
        level.basic_module[0].weight[:, 6:] = 0
    net = start_every_level_from(SpyNet(), level)
    for module in net.basic_module:
        assert torch.equal(module.basic_module[0].weight, level.basic_module[0].weight)


def test_denoise_recipe_publishes_a_refiner_start_with_its_scores(temp_zoo, tmp_path, embedded_root):
    from vsr_lightning.zoo import train_denoise

    train_denoise.main(
        [
            "pretrain.max_steps=2",
            "pretrain.batch_size=2",
            f"paths.runs_dir={tmp_path / 'runs'}",
            f"data.embedded_root={embedded_root}",
        ]
    )
    entry = registry.zoo_entry("zoo:denoise-embedded")
    assert entry["steps"] == 2 and set(entry["metrics"]["denoising"]) == {"sigma15", "sigma25", "sigma50"}
    assert entry["recipe"].startswith("python -m vsr_lightning.zoo.train_denoise pretrain.max_steps=2")
    net = load_network("zoo:denoise-embedded", "stage2")
    assert type(net).__name__ == "SwinIR"


def test_stage_two_recipe_publishes_its_job_with_per_video_gains(temp_zoo, tmp_path):
    from vsr_lightning.models.swinir import SwinIR
    from vsr_lightning.zoo.recipe_jobs import newest_job
    from vsr_lightning.zoo.train_stage2 import publish_job

    config = {
        "_target_": "vsr_lightning.models.swinir.SwinIR",
        "embed_dim": 8,
        "depths": [1],
        "num_heads": [1],
        "window_size": 4,
        "img_size": 16,
        "mlp_ratio": 1.0,
    }
    net = SwinIR(**{k: v for k, v in config.items() if k != "_target_"})
    job = tmp_path / "runs" / "stage2-abc"
    job.mkdir(parents=True)
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "vsr_model": config,
            "vsr_job_type": "stage2",
        },
        job / "final.ckpt",
    )
    (job / "done.json").write_text(json.dumps({"global_step": 7}))
    (job / "test-x.json").write_text(
        json.dumps({"per_video": {"a_val0": {"psnr": 30.5, "psnr_lq": 30.0}}, "per_video_stage1": {"a_val0": 30.1}})
    )
    assert newest_job(tmp_path / "runs", "stage2") == job
    entry = publish_job(job, "recipe")
    assert entry["steps"] == 7 and entry["metrics"]["val_mean_gain_over_input"] == 0.5
    assert entry["metrics"]["val_per_video"]["a_val0"]["psnr_stage1"] == 30.1
    back = load_network("zoo:stage2-embedded", "stage2")
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), back.state_dict().values(), strict=True))


def test_job_keys_follow_the_starting_weights_not_their_name(temp_zoo, tmp_path):
    """A new zoo release (or a replaced file) under the same name must not reuse jobs trained from the old one."""
    from vsr_lightning.jobs.pipeline import weights_identity

    net = BasicVSRPlusPlus(**{k: v for k, v in TINY_STAGE1.items() if k != "_target_"})
    publish("s1", net, TINY_STAGE1, job_type="stage1", training_data="a", steps=1, recipe="test", metrics={})
    first = weights_identity("zoo:s1")
    with torch.no_grad():
        net.conv_last.bias.add_(0.01)
    publish("s1", net, TINY_STAGE1, job_type="stage1", training_data="a", steps=2, recipe="test", metrics={})
    assert weights_identity("zoo:s1") != first
    path = tmp_path / "init.ckpt"
    path.write_bytes(b"one")
    before = weights_identity(str(path))
    path.write_bytes(b"two")
    assert weights_identity(str(path)) != before and weights_identity(None) is None


def _waves(size: int = 96) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 6, size), torch.linspace(0, 6, size), indexing="ij")
    return torch.stack([torch.sin(xx + yy), torch.cos(xx - 2 * yy), torch.sin(3 * xx)]) * 0.4 + 0.5


def test_teacher_flow_finds_a_known_shift_that_zero_flow_misses():
    """The per-pair optimised flow (the SPyNet recipe's teacher) recovers a sub-pixel translation."""
    from vsr_lightning.zoo.teacher_flow import optimised_flow, warp

    supp = _waves().unsqueeze(0).repeat(2, 1, 1, 1)
    true = torch.tensor([[1.5, -0.75], [-1.0, 0.5]]).view(2, 2, 1, 1).expand(2, 2, 96, 96)
    ref = warp(supp, true)
    flow = optimised_flow(ref, supp, smooth=0.03, iters=80)
    inner = (..., slice(8, -8), slice(8, -8))
    assert (flow - true)[inner].norm(dim=1).mean() < 0.15  # each pair its own shift
    assert (ref - warp(supp, flow))[inner].abs().mean() < 0.2 * (ref - supp)[inner].abs().mean()


def test_teacher_crops_keep_the_flow_consistent_when_flipped():
    """Flipping a crop negates that axis' flow component, so warping supp by the crop's flow still gives ref."""
    import random

    from vsr_lightning.zoo.teacher_flow import warp
    from vsr_lightning.zoo.train_spynet import teacher_batch

    random.seed(3)
    supp = _waves().unsqueeze(0)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 96), torch.linspace(-1, 1, 96), indexing="ij")
    flow = torch.stack([1.2 + 0.5 * yy, -0.8 + 0.4 * xx]).unsqueeze(0)  # not symmetric under any flip
    ref = warp(supp, flow)
    refs, supps, flows = teacher_batch([(ref, supp, flow)], batch=16, patch=64)
    errors = (refs - warp(supps, flows))[..., 4:-4, 4:-4].abs().mean(dim=(1, 2, 3))
    assert errors.max() < 0.02  # only the border handling of the crop differs
    assert (flows[:, 0].mean(dim=(1, 2)) < 0).any() and (flows[:, 0].mean(dim=(1, 2)) > 0).any()  # flips drawn


def test_a_footage_dataset_of_older_statistics_is_rebuilt(tmp_path):
    from vsr_lightning.data.clip_stats import CLIP_STATS_VERSION
    from vsr_lightning.data.manifest import Manifest
    from vsr_lightning.zoo.footage_dataset import _is_current

    assert not _is_current(tmp_path)  # nothing built
    Manifest("footage-train", 37, "png", [], build={"duplicate_threshold": 0.3}).save(tmp_path)
    assert not _is_current(tmp_path)  # built before manifests named their statistics' definition
    Manifest("footage-train", 37, "png", [], build={"clip_stats_version": CLIP_STATS_VERSION}).save(tmp_path)
    assert _is_current(tmp_path)
