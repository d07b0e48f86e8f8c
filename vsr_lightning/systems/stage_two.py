"""Stage two: a SwinIR refiner applied frame by frame to stage one's output (or to noisy stills when
it is pre-trained as a denoiser)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from vsr_lightning.inference.protocol import require_inference_network
from vsr_lightning.inference.tiling import framewise
from vsr_lightning.inference.video import VideoModel
from vsr_lightning.systems.restoration_system import RestorationSystem


class StageTwoSystem(RestorationSystem):
    """Single-frame refiner. Training batches are ``(N, 1, 3, P, P)`` windows (or ``(N, 3, P, P)`` images).

    Extra args: ``frame_batch`` frames per forward pass at evaluation; ``job_type`` ``"stage2"`` or
    ``"pretrain"`` (the denoising pre-training uses this same system on noisy stills).
    """

    def __init__(self, net: nn.Module, frame_batch: int = 4, job_type: str = "stage2", **kwargs: Any) -> None:
        evaluation = dict(kwargs.get("evaluation") or {})
        multiple = require_inference_network(net, "stage-two network").size_multiple
        evaluation["multiple"] = max(int(evaluation.get("multiple", 1)), multiple)
        kwargs["evaluation"] = evaluation
        super().__init__(net, **kwargs)
        self.frame_batch = frame_batch
        self.job_type = job_type

    def training_pair(self, batch: dict) -> tuple[Tensor, Tensor]:
        x, y = batch["lq"], batch["gt"]
        if x.dim() == 5:
            x, y = x.flatten(0, 1), y.flatten(0, 1)
        return self.net(x), y

    def video_model(self, net: nn.Module) -> VideoModel:
        return framewise(net, batch=self.frame_batch)
