"""Throughput / memory / FLOP-efficiency table for the stage-one (BasicVSR++) and stage-two (SwinIR) models.

Each model runs in its own subprocess so CPU peak memory (``ru_maxrss`` growth over the post-build baseline)
is per model; on CUDA ``torch.cuda.max_memory_allocated`` is used instead. FLOPs come from
``torch.utils.flop_counter.FlopCounterMode`` (convs, matmuls, attention; the deformable convolution counts as
the convolution it generalises: on the CPU it is grid_sample + a matmul, on CUDA torchvision's deform_conv2d,
registered here at that cost; bilinear sampling is not counted) and are compared with a 2048x2048 fp32 matmul
on the same device.

    python benchmarks/bench_models.py --quick
    python benchmarks/bench_models.py --models s1-c128n25 --sizes 256x256 --frames 4
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

import torch

STAGE_ONE = {
    "s1-tiny": dict(mid_channels=16, num_blocks=1, num_reconstruction_blocks=2, hr_channels=16, deform_groups=8),
    **{f"s1-c64n7-r{r}": dict(mid_channels=64, num_blocks=7, num_reconstruction_blocks=r) for r in range(5, 56, 10)},
    "s1-c128n25": dict(mid_channels=128, num_blocks=25, num_reconstruction_blocks=5),
}
STAGE_TWO = ("s2-swinir-small", "s2-swinir-m")
ALL_MODELS = (*STAGE_ONE, *STAGE_TWO)
QUICK_MODELS = ("s1-tiny", "s1-c64n7-r5", "s1-c64n7-r55", "s2-swinir-small", "s2-swinir-m")


def build(name: str) -> torch.nn.Module:
    from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
    from vsr_lightning.models.swinir import swinir_m, swinir_small

    if name in STAGE_ONE:
        return BasicVSRPlusPlus(propagation="pqf", **STAGE_ONE[name])
    return swinir_m() if name == "s2-swinir-m" else swinir_small()


def register_deform_conv_flops() -> None:
    """Count torchvision's deformable convolution as the convolution it generalises (2 x MACs)."""
    import torchvision  # noqa: F401 - registers torch.ops.torchvision
    from torch.utils.flop_counter import register_flop_formula

    @register_flop_formula(torch.ops.torchvision.deform_conv2d)
    def deform_conv_flop(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
        n, c_out, h_out, w_out = out_shape
        return 2 * n * h_out * w_out * c_out * w_shape[1] * w_shape[2] * w_shape[3]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(device: torch.device, reps: int = 5, n: int = 2048, dtype: torch.dtype = torch.float32) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def time_call(fn, reps: int, device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / reps


def worker(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Measure one model at each size (ascending, so ru_maxrss growth stays attributable)."""
    from torch.utils.flop_counter import FlopCounterMode

    register_deform_conv_flops()
    device = torch.device(cfg["device"])
    name = cfg["model"]
    video = name in STAGE_ONE
    model = build(name).eval().to(device)
    params = sum(p.numel() for p in model.parameters())
    rows = []
    for size in cfg["sizes"]:
        w, h = (int(v) for v in size.split("x"))
        frames = cfg["frames"] if video else 1
        shape = (1, frames, 3, h, w) if video else (1, 3, h, w)
        x = torch.rand(shape, device=device)
        base_rss = maxrss_mb()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(x)  # warm-up doubles as the FLOP count
        flops = counter.get_total_flops()
        with torch.no_grad():
            sec = time_call(lambda x=x: model(x), cfg["reps"], device)
        peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else maxrss_mb() - base_rss
        row = dict(model=name, params=params, size=size, frames=frames, sec=sec, flops=flops, peak_mb=peak)
        if cfg["modes"]:
            row.update(compare_modes(model, x, sec, cfg, device))
        rows.append(row)
    return rows


def compare_modes(model: torch.nn.Module, x: torch.Tensor, base: float, cfg: dict, device) -> dict[str, Any]:
    """Speed ratios (baseline no_grad time / variant time; >1 means the variant is faster)."""
    out: dict[str, Any] = {}
    reps = cfg["reps"]
    with torch.inference_mode():
        model(x)
        out["inference_mode_x"] = base / time_call(lambda: model(x), reps, device)
    model.to(memory_format=torch.channels_last)
    xc = x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
    with torch.no_grad():
        model(xc)
        out["channels_last_x"] = base / time_call(lambda: model(xc), reps, device)
    model.to(memory_format=torch.contiguous_format)
    if device.type == "cuda":
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            model(x)
            out["bf16_x"] = base / time_call(lambda: model(x), reps, device)
    if cfg["compile"]:
        try:
            compiled = torch.compile(model)
            with torch.no_grad():
                t0 = time.perf_counter()
                compiled(x)
                out["compile_s"] = time.perf_counter() - t0
                out["compile_x"] = base / time_call(lambda: compiled(x), reps, device)
        except Exception as exc:  # noqa: BLE001 - report, do not abort the table
            out["compile_x"] = f"failed: {type(exc).__name__}"
    return out


def _ratio(row: dict[str, Any], key: str) -> str:
    value = row.get(key, "-")
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def fmt_table(rows: list[dict[str, Any]], ref_gflops: float) -> str:
    head = (
        "model",
        "params M",
        "size",
        "T",
        "frames/s",
        "GFLOP/frame",
        "GFLOP/s",
        "% matmul",
        "peak MB",
        "inf_mode x",
        "ch_last x",
        "bf16 x",
        "compile x",
    )
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append((r["model"], "-", r.get("size", "-"), "-", "error: " + r["error"][:60]) + ("",) * 8)
            continue
        fps = r["frames"] / r["sec"]
        gfs = r["flops"] / r["sec"] / 1e9
        lines.append(
            (
                r["model"],
                f"{r['params'] / 1e6:.2f}",
                r["size"],
                str(r["frames"]),
                f"{fps:.3f}",
                f"{r['flops'] / r['frames'] / 1e9:.1f}",
                f"{gfs:.1f}",
                f"{100 * gfs / ref_gflops:.0f}%",
                f"{r['peak_mb']:.0f}",
                _ratio(r, "inference_mode_x"),
                _ratio(r, "channels_last_x"),
                _ratio(r, "bf16_x"),
                _ratio(r, "compile_x"),
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(str(c).rjust(wd) for c, wd in zip(line, widths, strict=True)) for line in lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=None, help=f"comma list from {','.join(ALL_MODELS)} or 'all'")
    p.add_argument("--sizes", default=None, help="comma list of WxH (default 256x256,960x536)")
    p.add_argument("--frames", type=int, default=None, help="frames per clip for stage one (default 8)")
    p.add_argument("--reps", type=int, default=None, help="timed repetitions after warm-up (default 3)")
    p.add_argument("--quick", action="store_true", help="256x256, 2 frames, 1 rep, a subset of models")
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    p.add_argument("--no-modes", action="store_true", help="skip inference_mode/channels_last comparisons")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker is not None:
        try:
            rows = worker(json.loads(args.worker))
        except Exception as exc:  # noqa: BLE001 - one failing model (e.g. OOM) must not kill the table
            rows = [dict(model=json.loads(args.worker)["model"], error=f"{type(exc).__name__}: {exc}")]
        print("@@ROWS@@" + json.dumps(rows))
        return

    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = "cpu" if device == "auto" else device
    models = args.models.split(",") if args.models else list(QUICK_MODELS if args.quick else ALL_MODELS)
    if models == ["all"]:
        models = list(ALL_MODELS)
    unknown = [m for m in models if m not in ALL_MODELS]
    if unknown:
        p.error(f"unknown models {unknown}; choose from {ALL_MODELS}")
    sizes = args.sizes.split(",") if args.sizes else (["256x256"] if args.quick else ["256x256", "960x536"])
    sizes.sort(key=lambda s: int(s.split("x")[0]) * int(s.split("x")[1]))
    frames = args.frames or (2 if args.quick else 8)
    reps = args.reps or (1 if args.quick else 3)

    ref = matmul_gflops(torch.device(device))
    extra = ""
    if device == "cuda":  # a 2048^2 product is too small to load a GPU: also give the large and bf16 rates
        extra = (
            f", {torch.cuda.get_device_name()}; 8192^2 fp32 {matmul_gflops(torch.device(device), n=8192):.0f}, "
            f"8192^2 bf16 {matmul_gflops(torch.device(device), n=8192, dtype=torch.bfloat16):.0f} GFLOP/s"
        )
    print(
        f"device={device} threads={torch.get_num_threads()} torch={torch.__version__} "
        f"matmul 2048^2 fp32: {ref:.1f} GFLOP/s{extra}",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    for name in models:
        modes = not args.no_modes and (not args.quick or "tiny" in name or "small" in name)
        cfg = dict(model=name, sizes=sizes, frames=frames, reps=reps, device=device, modes=modes, compile=args.compile)
        extra = ["--threads", str(args.threads)] if args.threads else []
        proc = subprocess.run(
            [sys.executable, __file__, *extra, "--worker", json.dumps(cfg)], capture_output=True, text=True
        )
        marker = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@ROWS@@")]
        if marker:
            new_rows = json.loads(marker[-1][len("@@ROWS@@") :])
        else:
            new_rows = [dict(model=name, error=(proc.stderr.strip().splitlines() or ["no output"])[-1])]
        rows.extend(new_rows)
        # each model's numbers as soon as they exist: a run stopped by a time limit keeps what it measured
        print(f"  done {name}: {json.dumps(new_rows)}", file=sys.stderr, flush=True)
    print(fmt_table(rows, ref))
    print(
        "frames/s counts output frames; peak MB = ru_maxrss growth (CPU) or max_memory_allocated (CUDA); "
        "ratios = no_grad time / variant time (>1 faster); bf16 = inference mode + bf16 autocast (CUDA only)."
    )


if __name__ == "__main__":
    main()
