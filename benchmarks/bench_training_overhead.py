"""Framework overhead: one Lightning training step of the stage-one module vs a hand-written loop.

    python benchmarks/bench_training_overhead.py [--steps 20] [--threads 2]

Same tiny BasicVSR++, same in-memory batch (2 x 7 x 3 x 64 x 64), same Adam + Charbonnier; the
Lightning side runs through ``StageOneSystem`` and ``Trainer`` (no logger, no checkpoints, no
progress bar), the plain side is ``zero_grad / forward / backward / step``. Prints seconds per step
and the ratio (target: at most 1.05).
"""

from __future__ import annotations

import argparse
import time

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.systems.losses import CharbonnierLoss
from vsr_lightning.systems.stage_one import StageOneSystem


class FixedBatches(Dataset):
    def __init__(self, batch: dict, n: int) -> None:
        self.batch, self.n = batch, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        return self.batch


def make_net() -> BasicVSRPlusPlus:
    torch.manual_seed(0)
    net = BasicVSRPlusPlus(mid_channels=16, num_blocks=1, num_reconstruction_blocks=2, deform_groups=8, hr_channels=16)
    for p in net.spynet.parameters():
        p.requires_grad_(False)
    return net


def plain_loop(batch: dict, steps: int) -> float:
    net = make_net()
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-4)
    loss_fn = CharbonnierLoss()
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(batch["lq"], pqf=batch["pqf"]), batch["gt"])
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return sum(times[1:]) / steps


class StepTimer(L.Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_start(self, *args) -> None:
        self._t = time.perf_counter()

    def on_train_batch_end(self, *args) -> None:
        self.times.append(time.perf_counter() - self._t)


def lightning_loop(batch: dict, steps: int) -> float:
    system = StageOneSystem(make_net(), flow_freeze_steps=10**9, lr=1e-4, warmup_steps=0)
    single = {k: v[0] for k, v in batch.items()}
    loader = DataLoader(FixedBatches(single, (steps + 1) * batch["lq"].shape[0]), batch_size=batch["lq"].shape[0])
    timer = StepTimer()
    trainer = L.Trainer(
        max_steps=steps + 1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(system, train_dataloaders=loader)
    return sum(timer.times[1:]) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    batch = {
        "lq": torch.rand(2, 7, 3, 64, 64, generator=g),
        "gt": torch.rand(2, 7, 3, 64, 64, generator=g),
        "pqf": torch.tensor([[k % 4 == 0 for k in range(7)]] * 2),
    }
    plain = plain_loop(batch, args.steps)
    lightning = lightning_loop(batch, args.steps)
    print(f"plain PyTorch loop : {plain:.3f} s/step")
    print(f"Lightning module   : {lightning:.3f} s/step")
    print(f"overhead ratio     : {lightning / plain:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
