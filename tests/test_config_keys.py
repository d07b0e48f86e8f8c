"""Every key the schema does not know fails at start, ``+key`` included; the legitimate ``+`` forms still work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from vsr_lightning.config_schema import (
    BadConfigValue,
    UnknownConfigKey,
    check_arm,
    check_known_keys,
    check_values,
    register_configs,
)
from vsr_lightning.jobs.arms import BadArm, arm_config

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
SCHEMA = "not in the schema (vsr_lightning/config_schema.py), so nothing would read it"

register_configs()


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=False)


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("+stage1.max_step=3", f"'stage1.max_step': {SCHEMA}; did you mean 'stage1.max_steps'?"),
        ("+stage1.optim.lrr=0.1", f"'stage1.optim.lrr': {SCHEMA}; did you mean 'stage1.optim.lr'?"),
        ("+stage2.evaluation.ttta=true", f"'stage2.evaluation.ttta': {SCHEMA}; did you mean 'stage2.evaluation.tta'?"),
        ("+zzz=1", f"'zzz': {SCHEMA}"),
        (
            "+stage1.model.mid_channel=8",
            "'stage1.model.mid_channel': not a parameter of BasicVSRPlusPlus, so nothing "
            "would read it; did you mean 'stage1.model.mid_channels'?",
        ),
        (
            "+stage2.model.embed_dimm=8",
            "'stage2.model.embed_dimm': not a parameter of SwinIR, so nothing would read "
            "it; did you mean 'stage2.model.embed_dim'?",
        ),
        (
            "+data.patch_size=32",
            "'data.patch_size': not a parameter of VideoDataModule, so nothing would read it; "
            "did you mean 'data.batch_size'?",
        ),
        (
            "+trainer.max_step=3",
            "'trainer.max_step': not a parameter of Trainer, so nothing would read it; did you mean "
            "'trainer.max_steps'?",
        ),
    ],
)
def test_added_unknown_keys_are_refused_naming_the_key(override, line):
    cfg = _compose([override])  # Hydra itself accepts them
    with pytest.raises(UnknownConfigKey) as info:
        check_known_keys(cfg)
    assert str(info.value) == f"unknown config key {line}"


def _check_arm(overrides: list[str], arm: str) -> None:
    """What ``run.py`` does before any arm runs: compose the arm through Hydra and check it."""
    check_arm(arm, arm_config(_compose(overrides), arm, overrides))


def test_arm_overrides_are_checked_before_any_arm_runs():
    with pytest.raises(UnknownConfigKey) as info:
        _check_arm(["+experiment=ablation_pqf", "experiment.arms.pqf=['+stage1.max_step=3']"], "pqf")
    assert str(info.value) == (
        f"arm 'pqf': unknown config key 'stage1.max_step': {SCHEMA}; did you mean 'stage1.max_steps'?"
    )
    with pytest.raises(
        UnknownConfigKey,
        match=r"^arm 'pqf': unknown config key 'stage1\.model\.propagaton': not a parameter of BasicVSRPlusPlus",
    ):
        _check_arm(["+experiment=ablation_pqf", "experiment.arms.pqf=['+stage1.model.propagaton=pqf']"], "pqf")


def test_typos_inside_an_arms_phase_list_are_refused():
    overrides = [
        "+experiment=ablation_mse_finetune",
        "experiment.arms.three_step=['stage1.phases=[{loss: mse, stpes: 3}]']",
    ]
    with pytest.raises(BadArm) as info:
        _check_arm(overrides, "three_step")
    assert str(info.value) == (
        "arm 'three_step' of experiment 'ablation_mse_finetune': Could not override 'stage1.phases': "
        "Key 'stpes' not in 'TrainingPhase'"
    )


def test_keys_without_plus_still_fail_at_composition():
    with pytest.raises(ConfigCompositionException, match="stage1.max_step"):
        _compose(["stage1.max_step=3"])


@pytest.mark.parametrize(  # the fast tier checks one file; tests/jobs/test_experiments.py composes every one
    "name", [name if name == "baseline" else pytest.param(name, marks=pytest.mark.slow) for name in EXPERIMENTS]
)
def test_every_experiment_and_its_arms_pass(name):
    cfg = _compose([f"+experiment={name}"])
    check_known_keys(cfg)
    check_values(cfg)
    for arm in list(cfg.experiment.arms):
        _check_arm([f"+experiment={name}", f"arm={arm}"], arm)


def test_known_keys_added_to_free_form_sections_pass():
    check_known_keys(
        _compose(
            [
                "+trainer.max_time=00:00:05:00",
                "stage1.model.pqf_period=3",
                "data.patch=32",
                "+stage1.model._convert_=all",
            ]
        )
    )


@pytest.mark.slow  # a whole run.py process; the same refusal is checked in-process above
def test_run_py_exits_2_with_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "+stage1.max_step=3", f"paths.output_root={tmp_path}", "logger=none"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert (proc.returncode, proc.stderr, proc.stdout) == (
        2,
        f"error: unknown config key 'stage1.max_step': {SCHEMA}; did you mean 'stage1.max_steps'?\n",
        "",
    )
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (["stage1.max_steps=-5"], "config key 'stage1.max_steps' must be at least 1, got -5"),
        (["stage2.val_every=0"], "config key 'stage2.val_every' must be at least 1, got 0"),
        (["data.patch=0"], "config key 'data.patch' must be at least 1, got 0"),
        (
            ["+experiment=ablation_pqf", "experiment.arms.pqf=['stage1.max_steps=0']"],
            "arm 'pqf': config key 'stage1.max_steps' must be at least 1, got 0",
        ),
        (
            ["stage1.phases=[{loss: mse}]"],
            "config key 'stage1.phases[0].steps' is missing: every phase needs its number of steps",
        ),
        (
            ["stage1.phases=[{loss: mse, steps: 5}, {loss: mse, steps: 0}]"],
            "config key 'stage1.phases[1].steps' must be a whole number of at least 1, got 0",
        ),
        (
            ["+experiment=ablation_mse_finetune", "experiment.arms.three_step=['stage1.phases=[{loss: mse}]']"],
            "arm 'three_step': config key 'stage1.phases[0].steps' is missing: every phase needs its number of steps",
        ),
    ],
)
def test_impossible_counts_are_refused_naming_the_key(overrides, line):
    with pytest.raises(BadConfigValue) as info:
        check_values(cfg := _compose(overrides))
        for arm in list(cfg.experiment.arms):
            _check_arm(overrides, arm)
    assert str(info.value) == line


@pytest.mark.slow  # a whole run.py process; test_impossible_counts_are_refused_naming_the_key is in-process
def test_run_py_refuses_a_negative_step_count_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "stage1.max_steps=-5", f"paths.output_root={tmp_path}", "logger=none"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert (proc.returncode, proc.stderr, proc.stdout) == (
        2,
        "error: config key 'stage1.max_steps' must be at least 1, got -5\n",
        "",
    )
