"""Our own Lightning checkpoints as the loading door (:mod:`~vsr_lightning.models.loading`) reads them.

``state_dict`` holds ``net.<key>`` (and ``ema.module.<key>`` plus ``ema.n_averaged`` when EMA is on),
``vsr_model`` the network's Hydra config and ``vsr_job_type`` the stage that wrote it
(:class:`~vsr_lightning.systems.restoration_system.RestorationSystem` writes them). A config read from a
file is untrusted: it is only ever built through :mod:`~vsr_lightning.systems.network_allowlist`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from torch import Tensor

Kind = Literal["stage1", "stage2"]

NET_PREFIX = "net."
EMA_PREFIX = "ema.module."
JOB_TYPES: dict[str, tuple[str, ...]] = {"stage1": ("stage1",), "stage2": ("stage2", "pretrain")}
"""Which ``vsr_job_type`` values each stage accepts (a denoising pre-training is a valid stage-two start)."""


def check_kind(kind: str) -> None:
    if kind not in JOB_TYPES:
        raise ValueError(f"kind must be 'stage1' or 'stage2', got {kind!r}")


def is_lightning_checkpoint(obj: Mapping[str, Any]) -> bool:
    """Ours when it carries ``vsr_model`` or its state dict holds ``net.*`` keys (a LightningModule's ``net``)."""
    if "vsr_model" in obj:
        return True
    sd = obj.get("state_dict")
    return isinstance(sd, Mapping) and any(str(k).startswith(NET_PREFIX) for k in sd)


def check_job_type(obj: Mapping[str, Any], kind: str, path: str | Path) -> None:
    """Refuse a checkpoint that another stage wrote (a stage-two refiner cannot serve as stage one)."""
    job = obj.get("vsr_job_type")
    if job is not None and job not in JOB_TYPES[kind]:
        raise ValueError(
            f"checkpoint {path}: written by a {job!r} job, cannot serve as {kind} (expected one of {JOB_TYPES[kind]})"
        )


def lightning_state_dict(obj: Mapping[str, Any], path: str | Path, prefer_ema: bool = True) -> dict[str, Tensor]:
    """The network's weights of one of our checkpoints: the EMA copy when present and preferred."""
    sd = obj.get("state_dict")
    if not isinstance(sd, Mapping):
        raise ValueError(f"checkpoint {path}: has 'vsr_model' but no 'state_dict' with the network's weights")
    net = {k[len(NET_PREFIX) :]: v for k, v in sd.items() if k.startswith(NET_PREFIX)}
    ema = {k[len(EMA_PREFIX) :]: v for k, v in sd.items() if k.startswith(EMA_PREFIX)}
    chosen = ema if (prefer_ema and ema) or not net else net
    if not chosen:
        raise ValueError(f"checkpoint {path}: state_dict holds no 'net.*' or 'ema.module.*' weights")
    bad = [k for k, v in chosen.items() if not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f"checkpoint {path}: non-tensor network entries {bad[:5]}")
    return chosen


def network_config(
    obj: Mapping[str, Any], model_config: Mapping[str, Any] | None, path: str | Path
) -> Mapping[str, Any]:
    """The config to rebuild the network from: the file's ``vsr_model``, replaced by a ``model_config`` with
    a ``_target_`` or overridden by one without (still untrusted either way: build it through the allowlist)."""
    config = obj.get("vsr_model")
    if model_config is not None and "_target_" in model_config:
        config = model_config
    elif isinstance(config, Mapping) and model_config:
        config = {**config, **model_config}
    if not isinstance(config, Mapping):
        raise ValueError(f"checkpoint {path}: no 'vsr_model' config to rebuild the network from; pass model_config")
    return config
