"""Structured configuration of ``run.py``: a typo or a wrong type fails at start, naming the key.

Hydra composes ``conf/`` on top of :class:`TrainConfig` (registered as ``train_schema``). Sections
holding ``_target_`` objects (``data``, the networks) stay free-form: Hydra checks them when it
instantiates them, which is also before any training starts. Hydra lets ``+key=value`` add a key the
schema does not have (and that key would still change a job's cache key), so :func:`check_known_keys`
walks the composed configuration, and :func:`check_arm` each arm's composed configuration, against the
schema before anything runs.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from vsr_lightning.data.dataset_roots import bad_data_roots
from vsr_lightning.jobs import arms
from vsr_lightning.systems.video_enhancer import EnhanceOptions


@dataclass
class OptimConfig:
    """Adam with linear warm-up and cosine restarts (each stage's values: ``conf/train.yaml``)."""

    lr: float = MISSING
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    weight_decay: float = 0.0
    warmup_steps: int = MISSING
    restart_periods: list[int] = MISSING


@dataclass
class EvaluationOverrides:
    """Test-time changes to the validation options (None: as in validation), e.g. ``tta: true``."""

    chunk: int | None = None
    chunk_overlap: int | None = None
    tile: int | None = None
    tile_overlap: int | None = None
    tta: bool | None = None
    temporal_tta: bool | None = None
    dedup: bool | None = None


@dataclass
class TrainingPhase:
    """One more phase of stage-one training: its loss, its steps and, optionally, its own training data."""

    loss: str = "mse"
    steps: int = MISSING
    train_sources: list[Any] | None = None
    """Data sources as in ``data.train_sources`` (None: the same data as before), e.g. the official data only."""
    lr: float | None = None
    """Peak learning rate of this phase's warm-up and cosine cycle (None: ``optim.lr``)."""


@dataclass
class StageOneConfig:
    """BasicVSR++ training. ``progressive`` = [[blocks, steps], ...] grows the trunk step by step.

    Fields without a default here take their value from ``conf/train.yaml`` (one home per setting)."""

    model: Any = MISSING
    max_steps: int = MISSING
    val_every: int = MISSING
    batch_size: int | None = MISSING
    """Clips per step (None: ``data.batch_size``)."""
    loss: str = "charbonnier"
    phases: list[TrainingPhase] = field(default_factory=list)
    """Phases after the first (the training above: ``loss``, ``max_steps`` or ``progressive``), each a job of
    its own from the previous phase's weights: the winners' MSE on all data, then MSE on the official data."""
    ema_decay: float | None = None
    flow_freeze_steps: int = MISSING
    """Steps SPyNet stays frozen at the start of training (BasicVSR++: 5000 with pretrained flow weights)."""
    flow_lr_mult: float = 0.25
    init: str | None = MISSING
    """Checkpoint to start from (ours, or an official BasicVSR++ file); None = from scratch."""
    progressive: list[list[int]] | None = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    evaluation: EnhanceOptions = field(default_factory=EnhanceOptions)
    test_evaluation: EvaluationOverrides = field(default_factory=EvaluationOverrides)


@dataclass
class StageTwoConfig:
    """SwinIR refiner training on stage one's cached outputs."""

    model: Any = MISSING
    max_steps: int = MISSING
    val_every: int = MISSING
    batch_size: int = MISSING
    patch: int = MISSING
    loss: str = "charbonnier"
    ema_decay: float | None = None
    init: str = "scratch"
    """``scratch``, ``pretrain`` (the framework's own denoising pre-training) or a checkpoint path."""
    outputs_max_frames: int | None = 12
    """Stage-one outputs cached per training video (None: all frames)."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    evaluation: EnhanceOptions = field(default_factory=EnhanceOptions)
    test_evaluation: EvaluationOverrides = field(default_factory=EvaluationOverrides)


@dataclass
class PretrainConfig:
    """Gaussian colour denoising pre-training of the refiner (stills + training GT frames)."""

    max_steps: int = MISSING
    batch_size: int = 8
    patch: int = 48
    noise_sigma: list[float] = field(default_factory=lambda: [0.0, 50.0])
    """Noise standard deviation range on the 0-255 scale, drawn per image."""
    frames_per_video: int = 2
    loss: str = "charbonnier"
    optim: OptimConfig = field(default_factory=OptimConfig)
    val_every: int | None = None
    """Checkpoint interval in steps (no validation here; resume is exact); None: at the end only."""


@dataclass
class ExperimentConfig:
    """The arms of an ablation and what they are compared on."""

    name: str = MISSING
    arms: dict[str, list[str]] = field(default_factory=dict)
    """Arm name -> Hydra overrides composed after the run's own for that arm (``stage2.init=scratch``,
    ``+data/cleaning=default``); none: one arm named after ``baseline_arm``, or ``default``."""
    baseline_arm: str | None = MISSING
    compare_stage: str = MISSING
    """Which stage's validation the arms are compared on: ``stage1`` or ``stage2``."""
    description: str = MISSING


@dataclass
class LoggerConfig:
    """W&B settings (their values: ``conf/logger/wandb.yaml``); ``mode: auto`` is online with credentials."""

    enabled: bool = MISSING
    project: str = MISSING
    entity: str | None = MISSING
    mode: str = MISSING
    dir: str = MISSING
    tags: list[str] = MISSING
    log_samples: bool = MISSING
    init_timeout: float = MISSING
    """Seconds an online run waits for the server before it logs offline instead."""
    offline_fallback: bool = MISSING
    """False: an unreachable server stops the run at once (naming the server) instead of logging offline."""


@dataclass
class PathsConfig:
    output_root: str = "outputs"
    """W&B runs and experiment folders (relative to where you run)."""
    runs_dir: str | None = None
    """Cached jobs (checkpoints, stage-one outputs); None: ``<cache>/runs``."""
    reports_dir: str = "experiments"
    ldv2_root: str | None = "${oc.env:VSR_LDV2_ROOT,null}"
    """LDV 2.0 imported by ``prepare --pairs`` (``conf/data/ldv2.yaml``); ``$VSR_LDV2_ROOT`` or ``conf/local/``."""
    mfqe2_root: str | None = "${oc.env:VSR_MFQE2_ROOT,null}"
    """MFQE 2.0 imported by ``prepare --pairs`` (``conf/data/mfqe2.yaml``)."""


@dataclass
class TrainConfig:
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    arm: str | None = None
    """Run only this arm (what ``-m`` sweeps over); None: every arm in turn."""
    data: Any = MISSING
    sources: dict[str, Any] = field(default_factory=dict)
    """Named training sources (entries of ``data.train_sources``) that arms and phases refer to, e.g.
    ``data.train_sources=[${sources.official}]``: each subset of the data is written once."""
    stage1: StageOneConfig = field(default_factory=StageOneConfig)
    stage2: StageTwoConfig = field(default_factory=StageTwoConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    trainer: dict[str, Any] = field(default_factory=dict)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    seed: int = 0
    crop_border: int = 0
    report: bool = True
    steps_cap: int | None = None
    """Cap on every job's training steps, progressive steps included (smoke tests: ``steps_cap=2``)."""


def register_configs() -> None:
    """Make ``train_schema`` available to ``conf/train.yaml``'s defaults list, and its ``arm_sweep`` resolver."""
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
    arms.register_resolver()


class UnknownConfigKey(ValueError):
    """A key the schema does not know: a typo, or a ``+key`` that nothing reads."""


class BadConfigValue(ValueError):
    """A known key with a value no job can run with (``stage1.max_steps=-5``)."""


def _schema_fields(schema: type) -> dict[str, Any]:
    hints = typing.get_type_hints(schema)
    return {f.name: hints[f.name] for f in dataclasses.fields(schema)}


def _problem(key: str, known: list[str], prefix: str, where: str) -> tuple[str, str]:
    """(dotted key, what is wrong with it, with the closest known key when there is one)."""
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {prefix + close[0]!r}?" if close else ""
    return f"{prefix}{key}", f"not {where}, so nothing would read it{hint}"


def unknown_keys(cfg: Mapping[str, Any], schema: type = TrainConfig, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, problem) for every key of ``cfg`` outside ``schema``.

    Only dataclass-typed sections are walked: ``Any`` and ``dict`` ones (networks, data, trainer, arms)
    are free-form by design.
    """
    fields = _schema_fields(schema)
    for key in cfg:
        if key not in fields:
            yield _problem(str(key), list(fields), prefix, "in the schema (vsr_lightning/config_schema.py)")
            continue
        if OmegaConf.is_config(cfg) and OmegaConf.is_missing(cfg, key):
            continue  # a value still to be given (a phase's ``steps``): check_values names it
        kind, value = fields[key], cfg[key]
        if dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
            yield from unknown_keys(value, kind, f"{prefix}{key}.")
        elif (item := _list_item_schema(kind)) and isinstance(value, Sequence) and not isinstance(value, str):
            for i, entry in enumerate(value):  # ``stage1.phases``: a list of schema entries
                if isinstance(entry, Mapping):
                    yield from unknown_keys(entry, item, f"{prefix}{key}[{i}].")


def _list_item_schema(kind: Any) -> type | None:
    """The dataclass of ``list[Dataclass]`` (``stage1.phases``), else None."""
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind)
        return item if dataclasses.is_dataclass(item) else None
    return None


def _section(cfg: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    for key in keys:
        value = cfg.get(key) if isinstance(cfg, Mapping) else None
        cfg = value if isinstance(value, Mapping) else {}
    return cfg


TARGET_SECTIONS: dict[tuple[str, ...], str | None] = {
    ("stage1", "model"): None,
    ("stage2", "model"): None,
    ("data",): None,
    ("trainer",): "lightning.pytorch.Trainer",
}
"""Free-form sections built from a ``_target_`` (or, for ``trainer``, passed to Lightning's Trainer): their
keys are checked against that constructor."""


def _constructor_params(target: Any) -> list[str] | None:
    """Keyword parameters of the class a (trusted, composed) ``_target_`` names; None: anything goes."""
    from hydra.utils import get_class

    try:
        params = inspect.signature(get_class(target)).parameters.values()
    except (ImportError, ValueError, TypeError):
        return None  # Hydra's instantiate reports it
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def unknown_target_keys(cfg: Mapping[str, Any], root: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Keys of the networks and the data module that their constructors do not take.

    The class is the section's ``_target_`` (for an arm's partial override: the root's); Hydra's own
    ``_name_`` keys pass.
    """
    for path, default in TARGET_SECTIONS.items():
        section = _section(cfg, *path)
        target = section.get("_target_", _section(root, *path).get("_target_", default))
        params = _constructor_params(target) if isinstance(target, str) and section else None
        if params is None:
            continue
        for key in section:
            if not (key in params or (str(key).startswith("_") and str(key).endswith("_"))):
                yield _problem(
                    str(key), params, f"{prefix}{'.'.join(path)}.", f"a parameter of {str(target).rsplit('.', 1)[-1]}"
                )


def check_known_keys(cfg: Mapping[str, Any]) -> None:
    """Refuse the first unknown key of the composed configuration, naming it."""
    found = [*unknown_keys(cfg), *unknown_target_keys(cfg, cfg)]
    if found:
        key, problem = found[0]
        raise UnknownConfigKey(f"unknown config key {key!r}: {problem}")


POSITIVE_KEYS: dict[str, tuple[str, ...]] = {
    "stage1": ("max_steps", "val_every", "batch_size"),
    "stage2": ("max_steps", "val_every", "batch_size", "patch"),
    "pretrain": ("max_steps", "val_every", "batch_size", "patch"),
    "data": ("window", "patch", "batch_size", "samples_per_epoch"),
}
"""Counts that must be at least 1 where they are set (None keeps a key's "off" or "inherit" meaning)."""


def bad_values(cfg: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, problem) for every step count, interval or size below 1."""
    for section, keys in POSITIVE_KEYS.items():
        values = _section(cfg, section)
        for key in keys:
            value = values.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                yield f"{prefix}{section}.{key}", f"must be a whole number, got {value!r}"
            elif value < 1:
                yield f"{prefix}{section}.{key}", f"must be at least 1, got {value}"


def bad_phases(cfg: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, problem) for a later training phase without a positive step count."""
    phases = _section(cfg, "stage1").get("phases") if "stage1" in cfg else None
    for i, phase in enumerate(phases or []):
        key = f"{prefix}stage1.phases[{i}].steps"
        missing = OmegaConf.is_config(phase) and OmegaConf.is_missing(phase, "steps")
        if not isinstance(phase, Mapping) or missing or "steps" not in phase:
            yield key, "is missing: every phase needs its number of steps"
        elif isinstance(phase["steps"], bool) or not isinstance(phase["steps"], int) or phase["steps"] < 1:
            yield key, f"must be a whole number of at least 1, got {phase['steps']!r}"


def check_values(cfg: Mapping[str, Any]) -> None:
    """Refuse the first impossible count of the composed configuration, naming it."""
    found = [*bad_values(cfg), *bad_phases(cfg), *bad_data_roots(cfg)]
    if found:
        key, problem = found[0]
        raise BadConfigValue(f"config key {key!r} {problem}")


def check_arm(arm: str, cfg: Mapping[str, Any]) -> None:
    """:func:`check_known_keys` and :func:`check_values` on one arm's composed configuration, naming the arm."""
    try:
        check_known_keys(cfg)
        check_values(cfg)
    except (UnknownConfigKey, BadConfigValue) as exc:
        raise type(exc)(f"arm {arm!r}: {exc}") from None
