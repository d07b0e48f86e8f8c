"""What a file run reads and checks before any model time: PQF flags, device, frame size, its own inputs."""

from __future__ import annotations

from pathlib import Path

import torch

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.hevc import QpSidecar, sidecar_path
from vsr_lightning.models.pqf import fixed_period_pqf


def resolve_pqf(
    input_path: Path, num_frames: int, qp_sidecar: Path | None = None, period: int = 4
) -> tuple[list[bool], str]:
    """Per-frame PQF flags: the encoder's sidecar (``--qp-sidecar`` or ``<input>.qp.json``), else every ``period``."""
    path = Path(qp_sidecar) if qp_sidecar is not None else sidecar_path(input_path)
    if qp_sidecar is not None and not path.is_file():
        raise DataError(path, "no such QP sidecar file")
    if path.is_file():
        flags = QpSidecar.load(path).pqf
        if len(flags) != num_frames:
            raise DataError(path, f"QP sidecar lists {len(flags)} frames but {input_path} has {num_frames}")
        return [bool(f) for f in flags], f"sidecar {path}"
    return fixed_period_pqf(num_frames, period).tolist(), f"fixed period {period}"


def resolve_device(device: str | torch.device) -> torch.device:
    """``--device`` as torch names it; an unknown name, or CUDA where there is none, is one line."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"--device {device}: not a device name torch knows (e.g. cpu, cuda, cuda:1)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev


def slow_bf16_warning(bf16: bool, device: torch.device) -> str | None:
    """``--bf16`` on a CPU without bf16 instructions: PyTorch falls back to a slow convolution (README), so say
    so instead of letting the run crawl."""
    if not bf16 or device.type != "cpu":
        return None
    try:  # a private probe of PyTorch's oneDNN build: without it, say nothing rather than fail
        if torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return None
    except (AttributeError, RuntimeError):
        return None
    return (
        "warning: --bf16 on this CPU (no bf16 instructions) uses PyTorch's slow fallback convolution, many "
        "times slower than float32; drop --bf16 here"
    )


def check_even_size(path: Path, width: int, height: int) -> None:
    """x264 in YUV 4:2:0 (``--crf``) refuses odd sizes, and it would say so only after the model has run."""
    if width % 2 or height % 2:
        raise DataError(
            path,
            f"frame size {width}x{height} is odd, but --crf writes x264 4:2:0 video, which needs "
            "an even width and height (leave out --crf for lossless RGB video, or use --png)",
        )


def input_files(input_path: Path, qp_sidecar: str | Path | None, *others: object) -> list[Path]:
    """Every file the run reads (``others``: the reference and the networks, where they are paths): none of them
    may be the output, or inside an output folder it replaces."""
    files = [input_path, Path(qp_sidecar) if qp_sidecar else sidecar_path(input_path)]
    files += [Path(p) for p in others if isinstance(p, str | Path)]
    return [f for f in files if f.exists()]
