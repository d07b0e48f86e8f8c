"""PSNR against a ground-truth video read in step with a stream of frames (``enhance --reference``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.video_io import VideoReader
from vsr_lightning.inference.frames import to_tensor


def frame_psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    """RGB PSNR of two uint8 frames with the project's convention (crop 0, capped for identical frames).

    Imported here: torchmetrics and kornia are heavy to import, paid only with a reference.
    """
    from vsr_lightning.metrics.video_quality import frame_psnr

    return float(frame_psnr(to_tensor([a]), to_tensor([b]))[0])


class Reference:
    """Reads the ground truth in step with a stream of frames and keeps the per-frame PSNRs."""

    def __init__(self, path: Path, size: tuple[int, int] | None, fps: float, like: VideoReader) -> None:
        self.reader = VideoReader(path, size=size, fps=fps)
        info, want = self.reader.info, like.info
        if (info.width, info.height) != (want.width, want.height):
            raise DataError(
                path, f"reference is {info.width}x{info.height} but {want.path} is {want.width}x{want.height}"
            )
        if info.num_frames != want.num_frames:
            raise DataError(path, f"reference has {info.num_frames} frames but {want.path} has {want.num_frames}")
        self.frames = iter(self.reader)
        self.scores: list[float] = []

    def score(self, frame: np.ndarray) -> None:
        self.scores.append(frame_psnr_uint8(frame, next(self.frames)))

    def mean(self) -> float:
        return float(np.mean(self.scores))
