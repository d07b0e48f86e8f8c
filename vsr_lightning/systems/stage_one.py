"""Stage one: BasicVSR++ (second-order or PQF propagation) trained on compressed/original clips."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from vsr_lightning.inference.protocol import require_inference_network
from vsr_lightning.inference.video import VideoModel
from vsr_lightning.systems.restoration_system import RestorationSystem


class StageOneSystem(RestorationSystem):
    """BasicVSR++ training: SPyNet frozen for the first ``flow_freeze_steps``, then at ``flow_lr_mult`` x lr.

    Extra args (see :class:`RestorationSystem` for the rest):
        flow_freeze_steps: steps during which the flow network gets no updates (5,000 in BasicVSR++).
        flow_lr_mult: learning-rate multiplier of the flow network afterwards (0.25 in BasicVSR++).
    """

    job_type = "stage1"

    def __init__(self, net: nn.Module, flow_freeze_steps: int = 0, flow_lr_mult: float = 0.25, **kwargs: Any):
        super().__init__(net, **kwargs)
        self.flow_freeze_steps, self.flow_lr_mult = flow_freeze_steps, flow_lr_mult
        self._set_flow_trainable(flow_freeze_steps <= 0)

    def _flow_parameters(self) -> list[nn.Parameter]:
        flow = require_inference_network(self.net, "stage-one network").flow_network
        return list(flow.parameters()) if flow is not None else []

    def _set_flow_trainable(self, trainable: bool) -> None:
        for p in self._flow_parameters():
            p.requires_grad_(trainable)

    def param_groups(self) -> list[dict[str, Any]]:
        flow = {id(p) for p in self._flow_parameters()}
        rest = [p for p in self.net.parameters() if id(p) not in flow]
        groups = [{"params": rest, "name": "net"}]
        if flow:
            groups.append(
                {"params": self._flow_parameters(), "name": "flow", "lr": self.hparams.lr * self.flow_lr_mult}
            )
        return groups

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_start(batch, batch_idx)
        self._set_flow_trainable(self.global_step >= self.flow_freeze_steps)

    def training_pair(self, batch: dict) -> tuple[Tensor, Tensor]:
        return self.net(batch["lq"], pqf=batch["pqf"]), batch["gt"]

    def video_model(self, net: nn.Module) -> VideoModel:
        def run(x: Tensor, pqf: Tensor | None = None) -> Tensor:
            return net(x, pqf=pqf)

        return run
