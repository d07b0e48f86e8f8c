"""Main entry point: ``python run.py [+experiment=NAME] [overrides]`` (Hydra).

Runs the experiment's arms (each with its prerequisites, cached), logs every arm as a W&B run in
the experiment's group, prints the per-video PSNR table and writes the report to
``experiments/<name>/``. ``-m`` sweeps the arms as separate jobs (``hydra/launcher=submitit_slurm``
sends them to SLURM).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from vsr_lightning.config_schema import (
    BadConfigValue,
    UnknownConfigKey,
    check_arm,
    check_known_keys,
    check_values,
    register_configs,
)
from vsr_lightning.jobs.arms import BadArm, arm_configs, run_overrides
from vsr_lightning.jobs.experiment_runner import run_experiment
from vsr_lightning.jobs.wandb_runs import WandbUnreachable

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    try:  # Hydra lets ``+key=value`` add a key the schema lacks: refuse it (in any arm) before anything runs
        check_known_keys(cfg)
        check_values(cfg)
        arms = arm_configs(cfg, run_overrides())  # each arm composed by Hydra: the run's overrides, then its own
        for arm, arm_cfg in arms.items():
            check_arm(arm, arm_cfg)
    except (UnknownConfigKey, BadConfigValue, BadArm) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        run_experiment(cfg, arms)
    except WandbUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
