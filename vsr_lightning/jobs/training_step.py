"""One stage-one training job in the plan: a progressive-growth step or a later phase of the recipe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrainingStep:
    """``phase`` 0 is the first training (its progressive steps, or the one job); later phases (the winners'
    MSE on all data, then MSE on the official data only) start from the previous job's weights with their
    own loss, learning-rate cycle and, optionally, their own training sources."""

    blocks: int
    steps: int
    phase: int
    loss: str
    train_sources: list[dict[str, Any]] | None = None
    lr: float | None = None

    def describe(self) -> dict[str, Any]:
        """What a later phase changes, for its job key and its lineage."""
        return {"phase": self.phase, "loss": self.loss, "train_sources": self.train_sources, "lr": self.lr}
