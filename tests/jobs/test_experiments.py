"""Every experiment file composes against the structured config and runs end to end at smoke scale."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import ValidationError

from vsr_lightning.config_schema import check_arm, register_configs
from vsr_lightning.data.datamodule import VideoDataModule
from vsr_lightning.jobs.arms import BadArm, arm_config, arm_configs, arm_names
from vsr_lightning.jobs.experiment_runner import run_experiment
from vsr_lightning.jobs.pipeline import Pipeline

CONF = Path(__file__).resolve().parents[2] / "conf"
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml") if p.stem != "paper_scale")
FAST_SMOKE = "baseline"
"""The one experiment the fast tier runs end to end; the others train several arms (slow tier)."""

register_configs()


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=False)


def smoke_overrides(tmp: Path, embedded_root: Path) -> list[str]:
    return [
        "steps_cap=1",
        "logger=none",
        f"paths.runs_dir={tmp / 'runs'}",
        f"paths.output_root={tmp / 'out'}",
        f"paths.reports_dir={tmp / 'reports'}",
        f"data.embedded_root={embedded_root}",
        "data.val_max_frames=4",
        "data.val_source.include=[carphone_val0]",
        "data.samples_per_epoch=2",
        "data.cleaning_report=null",
        "stage2.outputs_max_frames=4",
        "stage1.batch_size=2",
        "data.num_workers=0",
        "stage2.batch_size=2",
        "pretrain.batch_size=2",
        "trainer.enable_progress_bar=false",
    ]


@pytest.fixture
def hydra_run(tmp_path):
    """As inside ``run.py``: the Hydra config of a run is set (``${hydra:...}`` resolves), then cleared."""

    def compose_run(overrides: list[str]):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(tmp_path)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
        return cfg

    yield compose_run
    HydraConfig.instance().cfg = None


@pytest.mark.parametrize("name", [*EXPERIMENTS, "paper_scale"])
def test_every_experiment_composes_with_its_arms(name, hydra_run):
    """Each arm composes through Hydra, passes the start-up checks, and its networks and data module build."""
    overrides = [f"+experiment={name}"]
    cfg = hydra_run(overrides)
    assert cfg.experiment.name == name
    arms = arm_configs(cfg, overrides)
    assert list(arms) == arm_names(cfg) and cfg.experiment.baseline_arm in arms
    for arm, acfg in arms.items():
        assert acfg.arm == arm and acfg.experiment.compare_stage in ("stage1", "stage2")
        check_arm(arm, acfg)
        plain = OmegaConf.to_container(acfg, resolve=True)  # every interpolation an arm writes resolves
        assert "${" not in str({k: v for k, v in plain.items() if k != "experiment"})
        assert isinstance(instantiate(acfg.data), VideoDataModule)
        for stage in (acfg.stage1, acfg.stage2):
            assert isinstance(instantiate(stage.model), torch.nn.Module)
    if name.startswith("ablation_") or name == "taomc2":  # each ablation names its two arms (three steps: three)
        assert len(arms) == (3 if name == "ablation_mse_finetune" else 2)


def test_an_arm_can_select_a_config_group_and_refer_to_named_sources():
    overrides = ["+experiment=taomc2"]
    taomc2 = arm_config(_compose(overrides), "taomc2", overrides)
    rules = _compose(["+data/cleaning=default"]).data.cleaning  # the group's one list of rules
    assert taomc2.data.cleaning == rules and len(rules) == 4
    official = OmegaConf.to_container(taomc2.stage1.phases[1].train_sources, resolve=True)
    assert official == OFFICIAL
    assert arm_config(_compose(overrides), "basicvsr_pp", overrides).data.cleaning is None


def test_the_sweep_list_is_the_arm_names():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for overrides, swept in [
            (["+experiment=ablation_mse_finetune"], "charbonnier,charbonnier_then_mse,three_step"),
            (["+experiment=baseline"], "basicvsr_pp"),
            ([], "null"),  # no arms: one job runs the configuration as it is
            (["+experiment=paper_scale"], "null"),
        ]:
            cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
            assert cfg.hydra.sweeper.params.arm == swept


def test_an_arm_that_does_not_compose_is_one_line_naming_the_arm_and_key():
    overrides = ["+experiment=ablation_pqf", "experiment.arms.pqf=['stage1.max_step=3']"]
    with pytest.raises(BadArm) as info:
        arm_configs(_compose(overrides), overrides)
    assert str(info.value) == (
        "arm 'pqf' of experiment 'ablation_pqf': Could not override 'stage1.max_step': "
        "Key 'max_step' not in 'StageOneConfig'"
    )
    with pytest.raises(
        BadArm, match=r"^unknown arm 'nope'; experiment 'ablation_pqf' has arms \['second_order', 'pqf'\]$"
    ):
        arm_configs(_compose([*overrides, "arm=nope"]), overrides)


def test_typos_and_wrong_types_fail_at_start():
    with pytest.raises(ConfigCompositionException, match="stage1.max_step") as typo:
        _compose(["stage1.max_step=3"])
    assert "not in 'StageOneConfig'" in str(typo.value.__cause__)
    with pytest.raises(ConfigCompositionException, match="stage1.max_steps") as wrong_type:
        _compose(["stage1.max_steps=many"])
    assert isinstance(wrong_type.value.__cause__, ValidationError)


@pytest.mark.parametrize(
    "name", [name if name == FAST_SMOKE else pytest.param(name, marks=pytest.mark.slow) for name in EXPERIMENTS]
)
def test_every_experiment_runs_at_smoke_scale(name, tmp_path, embedded_root):
    overrides = [f"+experiment={name}", *smoke_overrides(tmp_path, embedded_root)]
    cfg = _compose(overrides)
    results = run_experiment(cfg, arm_configs(cfg, overrides))
    assert set(results) == set(arm_names(cfg))
    for result in results.values():
        assert result.scores.per_video["carphone_val0"]["psnr"] > 20
        assert len(result.scores.per_frame) == 4
    assert (tmp_path / "reports" / name / "report.md").is_file()


OFFICIAL = [{"root": "embedded", "split": "train", "include": ["carphone_*", "bikes_*"], "exclude": [], "weight": 1.0}]


@pytest.mark.slow
def test_three_step_convergence_chains_its_phases(tmp_path, embedded_root, monkeypatch):
    """Charbonnier, then MSE on all data, then MSE on the official data only: three jobs, each from the last."""
    overrides = [
        "+experiment=ablation_mse_finetune",
        "arm=three_step",
        "experiment.baseline_arm=three_step",
        *smoke_overrides(tmp_path, embedded_root),
    ]
    cfg = _compose(overrides)
    acfg = arm_config(cfg, "three_step", overrides)
    plan = Pipeline(acfg, "three_step").stage1_plan()
    assert [(s.phase, s.loss, s.steps, s.train_sources) for s in plan] == [
        (0, "charbonnier", 1, None),
        (1, "mse", 1, None),
        (2, "mse", 1, OFFICIAL),
    ]
    built: list[dict] = []
    original = Pipeline.datamodule

    def recording(self, **overrides):
        built.append(overrides)
        return original(self, **overrides)

    monkeypatch.setattr(Pipeline, "datamodule", recording)
    result = run_experiment(cfg, arm_configs(cfg, overrides))["three_step"]
    phases = [step for step in result.lineage if "job" in step]
    assert [step.get("loss") for step in phases] == [None, "mse", "mse"]
    assert phases[2]["train_sources"] == OFFICIAL and phases[1]["train_sources"] is None
    assert [o.get("train_sources") for o in built if "batch_size" in o] == [None, None, OFFICIAL]
    assert len({step["job"] for step in phases}) == 3
