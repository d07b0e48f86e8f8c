"""write_report and the CLI produce report.md, CSV, LaTeX and PNGs, honestly."""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from vsr_lightning.report import ConventionMismatchError, write_report
from vsr_lightning.report import cli as report_cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def written(offline_records: list, tmp_path_factory: pytest.TempPathFactory):
    return write_report(offline_records, tmp_path_factory.mktemp("report"), title="Transfer ablation")


def test_files_written(written) -> None:
    out = written.markdown.parent
    for name in ("report.md", "per_video_psnr.csv", "per_video_psnr.tex", "ablation.csv", "ablation.tex"):
        assert (out / name).is_file()
    for name in ("per_video_psnr.png", "frames_carphone.png", "samples_carphone.png"):
        with Image.open(out / "figures" / name) as img:
            assert img.format == "PNG" and img.width > 100


def test_markdown_links_are_relative_and_resolve(written) -> None:
    out = written.markdown.parent
    text = written.markdown.read_text()
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert "figures/per_video_psnr.png" in links
    for link in links:
        assert not Path(link).is_absolute() and (out / link).is_file(), link


def test_baseline_comes_from_config(written) -> None:
    assert written.baseline == "scratch"
    assert "baseline arm **scratch**" in written.markdown.read_text()


def test_convention_stated_in_every_format(written) -> None:
    out = written.markdown.parent
    line = "RGB PSNR, crop border 0, averaged per video then over videos"
    assert written.markdown.read_text().count(line) >= 3  # header + under both tables
    for name in ("per_video_psnr.csv", "ablation.csv", "per_video_psnr.tex", "ablation.tex"):
        assert line in (out / name).read_text(), name


def test_crashed_runs_listed_and_never_averaged(written) -> None:
    text = written.markdown.read_text()
    not_included = text.split("## Runs not included", 1)[1]
    assert "denoise-crash" in not_included and "exit code 1" in not_included
    assert "process died before run.finish()" in not_included
    assert "scratch-old" in not_included  # superseded, listed too
    tables = text.split("## Runs not included", 1)[0]
    assert "40.000" not in tables and "50.000" not in tables  # crashed / killed runs' numbers


def test_csv_round_trips_numbers(written, contract: ModuleType) -> None:
    with open(written.markdown.parent / "ablation.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(line for line in fh if not line.startswith("#"))]
    by_arm = {r["arm"]: r for r in rows}
    for arm, value in contract.EXPECTED_MEAN.items():
        assert float(by_arm[arm]["PSNR (dB)"]) == pytest.approx(value, abs=1e-6)
    assert by_arm["deep"]["videos improved vs scratch count"] == "2"
    assert by_arm["deep"]["videos improved vs scratch total"] == "2"
    assert by_arm["scratch"]["95% CI of mean Δ scratch low"] == ""
    assert float(by_arm["denoise_pretrained"]["95% CI of mean Δ scratch low"]) == pytest.approx(-0.1)


def test_missing_video_marked(written) -> None:
    text = written.markdown.read_text()
    bunny = next(line for line in text.splitlines() if line.startswith("| bunny |"))
    assert "—" in bunny
    assert "bunny (missing from deep)" in text
    assert "over the 2 videos common to all included arms" in text


def test_explicit_baseline_and_video(offline_records: list, tmp_path: Path) -> None:
    written = write_report(offline_records, tmp_path, baseline="deep", video="bikes")
    assert written.baseline == "deep"
    assert list(written.selection.included)[0] == "deep"
    text = written.markdown.read_text()
    assert "No per-frame table (`val/per_frame`) was logged for bikes." in text
    assert "No sample crops were logged for bikes." in text


def test_baseline_without_finished_run_is_refused(offline_records: list, tmp_path: Path) -> None:
    crashed_only = [r for r in offline_records if r.name != "denoise"]
    with pytest.raises(ValueError, match="no finished, complete run"):
        write_report(crashed_only, tmp_path, baseline="denoise_pretrained")


def test_mixed_conventions_are_refused(offline_records: list, tmp_path: Path) -> None:
    runs = list(offline_records)
    i = next(i for i, r in enumerate(runs) if r.name == "deep")
    config = {**runs[i].config, "psnr_convention": {"channel": "y", "crop_border": 1, "average": "per frame"}}
    runs[i] = dataclasses.replace(runs[i], config=config)
    with pytest.raises(ConventionMismatchError, match="REFUSING TO COMPARE") as err:
        write_report(runs, tmp_path / "mixed")
    assert "Y-channel PSNR, crop border 1" in str(err.value) and "deep" in str(err.value)
    assert not (tmp_path / "mixed" / "report.md").exists()


def test_missing_convention_is_stated_loudly(offline_records: list, tmp_path: Path) -> None:
    runs = [
        dataclasses.replace(r, config={k: v for k, v in r.config.items() if k != "psnr_convention"})
        for r in offline_records
    ]
    text = write_report(runs, tmp_path).markdown.read_text()
    assert "**PSNR convention NOT RECORDED**" in text


def test_no_finished_runs(offline_records: list, tmp_path: Path) -> None:
    runs = [r for r in offline_records if r.state.value != "finished"]
    text = write_report(runs, tmp_path).markdown.read_text()
    assert "No finished run with a complete summary" in text and "denoise-crash" in text


def test_cli_exit_code_on_mixed_conventions(
    offline_records: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    runs = [
        dataclasses.replace(r, config={**r.config, "psnr_convention": {"channel": r.name}}) for r in offline_records
    ]
    from vsr_lightning.report import offline_reader

    monkeypatch.setattr(offline_reader, "read_offline_runs", lambda *a, **k: runs)
    code = report_cli.main(["--group", "g", "--offline", str(tmp_path), "--out", str(tmp_path / "o")])
    assert code == 2 and "REFUSING TO COMPARE" in capsys.readouterr().err


@pytest.mark.slow  # a fresh interpreter; test_offline_reader runs the same CLI in-process
def test_cli_subprocess_on_offline_dir(wandb_root: Path, tmp_path: Path, contract: ModuleType) -> None:
    out = tmp_path / "experiments" / "transfer"
    env = dict(os.environ, WANDB_MODE="offline", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vsr_lightning.report",
            "--group",
            contract.GROUP,
            "--offline",
            str(wandb_root),
            "--out",
            str(out),
            "--video",
            "carphone",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    text = (out / "report.md").read_text()
    assert "# Ablation report: ablation_transfer" in text
    assert "| **mean (2 common videos)** | **32.250** | **33.500** | **33.550** | **33.650** |" in text
    assert "| denoise_pretrained | denoise | 33.550 | +1.300 | +0.050 | 1/2 | [-0.100, +0.200] |" in text
    assert (out / "figures" / "frames_carphone.png").is_file()
    assert "20.000" not in text  # the other group's run
