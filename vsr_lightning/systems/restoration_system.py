"""What both stages share: loss phases, optimiser and schedule, EMA, and per-video validation.

Subclasses say how a training batch feeds the network and how the network enhances a whole video;
everything else (Charbonnier then MSE, warm-up + cosine restarts, EMA weights, duplicate-aware
chunked evaluation with optional TTA, per-video PSNR/SSIM) lives here once.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from vsr_lightning.inference.video import EnhanceOptions, VideoModel, enhance_video
from vsr_lightning.metrics.video_quality import VideoScores, aggregate, frame_psnr, score_video
from vsr_lightning.report import run_schema as keys
from vsr_lightning.systems.losses import make_loss
from vsr_lightning.systems.lr_schedule import warmup_cosine_restarts

STAGE1_PSNR = "val/stage1/psnr"
"""Stage two only: mean PSNR of its input (stage one's output), to show the refiner's own gain."""
STAGE1_PREFIX = "val/stage1/"


class RestorationSystem(L.LightningModule):
    """Base LightningModule of the two stages.

    Args:
        net: the network (a plain ``nn.Module`` from ``vsr_lightning.models``).
        loss: ``"charbonnier"`` (default) or ``"mse"``; a later training phase with another loss is a job of
            its own (``stage1.phases``).
        lr, betas, weight_decay: Adam settings.
        warmup_steps, restart_periods: schedule (linear warm-up, then cosine cycles of these lengths).
        ema_decay: keep an exponential moving average of the weights and evaluate it; None: off.
        evaluation: :class:`EnhanceOptions` fields for validation; ``test_evaluation`` overrides for testing.
        crop_border: pixels ignored at each border by the metrics (0 = NTIRE/BasicSR default).
        sample_crop: size of the crops kept for the logged sample images.
        lineage: where the weights came from (progressive growth, pre-training), for logs and checkpoints.
        model_config: the network's Hydra config (``_target_`` + arguments), saved in checkpoints so
            ``enhance`` and later jobs can rebuild the network from the file alone.
    """

    job_type = "stage1"

    def __init__(
        self,
        net: nn.Module,
        loss: str = "charbonnier",
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        restart_periods: tuple[int, ...] | list[int] = (100_000,),
        ema_decay: float | None = None,
        evaluation: dict | None = None,
        test_evaluation: dict | None = None,
        crop_border: int = 0,
        sample_crop: int = 96,
        lineage: list[dict] | None = None,
        model_config: dict | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.save_hyperparameters(ignore=["net"])
        self.model_config = model_config
        self.loss_name = loss
        self.loss_fn = make_loss(loss)
        self.ema = (
            AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True) if ema_decay else None
        )
        self.eval_options = EnhanceOptions(**(evaluation or {}))
        self.test_options = EnhanceOptions(**{**asdict(self.eval_options), **(test_evaluation or {})})
        self.crop_border, self.sample_crop = crop_border, sample_crop
        self.lineage = list(lineage or [])
        self.val_scores: list[VideoScores] = []
        self.val_samples: dict[str, dict[str, Tensor]] = {}
        self.val_input_psnr: dict[str, float] = {}  # stage two: PSNR of stage one's output per video
        self.val_history: list[tuple[float, float]] = []  # (train seconds, val PSNR)
        self.last_val_metrics: dict[str, float] = {}
        self._train_seconds = 0.0
        self._step_started: float | None = None
        self._step_seed = torch.initial_seed()  # the job's seed (set just before); kept in checkpoints

    # -- hooks for subclasses --------------------------------------------------------------------
    def training_pair(self, batch: dict) -> tuple[Tensor, Tensor]:
        """(prediction, target) of a training batch."""
        raise NotImplementedError

    def video_model(self, net: nn.Module) -> VideoModel:
        """``net`` as a function enhancing ``(N, T, 3, H, W)`` videos."""
        raise NotImplementedError

    def param_groups(self) -> list[dict[str, Any]]:
        return [{"params": [p for p in self.net.parameters() if p.requires_grad], "name": "net"}]

    # -- training --------------------------------------------------------------------------------
    @property
    def eval_net(self) -> nn.Module:
        """The weights evaluation uses: the EMA copy when enabled."""
        return self.ema.module if self.ema is not None else self.net

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        pred, target = self.training_pair(batch)
        loss = self.loss_fn(pred, target)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {self.global_step}; lower lr or add warm-up")
        self.log("train/loss", loss, prog_bar=True, batch_size=target.shape[0])
        return loss

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self._step_started = time.perf_counter()
        # any randomness of the step itself (dropout, drop-path) is a function of (seed, step): exact resume
        torch.manual_seed(step_seed(self._step_seed, self.global_step))

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.net)
        if self._step_started is not None:
            self._train_seconds += time.perf_counter() - self._step_started
        self.log("time/train_seconds", self._train_seconds, on_step=True, on_epoch=False)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(
            self.param_groups(),
            lr=self.hparams.lr,
            betas=tuple(self.hparams.betas),
            weight_decay=self.hparams.weight_decay,
        )
        warmup, periods = self.hparams.warmup_steps, list(self.hparams.restart_periods)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine_restarts(step, warmup, periods)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # -- evaluation ------------------------------------------------------------------------------
    def _evaluate(self, batch: dict, options: EnhanceOptions) -> None:
        lq, gt, pqf = batch["lq"][0], batch["gt"][0], batch["pqf"][0]
        source = batch["input"][0] if "input" in batch else lq
        output = enhance_video(
            self.video_model(self.eval_net), source, pqf.cpu(), batch["duplicates"][0], options, device=self.device
        )
        name = batch["video"][0]
        gt_cpu, lq_cpu = gt.cpu(), lq.cpu()
        self.val_scores.append(score_video(name, output, lq_cpu, gt_cpu, self.crop_border, pqf.cpu()))
        if "input" in batch:  # stage two: also score its input, stage one's output
            self.val_input_psnr[name] = float(frame_psnr(source.cpu(), gt_cpu, self.crop_border).mean())
        self.val_samples[name] = self._crops(output, lq_cpu, gt_cpu, source.cpu() if "input" in batch else None)

    def _crops(self, output: Tensor, lq: Tensor, gt: Tensor, stage1: Tensor | None) -> dict[str, Tensor]:
        t, _, h, w = gt.shape
        s = min(self.sample_crop, h, w)
        y, x, k = (h - s) // 2, (w - s) // 2, t // 2
        crops = {
            "lq": lq[k, :, y : y + s, x : x + s],
            "output": output[k, :, y : y + s, x : x + s].clamp(0, 1),
            "gt": gt[k, :, y : y + s, x : x + s],
        }
        if stage1 is not None:
            crops["stage1"] = stage1[k, :, y : y + s, x : x + s]
        return crops

    def on_validation_epoch_start(self) -> None:
        self.val_scores, self.val_samples, self.val_input_psnr = [], {}, {}

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, self.eval_options)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, self.test_options)

    def on_test_epoch_start(self) -> None:
        self.on_validation_epoch_start()

    def _log_scores(self) -> None:
        if not self.val_scores:
            return
        overall = aggregate(self.val_scores)
        metrics = {keys.OVERALL_KEYS[k]: v for k, v in overall.items()}
        for s in self.val_scores:
            for metric, value in s.means().items():
                metrics[keys.video_metric_key(s.video, metric)] = value
        if self.val_input_psnr:
            metrics[STAGE1_PSNR] = sum(self.val_input_psnr.values()) / len(self.val_input_psnr)
            for video, value in self.val_input_psnr.items():
                metrics[f"{STAGE1_PREFIX}{video}/psnr"] = value
        for key, value in metrics.items():
            self.log(key, value, prog_bar=key == keys.VAL_PSNR, batch_size=1, sync_dist=False, rank_zero_only=True)
        self.last_val_metrics = metrics
        if not self.trainer.sanity_checking:
            self.val_history.append((self._train_seconds, overall["psnr"]))

    def on_validation_epoch_end(self) -> None:
        self._log_scores()

    def on_test_epoch_end(self) -> None:
        self._log_scores()

    # -- checkpoints -----------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["vsr_lineage"] = self.lineage
        checkpoint["vsr_model"] = self.model_config
        checkpoint["vsr_job_type"] = self.job_type
        checkpoint["vsr_train_seconds"] = self._train_seconds
        checkpoint["vsr_val_history"] = self.val_history
        checkpoint["vsr_step_seed"] = self._step_seed

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.lineage = checkpoint.get("vsr_lineage", self.lineage)
        self._train_seconds = checkpoint.get("vsr_train_seconds", 0.0)
        self.val_history = [tuple(v) for v in checkpoint.get("vsr_val_history", [])]
        self._step_seed = checkpoint.get("vsr_step_seed", self._step_seed)

    def time_to_final_psnr(self, tolerance_db: float = 0.005) -> float | None:
        """Training seconds until validation first came within ``tolerance_db`` of its final PSNR."""
        if not self.val_history:
            return None
        final = self.val_history[-1][1]
        return next(t for t, psnr in self.val_history if psnr >= final - tolerance_db)


def step_seed(seed: int, step: int) -> int:
    """Seed of the global torch generator for training step ``step`` (a hash of seed and step)."""
    return int(np.random.SeedSequence([int(seed) % 2**63, 2, int(step)]).generate_state(1, np.uint64)[0])
