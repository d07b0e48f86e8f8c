"""What the inference engine asks of a network, instead of probing it for attributes.

Both networks of the recipe implement it (``BasicVSRPlusPlus``, ``SwinIR``); ``models/`` does not import
this file, the conformance is structural and checked where a network enters the engine.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor, nn


@runtime_checkable
class InferenceNetwork(Protocol):
    """A network the engine can tile, plan memory for and train with a separate flow learning rate."""

    @property
    def size_multiple(self) -> int:
        """Tile sides are rounded down to a multiple of this (the network's downsampling or window)."""
        ...

    @property
    def flow_network(self) -> nn.Module | None:
        """The optical-flow sub-network (its own learning rate and freeze in training), or None."""
        ...

    def inference_bytes(self, frames: int, height: int, width: int) -> int:
        """Estimated working set of one inference-mode forward on ``frames`` frames of ``height x width``."""
        ...

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor: ...


def require_inference_network(net: object, what: str) -> InferenceNetwork:
    """``net`` itself if it implements :class:`InferenceNetwork`, else a TypeError naming what is missing."""
    if isinstance(net, InferenceNetwork):
        return net
    missing = [name for name in ("size_multiple", "flow_network", "inference_bytes") if not hasattr(net, name)]
    raise TypeError(f"{what}: {type(net).__name__} is not an InferenceNetwork (missing {', '.join(missing)})")
