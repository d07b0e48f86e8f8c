"""Offline runs written by wandb 0.31 are read back with the values that were logged."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest

from vsr_lightning.report.offline_reader import find_offline_run_dirs, read_offline_run
from vsr_lightning.report.run_record import RunState


def _by_name(records: list) -> dict:
    return {r.name: r for r in records}


def test_group_filter_keeps_group_and_unknown_runs(offline_records: list, contract: ModuleType) -> None:
    names = {r.name for r in offline_records}
    assert "other" not in names  # other_group filtered out
    assert {"scratch-old", "scratch", "denoise", "deep", "denoise-crash"} <= names
    unknown = [r for r in offline_records if r.group is None]
    assert len(unknown) == 1  # the killed process left no run record
    assert all(r.group == contract.GROUP for r in offline_records if r.group is not None)


def test_finished_run_fields(offline_records: list, contract: ModuleType) -> None:
    scratch = _by_name(offline_records)["scratch"]
    spec = next(s for s in contract.RUNS if s.name == "scratch")
    assert scratch.state is RunState.FINISHED
    assert scratch.arm == "scratch" and scratch.job_type == "stage2" and scratch.group == contract.GROUP
    assert scratch.config["psnr_convention"] == {
        "channel": "rgb",
        "crop_border": 0,
        "average": "per video, then over videos",
    }
    assert "_wandb" not in scratch.config
    for video, psnr in spec.psnr.items():
        assert scratch.videos[video]["psnr"] == pytest.approx(psnr)
        assert scratch.videos[video]["psnr_lq"] == pytest.approx(contract.INPUT[video])
        assert scratch.videos[video]["psnr_y"] == pytest.approx(psnr + 1.0)
    assert scratch.overall["psnr"] == pytest.approx(sum(spec.psnr.values()) / 3)
    assert scratch.params == spec.params and isinstance(scratch.params, int)
    assert scratch.train_seconds == pytest.approx(spec.train_seconds)
    assert scratch.to_final_psnr_seconds == pytest.approx(spec.train_seconds / 2)
    assert scratch.global_step == 1000


def test_per_frame_rows_and_samples(offline_records: list) -> None:
    scratch = _by_name(offline_records)["scratch"]
    assert [f.frame for f in scratch.frames] == list(range(8))
    assert [f.frame for f in scratch.frames if f.pqf] == [0, 4]
    assert scratch.frames[0].psnr == pytest.approx(31.5) and scratch.frames[1].psnr_lq == pytest.approx(28.7)
    assert set(scratch.samples["carphone"]) == {"lq", "stage1", "output", "gt"}
    assert all(p.is_file() and p.suffix == ".png" for p in scratch.samples["carphone"].values())
    assert _by_name(offline_records)["deep"].frames == []


def test_crashed_and_killed_runs(offline_records: list) -> None:
    crashed = _by_name(offline_records)["denoise-crash"]
    assert crashed.state is RunState.CRASHED and "exit code 1" in crashed.state_detail
    killed = next(r for r in offline_records if r.group is None)
    assert killed.state is RunState.CRASHED
    assert "no exit record" in killed.state_detail and killed.arm is None


def test_latest_run_is_started_later(offline_records: list) -> None:
    named = _by_name(offline_records)
    assert named["scratch-old"].started_at < named["scratch"].started_at


def test_run_dirs_found_once_despite_latest_run_link(wandb_root: Path, contract: ModuleType) -> None:
    dirs = find_offline_run_dirs(wandb_root)
    assert len(dirs) == len(contract.RUNS) + 1
    assert all(d.name.startswith("offline-run-") for d in dirs)
    assert (wandb_root / "wandb" / "latest-run").is_symlink()


def test_run_without_exit_record_and_live_logs_is_running(offline_records: list, tmp_path: Path) -> None:
    killed = next(r for r in offline_records if r.group is None)
    copy = tmp_path / Path(killed.source).name
    shutil.copytree(killed.source, copy, symlinks=True)
    shutil.rmtree(copy / "logs")  # no sign that the process ended
    record = read_offline_run(copy)
    assert record.state is RunState.RUNNING
    assert record.run_id == killed.run_id


def test_cli_fallback_reads_the_same(offline_records: list, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the wandb-core shortcut the documented ``python -m wandb leet inspect`` path is used."""
    from vsr_lightning.report import offline_reader

    monkeypatch.setattr(offline_reader, "_core_binary", lambda: None)
    fast = next(r for r in offline_records if r.name == "denoise-crash")
    slow = offline_reader.read_offline_run(Path(fast.source))
    assert (slow.run_id, slow.group, slow.job_type, slow.state) == (
        fast.run_id,
        fast.group,
        fast.job_type,
        fast.state,
    )
    assert slow.videos == fast.videos and slow.config == fast.config


def test_one_damaged_run_file_is_listed_not_fatal(wandb_root: Path, tmp_path: Path, contract: ModuleType) -> None:
    from vsr_lightning.report.offline_reader import read_offline_runs

    root = tmp_path / "wb"
    shutil.copytree(wandb_root, root, symlinks=True)
    bad = root / "wandb" / "offline-run-20261202_000000-damaged"
    bad.mkdir(parents=True)
    (bad / "run-damaged.wandb").write_bytes(b"\x01\x13\xdcY not a W&B transaction log" * 40)
    records = read_offline_runs(root, group=contract.GROUP)
    damaged = [r for r in records if r.run_id == "damaged"]
    assert len(damaged) == 1 and damaged[0].state == RunState.CRASHED
    assert damaged[0].state_detail.startswith("unreadable: ") and "run-damaged.wandb" in damaged[0].state_detail
    assert len(records) == len(read_offline_runs(wandb_root, group=contract.GROUP)) + 1  # the others still read


def test_report_on_a_missing_folder_says_so_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vsr_lightning.report.cli import main

    assert main(["--group", "g", "--offline", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert (
        err == f"ERROR: {tmp_path / 'nope'}: no such directory (--offline names the folder holding the "
        "offline-run-* folders, e.g. outputs/wandb)\n"
    )
    assert not (tmp_path / "out").exists()
