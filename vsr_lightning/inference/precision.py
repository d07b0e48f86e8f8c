"""bf16 autocast around a network, for GPUs (``enhance --bf16``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


def under_autocast(fn: Callable[..., Tensor], device: torch.device, bf16: bool) -> Callable[..., Tensor]:
    """``fn`` run under bf16 autocast on ``device``'s type when ``bf16`` (the autocast context is entered
    either way, disabled without ``bf16``, as the networks were always run)."""

    def run(*args: Any, **kwargs: Any) -> Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            return fn(*args, **kwargs)

    return run
