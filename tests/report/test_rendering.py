"""Renderers keep numbers, notes and missing markers in every format."""

from __future__ import annotations

from vsr_lightning.report.rendering import format_duration, latex_escape, to_csv, to_latex, to_markdown
from vsr_lightning.report.table_model import Column, Kind, Table


def _table() -> Table:
    return Table(
        title="Ablation_1 & more",
        slug="abl_test",
        columns=[
            Column("arm"),
            Column("PSNR", Kind.DB),
            Column("Δ", Kind.GAIN),
            Column("CI", Kind.CI),
            Column("n", Kind.COUNT),
            Column("params", Kind.PARAMS),
            Column("time", Kind.SECONDS),
        ],
        rows=[
            ["a_1", 31.23456, 0.1 + 0.2, (-0.0123, 0.25), (3, 4), 7_300_000, 45.0],
            ["b%", None, None, None, None, None, None],
        ],
        footer=[["mean", 31.0, 0.05, None, None, None, 7200.0]],
        notes=["PSNR convention: RGB PSNR, crop border 0.", "**Loud** note #1"],
    )


def test_markdown() -> None:
    text = to_markdown(_table())
    assert "| a_1 | 31.235 | +0.300 | [-0.012, +0.250] | 3/4 | 7.30 M | 45 s |" in text
    assert "| b% | — | — | — | — | — | — |" in text
    assert "| **mean** | **31.000** | **+0.050** | — | — | — | **2.0 h** |" in text
    assert text.rstrip().endswith("**Loud** note #1")
    assert "PSNR convention: RGB PSNR, crop border 0." in text


def test_csv_splits_tuples_and_rounds_float_noise() -> None:
    lines = to_csv(_table()).splitlines()
    assert lines[0] == "arm,PSNR,Δ,CI low,CI high,n count,n total,params,time"
    assert lines[1] == "a_1,31.23456,0.3,-0.0123,0.25,3,4,7300000,45.0"
    assert lines[2] == "b%,,,,,,,,"
    assert lines[-2:] == ["# PSNR convention: RGB PSNR, crop border 0.", "# Loud note #1"]


def test_latex_escapes_and_keeps_notes() -> None:
    text = to_latex(_table())
    assert r"\caption{Ablation\_1 \& more}" in text and r"\label{tab:abl-test}" in text
    assert r"a\_1 & 31.235 & +0.300 & [-0.012, +0.250] & 3/4 & 7.30 M & 45 s \\" in text
    assert r"b\% & --- &" in text
    assert r"\midrule" in text.split("b\\%")[1]  # footer separated
    assert r"Loud note \#1" in text and "PSNR convention: RGB PSNR" in text
    assert latex_escape("Δ input") == r"$\Delta$ input"


def test_durations() -> None:
    assert format_duration(45) == "45 s"
    assert format_duration(750) == "12.5 min"
    assert format_duration(29 * 3600) == "29.0 h"
