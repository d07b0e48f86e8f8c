"""Every experiment file composes against the structured config and runs end to end at smoke scale."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from vsr_lightning.config_schema import register_configs
from vsr_lightning.jobs.experiment_runner import arm_config, arm_names, run_experiment
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
        "stage2.batch_size=2",
        "pretrain.batch_size=2",
        "trainer.enable_progress_bar=false",
    ]


@pytest.mark.parametrize("name", [*EXPERIMENTS, "paper_scale"])
def test_every_experiment_composes_with_its_arms(name):
    cfg = _compose([f"+experiment={name}"])
    assert cfg.experiment.name == name
    arms = arm_names(cfg)
    assert len(arms) >= 1 and (cfg.experiment.baseline_arm in arms)
    for arm in arms:
        acfg = arm_config(cfg, arm)
        assert acfg.experiment.compare_stage in ("stage1", "stage2")
        OmegaConf.to_container(acfg, resolve=False)
    if name.startswith("ablation_") or name == "taomc2":  # each ablation names its two arms (three steps: three)
        assert len(arms) == (3 if name == "ablation_mse_finetune" else 2)


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
    cfg = _compose([f"+experiment={name}", *smoke_overrides(tmp_path, embedded_root)])
    results = run_experiment(cfg)
    assert set(results) == set(arm_names(cfg))
    for result in results.values():
        assert result["per_video"]["carphone_val0"]["psnr"] > 20
        assert len(result["per_frame"]) == 4
    assert (tmp_path / "reports" / name / "report.md").is_file()


OFFICIAL = [{"root": "embedded", "split": "train", "include": ["carphone_*", "bikes_*"], "exclude": [], "weight": 1.0}]


@pytest.mark.slow
def test_three_step_convergence_chains_its_phases(tmp_path, embedded_root, monkeypatch):
    """Charbonnier, then MSE on all data, then MSE on the official data only: three jobs, each from the last."""
    cfg = _compose(
        [
            "+experiment=ablation_mse_finetune",
            "arm=three_step",
            "experiment.baseline_arm=three_step",
            *smoke_overrides(tmp_path, embedded_root),
        ]
    )
    acfg = arm_config(cfg, "three_step")
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
    result = run_experiment(cfg)["three_step"]
    phases = [step for step in result["lineage"] if "job" in step]
    assert [step.get("loss") for step in phases] == [None, "mse", "mse"]
    assert phases[2]["train_sources"] == OFFICIAL and phases[1]["train_sources"] is None
    assert [o.get("train_sources") for o in built if "batch_size" in o] == [None, None, OFFICIAL]
    assert len({step["job"] for step in phases}) == 3
