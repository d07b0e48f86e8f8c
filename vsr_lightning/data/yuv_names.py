"""JCT-VC style raw-video names (``Name_416x240_50.yuv``): the size and rate a raw file cannot carry.

The MFQE 2.0 data set and the JCT-VC common test conditions name every raw YUV 4:2:0 sequence
``<Name>_<W>x<H>_<fps>`` (sometimes with a trailing tag, e.g. ``Traffic_2560x1600_30_crop``); the
name is the only place its frame size is written down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERN = re.compile(r"^(?P<base>.+?)_(?P<w>\d+)x(?P<h>\d+)(?:_(?P<fps>\d+(?:\.\d+)?))?(?:_[^_]+)*$")


@dataclass(frozen=True)
class JctvcName:
    """What a JCT-VC style name says: the sequence, its frame size and (when given) its rate."""

    base: str
    width: int
    height: int
    fps: float | None

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def parse_jctvc_name(stem: str) -> JctvcName | None:
    """``BasketballPass_416x240_50`` -> ``JctvcName("BasketballPass", 416, 240, 50.0)``; None if no size."""
    match = _PATTERN.match(stem)
    if match is None or int(match["w"]) == 0 or int(match["h"]) == 0:
        return None
    fps = float(match["fps"]) if match["fps"] else None
    return JctvcName(match["base"], int(match["w"]), int(match["h"]), fps)


def jctvc_stem(base: str, width: int, height: int, fps: float) -> str:
    """The JCT-VC style stem of a sequence (the rate written as an integer when it is one)."""
    rate = f"{fps:g}" if fps != int(fps) else f"{int(fps)}"
    return f"{base}_{width}x{height}_{rate}"
