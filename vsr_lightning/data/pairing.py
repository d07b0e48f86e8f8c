"""Pair videos across folders by name (ground truth, compressed, output), and check that pairs agree.

Names match exactly first; a video still unmatched then matches by its JCT-VC sequence name
(``BasketballPass`` pairs with ``BasketballPass_416x240_50``) when that name is unique on every side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.frame_sources import FrameSource
from vsr_lightning.data.yuv_names import parse_jctvc_name


def sequence_name(name: str) -> str:
    """The sequence a video name stands for: the JCT-VC base name, or the name itself."""
    parsed = parse_jctvc_name(name)
    return parsed.base if parsed else name


@dataclass
class Pairing:
    """Videos found on every side (in the sides' order), and per side the names left without partners."""

    matched: dict[str, list[FrameSource]]
    unpaired: dict[str, list[str]] = field(default_factory=dict)

    def report(self) -> list[str]:
        """One line per side with videos that did not pair."""
        return [
            f"{side}: {len(names)} without a partner ({', '.join(names)})"
            for side, names in self.unpaired.items()
            if names
        ]


def match_by_name(sides: dict[str, dict[str, FrameSource]], explicit: bool = False) -> Pairing:
    """Match the videos of each side (``{side label: {name: source}}``) by name.

    ``explicit``: each side was given as one video (a file named on the command line), so they pair
    whatever their names (``carphone_pristine.mp4`` with ``carphone_distorted.mp4``)."""
    labels = list(sides)
    if explicit and all(len(v) == 1 for v in sides.values()):
        first = next(iter(sides[labels[0]].values()))
        return Pairing({first.name: [next(iter(sides[s].values())) for s in labels]}, {s: [] for s in labels})
    common = set.intersection(*(set(v) for v in sides.values()))
    matched = {name: [sides[s][name] for s in labels] for name in sorted(common)}
    left = {s: {n: src for n, src in sides[s].items() if n not in common} for s in labels}
    by_sequence = {s: {} for s in labels}
    for s in labels:
        for n in left[s]:
            by_sequence[s].setdefault(sequence_name(n), []).append(n)
    for seq, names in sorted(by_sequence[labels[0]].items()):
        if all(len(by_sequence[s].get(seq, [])) == 1 for s in labels) and len(names) == 1:
            matched[names[0]] = [left[s].pop(by_sequence[s][seq][0]) for s in labels]
    unpaired = {s: sorted(left[s]) for s in labels}
    return Pairing(dict(sorted(matched.items())), unpaired)


def check_same_frames(a: FrameSource, b: FrameSource) -> None:
    """The two videos of a pair hold the same number of frames of the same size: else one line naming both."""
    if (a.width, a.height) != (b.width, b.height):
        raise DataError(a.path, f"frames are {a.width}x{a.height} but its partner {b.path} has {b.width}x{b.height}")
    if a.num_frames != b.num_frames:
        raise DataError(a.path, f"{a.num_frames} frames but its partner {b.path} has {b.num_frames}")
