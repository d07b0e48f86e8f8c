"""Table numbers match the values logged to the offline runs (exact means, gains, counts, CI)."""

from __future__ import annotations

import dataclasses
from types import ModuleType

import pytest

from vsr_lightning.report.comparison import compare
from vsr_lightning.report.convention import common_convention, convention_line
from vsr_lightning.report.selection import select_runs
from vsr_lightning.report.table_model import Table
from vsr_lightning.report.tables import ablation_table, per_video_table


@pytest.fixture(scope="module")
def tables(offline_records: list) -> tuple[Table, Table, object]:
    selection = select_runs(offline_records, "scratch")
    line = convention_line(common_convention(selection.included.values()))
    cmp = compare(selection.included, "scratch")
    return per_video_table(cmp, line), ablation_table(cmp, selection.included, line), cmp


def _column(table: Table, name: str) -> int:
    return [c.name for c in table.columns].index(name)


def test_selection_uses_latest_finished_run_per_arm(offline_records: list) -> None:
    selection = select_runs(offline_records, "scratch")
    assert list(selection.included) == ["scratch", "denoise_pretrained", "deep"]
    assert selection.included["scratch"].name == "scratch"
    assert selection.included["denoise_pretrained"].name == "denoise"  # not the crashed one
    assert [s.run.name for s in selection.superseded] == ["scratch-old"]
    excluded = {s.run.name: s.reason for s in selection.excluded}
    assert excluded["denoise-crash"].startswith("crashed") and "exit code 1" in excluded["denoise-crash"]
    assert len(excluded) == 2  # crash + killed process


def test_common_videos_exclude_the_missing_one(tables: tuple, contract: ModuleType) -> None:
    _, _, cmp = tables
    assert cmp.videos == ["bikes", "bunny", "carphone"]
    assert cmp.common == ["bikes", "carphone"]
    assert cmp.missing() == {"bunny": ["deep"]}


def test_per_video_table_values(tables: tuple, contract: ModuleType) -> None:
    table, _, _ = tables
    rows = {row[0]: row for row in table.rows}
    for arm, name in (("scratch", "scratch"), ("denoise_pretrained", "denoise"), ("deep", "deep")):
        spec = next(s for s in contract.RUNS if s.name == name)
        for video in rows:
            expected = spec.psnr.get(video)
            got = rows[video][_column(table, arm)]
            assert got is None if expected is None else got == pytest.approx(expected)
    assert rows["bunny"][_column(table, "deep Δ scratch")] is None
    assert rows["bikes"][_column(table, "denoise_pretrained Δ scratch")] == pytest.approx(-0.1)
    assert rows["carphone"][_column(table, "input PSNR")] == pytest.approx(29.0)
    mean = table.footer[0]
    assert mean[0] == "mean (2 common videos)"
    assert mean[_column(table, "input PSNR")] == pytest.approx(contract.EXPECTED_INPUT_MEAN)
    for arm, value in contract.EXPECTED_MEAN.items():
        assert mean[_column(table, arm)] == pytest.approx(value)
    for arm, value in contract.EXPECTED_GAIN_VS_INPUT.items():
        assert mean[_column(table, f"{arm} Δ input")] == pytest.approx(value)
    for arm, value in contract.EXPECTED_GAIN_VS_BASELINE.items():
        assert mean[_column(table, f"{arm} Δ scratch")] == pytest.approx(value)
    assert any("bunny (missing from deep)" in n for n in table.notes)
    assert any("2 videos common to all included arms (bikes, carphone)" in n for n in table.notes)


def test_ablation_table_values(tables: tuple, contract: ModuleType) -> None:
    _, table, _ = tables
    rows = {row[0]: row for row in table.rows}
    assert list(rows) == ["scratch", "denoise_pretrained", "deep"]
    for arm, value in contract.EXPECTED_MEAN.items():
        assert rows[arm][_column(table, "PSNR (dB)")] == pytest.approx(value)
        assert rows[arm][_column(table, "Δ input")] == pytest.approx(contract.EXPECTED_GAIN_VS_INPUT[arm])
    assert rows["scratch"][_column(table, "Δ scratch")] == pytest.approx(0.0)
    assert rows["scratch"][_column(table, "videos improved vs scratch")] is None
    for arm, gain in contract.EXPECTED_GAIN_VS_BASELINE.items():
        assert rows[arm][_column(table, "Δ scratch")] == pytest.approx(gain)
        assert rows[arm][_column(table, "videos improved vs scratch")] == contract.EXPECTED_IMPROVED[arm]
        low, high = rows[arm][_column(table, "95% CI of mean Δ scratch")]
        assert low <= gain <= high and low < high
    # two videos: resampled means are -0.1, 0.05, 0.2 with probabilities 1/4, 1/2, 1/4
    assert rows["denoise_pretrained"][_column(table, "95% CI of mean Δ scratch")] == pytest.approx((-0.1, 0.2))
    assert rows["deep"][_column(table, "params")] == 15_800_000
    assert rows["denoise_pretrained"][_column(table, "train time")] == pytest.approx(3600.0)
    assert rows["deep"][_column(table, "time to final PSNR")] == pytest.approx(3600.0)


def test_convention_line_under_every_table(tables: tuple) -> None:
    for table in tables[:2]:
        assert table.notes[0] == ("PSNR convention: RGB PSNR, crop border 0, averaged per video then over videos.")


def test_y_metric_uses_y_values_and_says_so(offline_records: list) -> None:
    selection = select_runs(offline_records, "scratch")
    cmp = compare(selection.included, "scratch", metric="psnr_y")
    line = convention_line(common_convention(selection.included.values()), "psnr_y")
    assert "Y-channel PSNR" in line
    table = ablation_table(cmp, selection.included, line)
    assert table.rows[0][2] == pytest.approx(33.5 + 1.0)


def test_no_baseline_measures_gains_over_input(offline_records: list) -> None:
    selection = select_runs(offline_records)
    cmp = compare(selection.included)
    table = ablation_table(cmp, selection.included, "x")
    names = [c.name for c in table.columns]
    assert "videos improved vs input" in names and not any(n == "Δ scratch" for n in names)
    deep = next(r for r in table.rows if r[0] == "deep")
    assert deep[names.index("videos improved vs input")] == (2, 2)


def test_partial_run_is_excluded(offline_records: list) -> None:
    deep = next(r for r in offline_records if r.name == "deep")
    partial = dataclasses.replace(deep, overall={}, videos={})
    others = [r for r in offline_records if r.name != "deep"]
    selection = select_runs([*others, partial], "scratch")
    assert "deep" not in selection.included
    reason = next(s.reason for s in selection.excluded if s.run is partial)
    assert reason.startswith("partial") and "val/psnr" in reason


def test_logged_mean_mismatch_is_flagged(offline_records: list) -> None:
    selection = select_runs(offline_records, "scratch")
    scratch = selection.included["scratch"]
    selection.included["scratch"] = dataclasses.replace(scratch, overall={**scratch.overall, "psnr": 99.0})
    table = ablation_table(compare(selection.included, "scratch"), selection.included, "x")
    assert any("Check arm scratch" in n and "99.000" in n for n in table.notes)


def test_unknown_baseline_is_an_error(offline_records: list) -> None:
    selection = select_runs(offline_records)
    with pytest.raises(ValueError, match="baseline arm 'nope'"):
        compare(selection.included, "nope")
