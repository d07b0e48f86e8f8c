"""Access to the frames of one prepared video, whichever layout stores them (PNG folder or video file)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.manifest import Manifest, VideoEntry
from vsr_lightning.data.video_io import VideoReader, frame_name, read_png


class FrameStore:
    """Frames of one video (GT or LQ) as ``(H, W, 3) uint8`` arrays.

    ``source="png"`` reads ``<dir>/NNN.png`` (random access, the fast path for training);
    ``source="video"`` decodes the stored video file from its start up to the last frame asked for.
    """

    def __init__(
        self,
        root: Path,
        manifest: Manifest,
        entry: VideoEntry,
        kind: str,
        source: str | None = None,
        override_root: Path | None = None,
        cache: bool = False,
    ):
        """``override_root`` reads PNG frames from ``<override_root>/<split>/<video>/`` instead (the
        cached outputs of stage one, which are stage two's input). ``cache`` keeps every decoded PNG
        frame in memory (training on a GPU decodes frames faster than a few workers can)."""
        if kind not in ("gt", "lq"):
            raise ValueError(f"kind must be 'gt' or 'lq', got {kind!r}")
        self.entry = entry
        self.source = source or manifest.layout
        sub = "gt" if kind == "gt" else manifest.lq_dir_name
        base = root / entry.split / sub
        if override_root is not None:
            base, self.source = Path(override_root) / entry.split, "png"
        self._cache: dict[int, np.ndarray] | None = {} if cache else None
        self.folder = base / entry.name
        self.video_path = base / f"{entry.name}.mkv"
        if self.source == "png":
            if not self.folder.is_dir():
                raise DataError(self.folder, f"missing frame folder of video {entry.name!r}")
        elif self.source == "video":
            if not self.video_path.is_file():
                raise DataError(self.video_path, f"missing video file of {entry.name!r}")
        else:
            raise ValueError(f"frame source must be 'png' or 'video', got {self.source!r}")

    def check(self) -> None:
        """Verify that every frame the manifest promises exists (names the first missing one)."""
        if self.source == "png":
            for t in range(self.entry.num_frames):
                if not (self.folder / frame_name(t)).is_file():
                    raise DataError(self.folder / frame_name(t), f"missing frame {t} of {self.entry.num_frames}")
        else:
            n = len(VideoReader(self.video_path))
            if n != self.entry.num_frames:
                raise DataError(self.video_path, f"holds {n} frames, manifest says {self.entry.num_frames}")

    def load(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` stacked as ``(T, H, W, 3)``, checked against the manifest's size."""
        if self.source == "png":
            frames = [self._read_png(t) for t in indices]
        else:
            wanted = sorted(set(indices))
            decoded = {}
            for t, frame in enumerate(VideoReader(self.video_path)):
                if t in wanted:
                    decoded[t] = frame
                if t >= wanted[-1]:
                    break
            frames = [decoded[t] for t in indices]
        return np.stack(frames)

    def _read_png(self, t: int) -> np.ndarray:
        if self._cache is not None and t in self._cache:
            return self._cache[t]
        frame = self._decode_png(t)
        if self._cache is not None:
            frame.flags.writeable = False  # shared by every later window: callers copy (``np.stack``)
            self._cache[t] = frame
        return frame

    def _decode_png(self, t: int) -> np.ndarray:
        path = self.folder / frame_name(t)
        if not path.is_file():
            raise DataError(path, f"missing frame {t} of video {self.entry.name!r}")
        frame = read_png(path)
        if frame.shape[:2] != (self.entry.height, self.entry.width):
            got, want = f"{frame.shape[1]}x{frame.shape[0]}", f"{self.entry.width}x{self.entry.height}"
            raise DataError(path, f"frame is {got}, manifest says {want}")
        return frame
