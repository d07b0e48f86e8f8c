"""Structured configuration of ``run.py``: a typo or a wrong type fails at start, naming the key.

Hydra composes ``conf/`` on top of :class:`TrainConfig` (registered as ``train_schema``). Sections
holding ``_target_`` objects (``data``, the networks) stay free-form: Hydra checks them when it
instantiates them, which is also before any training starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from vsr_lightning.systems.video_enhancer import EnhanceOptions


@dataclass
class OptimConfig:
    """Adam with linear warm-up and cosine restarts."""

    lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    weight_decay: float = 0.0
    warmup_steps: int = 10
    restart_periods: list[int] = field(default_factory=lambda: [1_000_000])


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
class StageOneConfig:
    """BasicVSR++ training. ``progressive`` = [[blocks, steps], ...] grows the trunk step by step."""

    model: Any = MISSING
    max_steps: int = 100
    val_every: int = 50
    batch_size: int | None = None
    loss: str = "charbonnier"
    mse_steps: int = 0
    """Final steps trained with MSE instead (the recipe's fine-tuning phase); 0 = none."""
    ema_decay: float | None = None
    flow_freeze_steps: int = 20
    flow_lr_mult: float = 0.25
    init: str | None = None
    """Checkpoint to start from (ours, or an official BasicVSR++ file); None = from scratch."""
    progressive: list[list[int]] | None = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    evaluation: EnhanceOptions = field(default_factory=EnhanceOptions)
    test_evaluation: EvaluationOverrides = field(default_factory=EvaluationOverrides)


@dataclass
class StageTwoConfig:
    """SwinIR refiner training on stage one's cached outputs."""

    model: Any = MISSING
    max_steps: int = 100
    val_every: int = 50
    batch_size: int = 8
    patch: int = 48
    loss: str = "charbonnier"
    mse_steps: int = 0
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

    max_steps: int = 150
    batch_size: int = 8
    patch: int = 48
    noise_sigma: list[float] = field(default_factory=lambda: [0.0, 50.0])
    """Noise standard deviation range on the 0-255 scale, drawn per image."""
    frames_per_video: int = 2
    loss: str = "charbonnier"
    optim: OptimConfig = field(default_factory=OptimConfig)


@dataclass
class ExperimentConfig:
    """The arms of an ablation and what they are compared on."""

    name: str = "default"
    arms: dict[str, Any] = field(default_factory=dict)
    """Arm name -> overrides merged onto the whole configuration for that arm (none: one arm named
    after ``baseline_arm``, or ``default``, with no overrides)."""
    baseline_arm: str | None = None
    compare_stage: str = "stage1"
    """Which stage's validation the arms are compared on: ``stage1`` or ``stage2``."""
    description: str = ""


@dataclass
class LoggerConfig:
    """W&B settings; ``mode: auto`` is online with credentials and offline without."""

    enabled: bool = True
    project: str = "vsr-lightning"
    entity: str | None = None
    mode: str = "auto"
    dir: str = "${paths.output_root}"
    tags: list[str] = field(default_factory=list)
    log_samples: bool = True


@dataclass
class PathsConfig:
    output_root: str = "outputs"
    """W&B runs and experiment folders (relative to where you run)."""
    runs_dir: str | None = None
    """Cached jobs (checkpoints, stage-one outputs); None: ``<cache>/runs``."""
    reports_dir: str = "experiments"


@dataclass
class TrainConfig:
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    arm: str | None = None
    """Run only this arm (what ``-m`` sweeps over); None: every arm in turn."""
    data: Any = MISSING
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
    """Make ``train_schema`` available to ``conf/train.yaml``'s defaults list."""
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
