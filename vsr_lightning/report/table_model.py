"""A renderer-neutral table: typed columns, raw values, and the notes that must travel with it.

Values stay numbers until rendering so the CSV keeps full precision while Markdown/LaTeX round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """How a column's values are formatted."""

    TEXT = "text"
    DB = "db"  # absolute PSNR in dB
    GAIN = "gain"  # signed dB difference
    CI = "ci"  # (low, high) signed dB
    COUNT = "count"  # (k, n)
    PARAMS = "params"  # integer parameter count
    SECONDS = "seconds"  # duration


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = Kind.TEXT


@dataclass
class Table:
    """Body rows, optional footer rows (e.g. the mean) and notes printed under the table."""

    title: str
    slug: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    footer: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
