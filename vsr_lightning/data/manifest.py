"""The dataset manifest: what every video of a prepared dataset holds, in one JSON file.

A prepared dataset is LDV-style::

    <root>/manifest.json
    <root>/<split>/gt/<video>/000.png ...        (layout "png")
    <root>/<split>/lq_qp37/<video>/000.png ...
    <root>/<split>/gt/<video>.mkv                 (layout "video": the files themselves)
    <root>/<split>/lq_qp37/<video>.mkv (+ .qp.json sidecar)

The manifest lists per video: frame count, size, fps, per-frame QP and PQF flags, duplicated-frame
indices, statistics used by the cleaning rules, and the hash of the source file, so a training run
can log exactly which data it saw (``Manifest.content_hash``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vsr_lightning.data.errors import DataError

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class ClipStats:
    """Per-frame statistics computed once at prepare time; the cleaning rules read them."""

    scene_change: list[float]
    """Luma-histogram L1 distance between frame t and t-1 (0 for the first frame), in [0, 2]."""
    motion: list[float]
    """Mean absolute luma difference between frame t and t-1 of the original (0..255)."""
    texture: list[float]
    """Mean absolute luma gradient of the original frame (0..255)."""
    psnr_lq: list[float]
    """RGB PSNR of the compressed frame against the original (dB, inf capped at 100)."""


@dataclass
class VideoEntry:
    """One video (or clip) of a split."""

    name: str
    split: str
    num_frames: int
    width: int
    height: int
    fps: float
    qp: list[int]
    frame_type: list[str]
    pqf: list[bool]
    duplicates: list[int]
    """Indices t whose compressed frame equals frame t-1 (within the dataset's threshold)."""
    source: str
    source_sha256: str
    source_frames: list[int] = field(default_factory=list)
    """Frame range [start, stop) of the source this clip was cut from."""
    stats: ClipStats | None = None

    @property
    def mean_psnr_lq(self) -> float:
        return sum(self.stats.psnr_lq) / len(self.stats.psnr_lq) if self.stats else float("nan")


@dataclass
class Manifest:
    """All videos of a prepared dataset, with the settings that made it."""

    name: str
    qp: int
    layout: str
    videos: list[VideoEntry]
    build: dict = field(default_factory=dict)
    version: int = MANIFEST_VERSION

    def split(self, split: str) -> list[VideoEntry]:
        return [v for v in self.videos if v.split == split]

    @property
    def lq_dir_name(self) -> str:
        return f"lq_qp{self.qp}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @property
    def content_hash(self) -> str:
        """Stable hash of the manifest's content: logged with every run to identify its data."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def save(self, root: Path) -> Path:
        path = root / MANIFEST_NAME
        path.write_text(self.to_json())
        return path

    @classmethod
    def load(cls, root: str | Path) -> Manifest:
        path = Path(root) / MANIFEST_NAME
        if not path.is_file():
            raise DataError(path, "no manifest: not a prepared dataset (run `python -m vsr_lightning.prepare`)")
        try:
            raw = json.loads(path.read_text())
            if raw.get("version") != MANIFEST_VERSION:
                raise DataError(path, f"manifest version {raw.get('version')} != {MANIFEST_VERSION}; re-prepare")
            videos = []
            for v in raw["videos"]:
                stats = ClipStats(**v.pop("stats")) if v.get("stats") else None
                v.pop("stats", None)
                videos.append(VideoEntry(**v, stats=stats))
            return cls(
                name=raw["name"],
                qp=raw["qp"],
                layout=raw["layout"],
                videos=videos,
                build=raw.get("build", {}),
                version=raw["version"],
            )
        except (ValueError, KeyError, TypeError) as err:
            raise DataError(path, f"malformed manifest ({err})") from err


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks (sources can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
