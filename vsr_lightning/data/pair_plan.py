"""Plan an import of existing pairs: find and pair the videos, read the official split lists and HM logs.

Everything that can be wrong with the inputs is found here, before a single frame is written: a
video without a partner, partners that disagree in frame count or size, a list naming an unknown
video, a log for no video.
"""

from __future__ import annotations

from pathlib import Path

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.frame_sources import discover_sources
from vsr_lightning.data.pair_import import Pair
from vsr_lightning.data.pairing import check_same_frames, match_by_name, sequence_name


def read_name_list(path: Path) -> list[str]:
    """Video names, one a line (blank lines and ``#`` comments skipped; a file extension is dropped)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise DataError(path, f"unreadable name list ({err.strerror or err})") from err
    names = [line.split("#", 1)[0].strip() for line in lines]
    return [Path(n).stem if Path(n).suffix.lower() in {".yuv", ".mkv", ".mp4", ".bin"} else n for n in names if n]


def _resolve(listed: list[str], names: list[str], path: Path) -> list[str]:
    """Each listed name as a video name (exact, or the video whose JCT-VC sequence name it is)."""
    out = []
    for wanted in listed:
        hits = [n for n in names if n == wanted] or [n for n in names if sequence_name(n) == wanted]
        if len(hits) != 1:
            problem = "names no imported video" if not hits else f"is ambiguous ({', '.join(hits)})"
            raise DataError(path, f"{wanted!r} {problem}")
        out.append(hits[0])
    return out


def assign_splits(names: list[str], val_list: Path | None, test_list: Path | None) -> dict[str, str]:
    """Split of each listed video (``val``/``test``); a video on both lists is an error."""
    splits: dict[str, str] = {}
    for split, path in (("val", val_list), ("test", test_list)):
        if path is None:
            continue
        for name in _resolve(read_name_list(path), names, path):
            if splits.get(name, split) != split:
                raise DataError(path, f"{name!r} is on both the validation and the test list")
            splits[name] = split
    return splits


def hm_logs_for(path: Path | None, names: list[str]) -> dict[str, Path]:
    """HM logs by video: one file for a single video, or a folder of ``<video>.log``/``.txt`` files."""
    if path is None:
        return {}
    if path.is_file():
        if len(names) != 1:
            raise DataError(path, f"one HM log for {len(names)} videos: give a folder of <video>.log files")
        return {names[0]: path}
    if not path.is_dir():
        raise DataError(path, "no such HM log file or folder")
    files = [p for p in sorted(path.iterdir()) if p.suffix.lower() in {".log", ".txt"}]
    if not files:
        raise DataError(path, "holds no HM logs (<video>.log or <video>.txt)")
    return {_resolve([log.stem], names, log)[0]: log for log in files}


def _partner_of(path: Path, other_root: Path) -> Path | None:
    """The entry of the other side with the same video (or JCT-VC sequence) name, if any."""
    if other_root.is_file():
        return other_root
    if not other_root.is_dir():
        return None
    for key in (lambda p: p.stem if p.is_file() else p.name, lambda p: sequence_name(p.stem)):
        hits = [p for p in sorted(other_root.iterdir()) if key(p) == key(path)]
        if len(hits) == 1:
            return hits[0]
    return None


def _discover(root: Path, other_root: Path, size: tuple[int, int] | None, fps: float | None):
    """The videos at ``root``; a video that cannot be read is named with its partner on the other side."""
    try:
        return discover_sources(root, size, fps)
    except DataError as err:
        partner = _partner_of(err.path, other_root) if err.path != root else None
        if partner is None:
            raise
        raise DataError(err.path, f"{err.problem} (its partner: {partner})") from err


def plan_pairs(gt_root: Path, lq_root: Path, size: tuple[int, int] | None, fps: float | None) -> list[Pair]:
    """Every GT video with its LQ partner, checked; any video without a partner is an error naming it."""
    gt, lq = _discover(gt_root, lq_root, size, fps), _discover(lq_root, gt_root, size, fps)
    pairing = match_by_name({"GT": gt.sources, "LQ": lq.sources}, explicit=gt_root.is_file() and lq_root.is_file())
    if pairing.unpaired["GT"]:
        first = gt.sources[pairing.unpaired["GT"][0]]
        raise DataError(first.path, f"no compressed partner in {lq_root} ({'; '.join(pairing.report())})")
    if pairing.unpaired["LQ"]:
        first = lq.sources[pairing.unpaired["LQ"][0]]
        raise DataError(first.path, f"no original partner in {gt_root} ({'; '.join(pairing.report())})")
    pairs = [Pair(name, g, q) for name, (g, q) in pairing.matched.items()]
    for pair in pairs:
        check_same_frames(pair.gt, pair.lq)
    return pairs
