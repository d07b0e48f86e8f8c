"""Report figures (PNG, matplotlib Agg): per-video PSNR by arm, PSNR along frames, sample crops.

Plots show what the mean hides: which videos carry a gain, whether it sits on peak-quality frames,
and what the restoration looks like.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from vsr_lightning.report.comparison import Comparison  # noqa: E402
from vsr_lightning.report.run_record import RunRecord  # noqa: E402

_SAMPLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("lq", "LQ (compressed)"),
    ("stage1", "stage one"),
    ("output", "output"),
    ("gt", "GT"),
)


def plot_per_video(cmp: Comparison, path: Path) -> Path | None:
    """Dots of each arm's PSNR per video (input as grey crosses), and bars of the gain over input."""
    if not cmp.videos:
        return None
    x = np.arange(len(cmp.videos))
    width = 0.8 / max(1, len(cmp.arms))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6.0, 1.2 * len(cmp.videos) + 3), 7), sharex=True)
    inputs = [cmp.input_value(v) for v in cmp.videos]
    top.scatter(x, [np.nan if v is None else v for v in inputs], marker="x", color="grey", label="input", zorder=3)
    for i, arm in enumerate(cmp.arms):
        offset = (i - (len(cmp.arms) - 1) / 2) * width
        values = [cmp.value(arm, v) for v in cmp.videos]
        top.scatter(x + offset, [np.nan if v is None else v for v in values], label=arm, zorder=3)
        gains = [
            np.nan if value is None else value - cmp.inputs[arm][v] for v, value in zip(cmp.videos, values, strict=True)
        ]
        bottom.bar(x + offset, gains, width=width, label=arm)
    label = "Y-PSNR" if cmp.metric == "psnr_y" else "PSNR"
    top.set_ylabel(f"{label} (dB)")
    top.set_title(f"Per-video {label} by arm")
    top.legend(fontsize="small")
    top.grid(alpha=0.3)
    bottom.axhline(0.0, color="black", linewidth=0.8)
    bottom.set_ylabel("gain over input (dB)")
    bottom.set_xticks(x, cmp.videos, rotation=30, ha="right")
    bottom.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_frames(included: Mapping[str, RunRecord], video: str, path: Path) -> Path | None:
    """PSNR along the frames of ``video`` for each arm and the input; PQF frames marked."""
    curves = {arm: [f for f in run.frames if f.video == video] for arm, run in included.items()}
    curves = {arm: rows for arm, rows in curves.items() if rows}
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(9, 4.5))
    reference = next(iter(curves.values()))
    ax.plot([f.frame for f in reference], [f.psnr_lq for f in reference], "--", color="grey", label="input")
    pqf = [f for f in reference if f.pqf]
    for i, f in enumerate(pqf):
        ax.axvline(f.frame, color="gold", alpha=0.35, linewidth=1.5, label="PQF" if i == 0 else None)
    ax.scatter([f.frame for f in pqf], [f.psnr_lq for f in pqf], color="goldenrod", marker="^", zorder=3)
    for arm, rows in curves.items():
        ax.plot([f.frame for f in rows], [f.psnr for f in rows], marker=".", label=arm)
    ax.set_xlabel("frame")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"PSNR along the frames of {video} (PQF = peak-quality frame)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_samples(included: Mapping[str, RunRecord], video: str, path: Path) -> Path | None:
    """One row per arm with logged crops of ``video``: LQ | stage one | output | GT, when present."""
    rows = {arm: run.samples[video] for arm, run in included.items() if run.samples.get(video)}
    if not rows:
        return None
    kinds = [(k, t) for k, t in _SAMPLE_COLUMNS if any(k in s for s in rows.values())]
    fig, axes = plt.subplots(len(rows), len(kinds), figsize=(3 * len(kinds), 3 * len(rows)), squeeze=False)
    for r, (arm, images) in enumerate(rows.items()):
        stage_two = included[arm].job_type == "stage2"
        for c, (kind, title) in enumerate(kinds):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if kind == "output" and stage_two:
                title = "stage two"
            if r == 0 or kind == "output":
                ax.set_title(title if kind != "output" else f"{title} ({arm})", fontsize="small")
            if kind in images:
                with Image.open(images[kind]) as img:
                    ax.imshow(np.asarray(img.convert("RGB")))
            else:
                ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
        axes[r][0].set_ylabel(arm)
    fig.suptitle(f"Sample crops of {video}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
