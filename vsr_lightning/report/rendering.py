"""Render a :class:`Table` as Markdown, CSV and LaTeX, always with its notes underneath.

The notes carry the PSNR convention and the caveats (missing videos, common-video means), so they
are part of every output format, not only of report.md.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from vsr_lightning.report.table_model import Column, Kind, Table

MISSING = "—"
CSV_DECIMALS = 6
_NUMERIC = {Kind.DB, Kind.GAIN, Kind.CI, Kind.COUNT, Kind.PARAMS, Kind.SECONDS}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_duration(seconds: float) -> str:
    """Human duration: 45 s, 12.5 min, 3.2 h."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_cell(value: Any, kind: Kind) -> str:
    """Rounded, human-readable cell text (Markdown and LaTeX)."""
    if kind is Kind.CI:
        if _is_missing(value) or any(_is_missing(v) for v in value):
            return MISSING
        return f"[{value[0]:+.3f}, {value[1]:+.3f}]"
    if _is_missing(value):
        return MISSING
    if kind is Kind.DB:
        return f"{value:.3f}"
    if kind is Kind.GAIN:
        return f"{value:+.3f}"
    if kind is Kind.COUNT:
        return f"{value[0]}/{value[1]}"
    if kind is Kind.PARAMS:
        return f"{value / 1e6:.2f} M"
    if kind is Kind.SECONDS:
        return format_duration(float(value))
    return str(value)


def to_markdown(table: Table) -> str:
    """GitHub-flavoured Markdown; footer rows in bold; notes as paragraphs below."""
    header = "| " + " | ".join(c.name for c in table.columns) + " |"
    align = "|" + "|".join("---:" if c.kind in _NUMERIC else ":---" for c in table.columns) + "|"
    lines = [header, align]
    for row in table.rows:
        lines.append("| " + " | ".join(format_cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)) + " |")
    for row in table.footer:
        cells = [format_cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)]
        lines.append("| " + " | ".join(f"**{c}**" if c != MISSING else c for c in cells) + " |")
    out = "\n".join(lines) + "\n"
    if table.notes:
        out += "\n" + "\n\n".join(table.notes) + "\n"
    return out


def _csv_header(column: Column) -> list[str]:
    if column.kind is Kind.CI:
        return [f"{column.name} low", f"{column.name} high"]
    if column.kind is Kind.COUNT:
        return [f"{column.name} count", f"{column.name} total"]
    return [column.name]


def _csv_cells(value: Any, column: Column) -> list[str]:
    width = len(_csv_header(column))
    if _is_missing(value):
        return [""] * width
    values = value if width == 2 else (value,)
    return ["" if _is_missing(v) else _csv_number(v) for v in values]


def _csv_number(value: Any) -> str:
    """Floats rounded to 1e-6 dB (far below any real difference) so float noise does not show."""
    if isinstance(value, float):
        return repr(round(value, CSV_DECIMALS))
    return str(value)


def to_csv(table: Table) -> str:
    """CSV (floats to 1e-6); tuple columns split in two; notes as trailing ``#`` comment lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([h for c in table.columns for h in _csv_header(c)])
    for row in [*table.rows, *table.footer]:
        writer.writerow([cell for v, c in zip(row, table.columns, strict=True) for cell in _csv_cells(v, c)])
    for note in table.notes:
        buffer.write("# " + note.replace("**", "").replace("\n", " ") + "\n")
    return buffer.getvalue()


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "Δ": r"$\Delta$",
    MISSING: "---",
    "±": r"$\pm$",
    "`": "",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and map the few non-ASCII glyphs the tables use."""
    text = text.replace("**", "")
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A booktabs ``table`` environment with the notes in a footnote-size paragraph."""
    spec = "".join("r" if c.kind in _NUMERIC else "l" for c in table.columns)
    lines = [
        r"% requires \usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        r"\caption{" + latex_escape(table.title) + "}",
        r"\label{tab:" + table.slug.replace("_", "-") + "}",
        r"\begin{tabular}{" + spec + "}",
        r"\toprule",
        " & ".join(latex_escape(c.name) for c in table.columns) + r" \\",
        r"\midrule",
    ]
    for row in table.rows:
        lines.append(
            " & ".join(latex_escape(format_cell(v, c.kind)) for v, c in zip(row, table.columns, strict=True)) + r" \\"
        )
    if table.footer:
        lines.append(r"\midrule")
        for row in table.footer:
            lines.append(
                " & ".join(latex_escape(format_cell(v, c.kind)) for v, c in zip(row, table.columns, strict=True))
                + r" \\"
            )
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.notes:
        lines.append(r"\par\smallskip{\footnotesize " + r" \\ ".join(latex_escape(n) for n in table.notes) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"
