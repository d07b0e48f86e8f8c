"""Per-frame QP and slice type from an HM reference encoder log (``TAppEncoder ... > enc.log``).

HM prints one line per coded picture, e.g.::

    POC    4 TId: 0 ( P-SLICE, nQP 38 QP 38 )      2648 bits [Y 33.1 dB ...

so the log is where the QP cascade of the official low-delay-P data can be read back (the PQFs are
the frames coded at the lowest P-frame QP).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vsr_lightning.data.errors import DataError

_POC_LINE = re.compile(r"^\s*POC\s+(\d+)\s+TId:\s*\d+\s*\(\s*([IPB])-SLICE,\s*nQP\s+(-?\d+)\s+QP\s+(-?\d+)\s*\)")


@dataclass(frozen=True)
class HmFrames:
    """Display-order QP and slice type of every picture an HM log reports."""

    qp: list[int]
    frame_type: list[str]


def read_hm_log(path: Path, num_frames: int | None = None) -> HmFrames:
    """Parse the per-POC lines (coding order) into display order; checks POCs run 0..n-1 once each."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as err:
        raise DataError(path, f"unreadable HM log ({err.strerror or err})") from err
    by_poc: dict[int, tuple[int, str]] = {}
    for line in text.splitlines():
        match = _POC_LINE.match(line)
        if match is None:
            continue
        poc = int(match[1])
        if poc in by_poc:
            raise DataError(path, f"POC {poc} reported twice: not one encoder run")
        by_poc[poc] = (int(match[4]), match[2])
    if not by_poc:
        raise DataError(path, "no per-picture 'POC n TId: t ( X-SLICE, nQP q QP q )' lines: not an HM encoder log")
    if sorted(by_poc) != list(range(len(by_poc))):
        raise DataError(path, f"POCs are not 0..{len(by_poc) - 1} without gaps")
    if num_frames is not None and len(by_poc) != num_frames:
        raise DataError(path, f"reports {len(by_poc)} pictures but the video has {num_frames} frames")
    return HmFrames([by_poc[k][0] for k in range(len(by_poc))], [by_poc[k][1] for k in range(len(by_poc))])
