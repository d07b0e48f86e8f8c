"""What a GPU changes: CUDA against CPU outputs, bf16 accuracy, paper-scale training steps, and memory plans.

Three parts, each printed as a small table:

1. **parity**: the same weights (random, perturbed so the output head is not zero) on the CPU in float32 and on
   the device in float32 (TF32 off) and under bf16 autocast; max |difference| and the PSNR between outputs.
2. **train step**: forward + Charbonnier loss + backward + Adam at the ``paper_scale`` shapes (stage one: 30
   frames of 256x256, batch 1, with 5 and 55 reconstruction blocks; stage two: SwinIR-M, batch 8 of 128x128), in
   float32 and in bf16 autocast (``trainer=gpu`` uses ``bf16-mixed``), with the peak device memory.
3. **memory plan**: the peak allocated by one inference-mode forward against the models' ``inference_bytes``
   estimate, which ``enhance --tile auto`` plans with (calibrated on the CPU allocator).

    python benchmarks/bench_cuda.py                 # on a machine with a GPU
    python benchmarks/bench_cuda.py --device cpu --quick   # smoke run of the script itself
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import torch
from torch import nn

from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.swinir import swinir_m, swinir_small


def stage_one(recon_blocks: int = 5) -> BasicVSRPlusPlus:
    return BasicVSRPlusPlus(mid_channels=64, num_blocks=7, num_reconstruction_blocks=recon_blocks, propagation="pqf")


def perturbed(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights plus noise: zero-initialised heads would make every output equal its input. Noise of
    10 % of each tensor's spread, 1e-3 on all-zero tensors, keeps outputs a plausible residual away from it."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            spread = p.std().item() if p.numel() > 1 and p.std().item() > 0 else 0.01
            p.add_(0.1 * spread * torch.randn(p.shape, generator=gen))
    return model.eval()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.float() - b.float()).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def parity(device: torch.device, quick: bool) -> list[tuple]:
    rows = []
    cases: list[tuple[str, Callable[[], nn.Module], tuple[int, ...]]] = [
        ("s1 64/7-r5", stage_one, (1, 6, 3, 64, 96)),
        ("swinir-small", swinir_small, (1, 3, 64, 96)),
    ]
    if not quick:
        cases.append(("swinir-m", swinir_m, (1, 3, 64, 96)))
    for name, build, shape in cases:
        torch.manual_seed(0)
        model = perturbed(build())
        x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            ref = model(x)
            model.to(device)
            out32 = model(x.to(device)).float().cpu()
            with torch.autocast(device.type, dtype=torch.bfloat16):
                out16 = model(x.to(device)).float().cpu()
        rows.append(
            (
                name,
                "x".join(map(str, shape)),
                f"{(out32 - ref).abs().max().item():.2e}",
                f"{psnr(out32, ref):.1f}",
                f"{(out16 - ref).abs().max().item():.2e}",
                f"{psnr(out16, ref):.1f}",
                f"{psnr(ref, x):.1f}",
            )
        )
    return rows


def charbonnier(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return torch.sqrt((a - b).pow(2) + eps * eps).mean()


def time_train_step(model: nn.Module, x: torch.Tensor, precision: str, reps: int) -> tuple[float, float]:
    """Seconds per optimiser step after one warm-up step, and the peak device memory in GiB (NaN on the CPU)."""
    device = x.device
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    target = x.clamp(0.05, 0.95)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = charbonnier(model(x).float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up (kernel selection, allocator)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        step()
    sync(device)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return (time.perf_counter() - t0) / reps, peak


def train_steps(device: torch.device, quick: bool, reps: int) -> list[tuple]:
    rows = []
    s1_shape = (1, 4, 3, 64, 64) if quick else (1, 30, 3, 256, 256)
    s2_shape = (2, 3, 32, 32) if quick else (8, 3, 128, 128)
    cases: list[tuple[str, Callable[[], nn.Module], tuple[int, ...]]] = [
        ("s1 64/7-r5", lambda: stage_one(5), s1_shape),
        ("s1 64/7-r55", lambda: stage_one(55), s1_shape),
        ("swinir-m" if not quick else "swinir-small", swinir_m if not quick else swinir_small, s2_shape),
    ]
    for name, build, shape in cases:
        for precision in ("fp32", "bf16"):
            torch.manual_seed(0)
            try:
                sec, peak = time_train_step(
                    build().to(device).train(), torch.rand(shape, device=device), precision, reps
                )
                rows.append((name, precision, "x".join(map(str, shape)), f"{sec:.3f}", f"{peak:.1f}"))
            except torch.OutOfMemoryError:
                rows.append((name, precision, "x".join(map(str, shape)), "out of memory", "-"))
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def memory_plan(device: torch.device, quick: bool) -> list[tuple]:
    if device.type != "cuda":
        return []
    rows = []
    cases = [("s1 64/7-r5", stage_one, 32), ("swinir-m", swinir_m, 1)]
    tiles = (64,) if quick else (256, 512)
    for name, build, frames in cases:
        model = build().to(device).eval()
        for tile in tiles:
            shape = (1, frames, 3, tile, tile) if frames > 1 else (1, 3, tile, tile)
            x = torch.rand(shape, device=device)
            torch.cuda.empty_cache()
            sync(device)
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            with torch.inference_mode():
                y = model(x)
            sync(device)
            peak = torch.cuda.max_memory_allocated() - base
            del y
            estimate = model.inference_bytes(frames, tile, tile)
            rows.append(
                (
                    name,
                    frames,
                    f"{tile}x{tile}",
                    f"{peak / 2**20:.0f}",
                    f"{estimate / 2**20:.0f}",
                    f"{estimate / peak:.2f}",
                )
            )
        del model
    return rows


def table(head: tuple, rows: list[tuple]) -> str:
    lines = [head, *rows]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(str(c).rjust(w) for c, w in zip(line, widths, strict=True)) for line in lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--quick", action="store_true", help="small shapes (a smoke run of this script)")
    p.add_argument("--reps", type=int, default=3, help="timed training steps per case (default 3)")
    p.add_argument("--parts", default="parity,train,memory", help="comma list of parity,train,memory")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            p.error("no CUDA device: pass --device cpu for a smoke run")
        torch.backends.cuda.matmul.allow_tf32 = False  # parity in true float32
        torch.backends.cudnn.allow_tf32 = False
        print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    parts = args.parts.split(",")
    if "parity" in parts:
        print("\nparity against CPU float32 (same weights and input)")
        print(
            table(
                ("model", "input", "fp32 max|d|", "fp32 PSNR", "bf16 max|d|", "bf16 PSNR", "out-vs-in PSNR"),
                parity(device, args.quick),
            ),
            flush=True,
        )
    if "train" in parts:
        if device.type == "cuda":  # training speed as a user gets it: cuDNN's TF32 convolutions allowed
            torch.backends.cudnn.allow_tf32 = True
        print("\ntraining step (forward + Charbonnier + backward + Adam)")
        print(
            table(("model", "precision", "batch", "s/step", "peak GiB"), train_steps(device, args.quick, args.reps)),
            flush=True,
        )
    if "memory" in parts and device.type == "cuda":
        print("\ninference memory: CUDA peak allocated vs the plan's estimate")
        print(
            table(
                ("model", "frames", "tile", "peak MiB", "estimate MiB", "estimate/peak"),
                memory_plan(device, args.quick),
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
