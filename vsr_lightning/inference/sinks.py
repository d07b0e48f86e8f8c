"""Where enhanced frames go: one tensor (validation, output caching) or a staged file (``enhance``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.video_io import VideoWriter, frame_name, write_png
from vsr_lightning.staged_output import StagedOutput


class TensorSink:
    """Collects ``num_frames`` float frames (C,H,W) into one (T,C,H,W) float32 tensor on the CPU."""

    def __init__(self, num_frames: int) -> None:
        self.num_frames = num_frames
        self.frames: Tensor | None = None
        self.count = 0

    def write(self, frame: Tensor) -> None:
        if self.frames is None:
            self.frames = torch.empty(self.num_frames, *frame.shape, dtype=torch.float32)
        self.frames[self.count] = frame
        self.count += 1

    def result(self) -> Tensor:
        if self.frames is None or self.count != self.num_frames:
            raise RuntimeError(f"{self.count} of {self.num_frames} frames were written")
        return self.frames


class FileSink:
    """Writes 8-bit frames to a PNG folder or a video file staged under a unique temporary name (see
    :class:`~vsr_lightning.staged_output.StagedOutput`), moved onto the output only when complete."""

    def __init__(
        self,
        output: Path,
        fps: float,
        png: bool,
        lossless: bool,
        crf: int,
        overwrite: bool = False,
        inputs: Sequence[Path] = (),
    ) -> None:
        self.staged = StagedOutput(output, png, overwrite, inputs)
        self.tmp = self.staged.tmp
        try:
            self.writer = None if png else VideoWriter(self.tmp, fps, lossless=lossless, crf=crf)
        except BaseException:
            self.staged.abort()
            raise
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        try:
            if self.writer is None:
                write_png(frame, self.tmp / frame_name(self.count))
            else:
                self.writer.write(frame)
        except OSError as exc:  # disk full, folder removed: stop now, not after computing every frame
            raise self._write_failed(exc, f"writing frame {self.count}") from exc
        self.count += 1

    def commit(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
        except OSError as exc:
            raise self._write_failed(exc, f"finishing the file after {self.count} frames") from exc
        self.staged.commit()

    def _write_failed(self, exc: OSError, when: str) -> DataError:
        """Name the output the user asked for, not the hidden temporary that is about to be removed."""
        return DataError(self.staged.target, f"write failed {when}: {exc.strerror or exc} (nothing changed there)")

    def abort(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # noqa: BLE001 - the run already failed; the partial file goes anyway
                pass
        self.staged.abort()
