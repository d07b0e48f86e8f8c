"""The zoo's extra training data: the ``train`` footage compressed like the embedded default (HEVC LDP, QP 37)."""

from __future__ import annotations

from pathlib import Path

from vsr_lightning.data.cache_lock import exclusive_lock
from vsr_lightning.data.cleaning import stats_version
from vsr_lightning.data.clip_stats import CLIP_STATS_VERSION
from vsr_lightning.data.dataset_builder import BuildOptions, ClipSpec, SourceSpec, build_dataset, split_clips
from vsr_lightning.data.errors import DataError
from vsr_lightning.data.hevc import HevcConfig
from vsr_lightning.data.manifest import MANIFEST_NAME, Manifest
from vsr_lightning.data.video_io import VideoReader
from vsr_lightning.zoo.footage import clips, footage_path, footage_root

CLIP_FRAMES = 25


def footage_clip_specs(role: str = "train", clip_frames: int = CLIP_FRAMES, *, fetch: bool = False) -> list[ClipSpec]:
    """The footage of ``role`` cut into clips (its archives downloaded only with ``fetch``: zoo recipes)."""
    out = []
    for clip in clips(role):
        path = footage_path(clip, fetch=fetch)
        usable = VideoReader(path).info.num_frames - 2  # some containers announce a frame they do not hold
        source = SourceSpec(path=path, resize=clip.resize)
        for i, (a, b) in enumerate(split_clips(usable, clip_frames)):
            out.append(ClipSpec(f"{clip.name}_{i:03d}", role, source, a, b))
    return out


def _is_current(target: Path) -> bool:
    """Built, and by code computing the current clip statistics (older builds are rebuilt)."""
    if not (target / MANIFEST_NAME).is_file():
        return False
    try:
        return stats_version(Manifest.load(target)) == CLIP_STATS_VERSION
    except DataError:
        return False


def ensure_footage_dataset(role: str = "train", qp: int = 37, root: Path | None = None, *, fetch: bool = False) -> Path:
    """The footage of ``role`` as a dataset (LDV layout, split named after the role), built once; ``fetch``
    lets a zoo recipe download the pinned archives it is built from."""
    target = (root or footage_root()) / f"dataset-{role}-qp{qp}"
    with exclusive_lock(target.parent / f".{target.name}.lock"):
        if not _is_current(target):
            build_dataset(
                target,
                footage_clip_specs(role, fetch=fetch),
                name=f"footage-{role}",
                options=BuildOptions(
                    hevc=HevcConfig(qp=qp),
                    layout="png",
                    duplicate_threshold=0.3,
                    # OpenCV's tree.avi announces 444 frames and holds 68
                    accept_truncated=True,
                ),
                overwrite=True,  # one built by older code (other statistics) is replaced
            )
    return target


if __name__ == "__main__":
    import sys

    print(ensure_footage_dataset(sys.argv[1] if len(sys.argv) > 1 else "train", fetch=True))
