"""Training clips made from scikit-image's photographs by a moving camera (``train_stage1 --stills``).

The embedded split and the registry footage are seven sources, all mid-grey, mid-texture QP 37 content.
A stage one trained on them alone learns their look: on footage nothing trained on it darkens flat dark
areas and letterbox bars. These clips widen the content (an experiment: its first GPU run made the
propagation diverge along whole videos, see benchmarks/results/2026-12-04_zoo_stage1_stills.md):
each still is filmed by a virtual camera panning and zooming over it (smooth random path, sub-pixel
bicubic resampling), once as it is and once dark (gamma) behind black letterbox bars, then compressed by
the same HEVC LDP QP 37 pipeline as every other source. Deterministic from ``seed``; the photographs ship
inside the scikit-image wheel, so nothing is downloaded. Version 1 also faded the dark clips in from black
and moved up to 5 px a frame; stage ones trained on it diverged along whole videos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vsr_lightning.data.cache_lock import exclusive_lock
from vsr_lightning.data.dataset_builder import BuildOptions, ClipSpec, SourceSpec, build_dataset
from vsr_lightning.data.embedded import STILL_IMAGES, package_data_file
from vsr_lightning.data.hevc import HevcConfig
from vsr_lightning.data.manifest import MANIFEST_NAME
from vsr_lightning.data.video_io import VideoWriter
from vsr_lightning.zoo.footage import footage_root

FRAMES = 25
SIZE = (256, 192)  # (width, height) of a clip
VERSION = 2
"""Bump when the clips change, so a cached build of older clips is not used."""


def camera_path(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Per frame (x, y, zoom) offsets of a smooth path: a drift plus a slow sway, up to about 2 px a frame."""
    t = np.arange(frames, dtype=np.float64)
    velocity = rng.uniform(-1.5, 1.5, size=2)
    sway = rng.uniform(-2.0, 2.0, size=2) * np.sin(2 * np.pi * t[:, None] / rng.uniform(15, 40))
    xy = velocity * t[:, None] + sway
    zoom = 1.0 + rng.uniform(-0.004, 0.004) * t
    return np.column_stack([xy, zoom])


def film_still(image: Image.Image, rng: np.random.Generator, frames: int = FRAMES) -> list[np.ndarray]:
    """``frames`` RGB views of ``image`` along a random camera path, each ``SIZE``."""
    width, height = SIZE
    scale = max(width * 1.5 / image.width, height * 1.5 / image.height, rng.uniform(0.5, 1.0))
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    path = camera_path(rng, frames)
    span_x = image.width - width * path[:, 2].max() - np.ptp(path[:, 0])
    span_y = image.height - height * path[:, 2].max() - np.ptp(path[:, 1])
    x0 = rng.uniform(0, max(span_x, 0)) - path[:, 0].min()
    y0 = rng.uniform(0, max(span_y, 0)) - path[:, 1].min()
    views = []
    for dx, dy, zoom in path:
        affine = (zoom, 0.0, x0 + dx, 0.0, zoom, y0 + dy)  # output (u, v) -> input (zoom u + x, zoom v + y)
        view = image.transform(SIZE, Image.Transform.AFFINE, affine, Image.Resampling.BICUBIC)
        views.append(np.asarray(view))
    return views


def dark_letterboxed(views: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The same views dark (gamma 1.6-2.6) between black bars (8-15 % of the height each)."""
    gamma, bar = rng.uniform(1.6, 2.6), int(SIZE[1] * rng.uniform(0.08, 0.15))
    out = []
    for view in views:
        frame = np.rint(255.0 * (view / 255.0) ** gamma).astype(np.uint8)
        frame[:bar], frame[SIZE[1] - bar :] = 0, 0
        out.append(frame)
    return out


def write_clips(out_dir: Path, seed: int = 0) -> list[Path]:
    """Two lossless clips per still (plain, dark and letterboxed) into ``out_dir``."""
    rng = np.random.default_rng(seed)
    written = []
    for name in STILL_IMAGES:
        with Image.open(package_data_file("scikit-image", f"skimage/data/{name}")) as img:
            image = img.convert("RGB")
        views = film_still(image, rng)
        for variant, frames in (("plain", views), ("dark", dark_letterboxed(views, rng))):
            path = out_dir / f"{Path(name).stem}_{variant}.mkv"
            with VideoWriter(path, 25.0, lossless=True) as writer:
                for frame in frames:
                    writer.write(frame)
            written.append(path)
    return written


def ensure_stills_motion_dataset(qp: int = 37, root: Path | None = None) -> Path:
    """The clips as a dataset (LDV layout, split ``train``), built once under the footage cache."""
    base = root or footage_root()
    target = base / f"dataset-stills-motion-v{VERSION}-qp{qp}"
    with exclusive_lock(base / f".{target.name}.lock"):
        if not (target / MANIFEST_NAME).is_file():
            sources = write_clips(base / f"stills-motion-v{VERSION}")
            specs = [ClipSpec(p.stem, "train", SourceSpec(path=p), 0, FRAMES) for p in sources]
            build_dataset(
                target,
                specs,
                name="stills-motion",
                options=BuildOptions(hevc=HevcConfig(qp=qp), layout="png", duplicate_threshold=0.3, progress=False),
            )
    return target


if __name__ == "__main__":
    print(ensure_stills_motion_dataset())
