"""An experiment's arms: each is a list of Hydra overrides, composed by Hydra on top of the run's own.

``experiment.arms`` maps an arm's name to overrides written as on the command line
(``stage2.init=scratch``, ``+data/cleaning=default``), so an arm can set any key or select a config
group. An arm's configuration is composed by Hydra from the run's own overrides followed by the arm's,
exactly as ``python run.py <run overrides> <arm overrides>`` would compose it. ``-m`` sweeps the arm
names: ``hydra.sweeper.params.arm`` in ``conf/train.yaml`` derives them with :func:`sweep_list`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
"""The configuration ``run.py`` composes (used where no Hydra application is running, as in the tests)."""


class BadArm(ValueError):
    """An arm's overrides do not compose (an unknown key, a wrong type, a missing config group option)."""


def arm_names(cfg: DictConfig) -> list[str]:
    """The experiment's arms; an experiment without arms has one, named after its baseline."""
    return list(cfg.experiment.arms) or [cfg.experiment.baseline_arm or "default"]


def sweep_list(arms: Mapping[str, object] | None) -> str:
    """``-m``'s sweep over the arms (``a,b,c``); ``null`` (every arm in one job) without arms."""
    return ",".join(str(name) for name in arms or {}) or "null"


def run_overrides() -> list[str]:
    """The overrides this Hydra run was started with (in a ``-m`` job: that job's, ``arm=...`` included)."""
    return list(HydraConfig.get().overrides.task)


def _compose(overrides: list[str]) -> DictConfig:
    if GlobalHydra.instance().is_initialized():  # inside run.py's Hydra application (or a test's context)
        return compose(config_name="train", overrides=overrides)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def _one_line(err: Exception) -> str:
    """Hydra's message and its cause on one line (Hydra spreads them over several)."""
    parts = [str(err).splitlines()[0] if str(err) else type(err).__name__]
    if err.__cause__ is not None and str(err.__cause__):
        parts.append(str(err.__cause__).splitlines()[0])
    return ": ".join(part.rstrip(".") for part in parts)


def arm_config(cfg: DictConfig, arm: str, overrides: Sequence[str]) -> DictConfig:
    """The configuration of one arm: Hydra composes the run's ``overrides``, then the arm's own."""
    arms = cfg.experiment.arms
    if arm not in arms and not (not arms and arm == arm_names(cfg)[0]):
        raise BadArm(f"unknown arm {arm!r}; experiment {cfg.experiment.name!r} has arms {list(arms)}")
    own = OmegaConf.to_container(arms[arm], resolve=False) if arm in arms else []  # ``${...}``: Hydra's to resolve
    assert isinstance(own, list)
    try:
        composed = _compose([*overrides, *(str(o) for o in own)])
    except (HydraException, OmegaConfBaseException) as err:
        raise BadArm(f"arm {arm!r} of experiment {cfg.experiment.name!r}: {_one_line(err)}") from None
    composed.arm = arm
    return composed


def arm_configs(cfg: DictConfig, overrides: Sequence[str]) -> dict[str, DictConfig]:
    """The selected arm's configuration (``arm=NAME``), or every arm's, in the experiment's order."""
    return {arm: arm_config(cfg, arm, overrides) for arm in ([cfg.arm] if cfg.arm else arm_names(cfg))}


def register_resolver() -> None:
    """``${arm_sweep:${experiment.arms}}``: the sweep list of ``hydra.sweeper.params.arm``."""
    if not OmegaConf.has_resolver("arm_sweep"):
        OmegaConf.register_new_resolver("arm_sweep", sweep_list)
