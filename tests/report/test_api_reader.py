"""The W&B API reader, fed by a stand-in Api built from the same offline runs, gives the same tables."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from vsr_lightning.report import read_api_runs, write_report
from vsr_lightning.report.offline_reader import find_offline_run_dirs, read_offline_raw
from vsr_lightning.report.record_builder import MediaFetcher, RawRun
from vsr_lightning.report.run_record import RunState

# what the W&B server reports for our offline states
_SERVER_STATE = {"finished": "finished", "crashed": "failed", "running": "running"}


@dataclass
class FakeFile:
    """Mimics ``wandb.apis.public.File.download``."""

    name: str
    source: Path | None

    def download(self, root: str = ".", replace: bool = False, exist_ok: bool = False) -> Any:
        if self.source is None or not self.source.is_file():
            raise ValueError(f"no such file {self.name}")
        target = Path(root) / self.name
        if target.exists() and not replace:
            if exist_ok:
                return target.open()
            raise ValueError(f"{target} exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.source, target)
        return target.open()


@dataclass
class FakeRun:
    """The attributes of ``wandb.apis.public.Run`` the reader uses."""

    id: str
    name: str
    group: str | None
    config: dict[str, Any]
    summary: dict[str, Any]
    state: str
    job_type: str | None
    tags: list[str]
    created_at: str
    url: str
    fetch: MediaFetcher | None = field(default=None, repr=False)
    downloads: list[str] = field(default_factory=list)

    def file(self, name: str) -> FakeFile:
        self.downloads.append(name)
        return FakeFile(name, self.fetch(name) if self.fetch else None)


@dataclass
class FakeApi:
    """``wandb.Api`` stand-in: ``runs(path, filters)`` honours the group filter like the server."""

    runs_: list[FakeRun]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def runs(self, path: str, filters: dict[str, Any] | None = None) -> list[FakeRun]:
        self.calls.append((path, dict(filters or {})))
        group = (filters or {}).get("group")
        return [r for r in self.runs_ if group is None or r.group == group]


def fake_run(raw: RawRun, group_if_unknown: str) -> FakeRun:
    return FakeRun(
        id=raw.run_id,
        name=raw.name,
        # the server knows the group of a run killed before finish(); its offline log does not
        group=raw.group or group_if_unknown,
        config=dict(raw.config),
        summary=dict(raw.summary),
        state=_SERVER_STATE.get(raw.state, raw.state) if raw.config else "crashed",
        job_type=raw.job_type,
        tags=["v2"] if raw.name == "deep" else [],
        created_at=raw.started_at.isoformat() if raw.started_at else "",
        url=f"https://wandb.invalid/runs/{raw.run_id}",
        fetch=raw.fetch_media,
    )


@pytest.fixture(scope="module")
def fake_api(wandb_root: Path, contract: ModuleType) -> FakeApi:
    raws = [read_offline_raw(d) for d in find_offline_run_dirs(wandb_root)]
    return FakeApi([fake_run(raw, contract.GROUP) for raw in raws])


@pytest.fixture(scope="module")
def api_records(fake_api: FakeApi, contract: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> list:
    media = tmp_path_factory.mktemp("media")
    return read_api_runs(contract.PROJECT, entity="team", group=contract.GROUP, api=fake_api, media_dir=media)


def test_query_sent_to_api(fake_api: FakeApi, api_records: list, contract: ModuleType) -> None:
    path, filters = fake_api.calls[0]
    assert path == f"team/{contract.PROJECT}" and filters == {"group": contract.GROUP}
    assert "other" not in {r.name for r in api_records}


def test_same_records_as_offline(api_records: list, offline_records: list) -> None:
    offline = {r.run_id: r for r in offline_records}
    assert set(offline) == {r.run_id for r in api_records}
    for record in api_records:
        twin = offline[record.run_id]
        assert (record.name, record.arm, record.job_type, record.state) == (
            twin.name,
            twin.arm,
            twin.job_type,
            twin.state,
        )
        assert record.videos == twin.videos and record.overall == twin.overall
        assert record.frames == twin.frames and record.params == twin.params
        assert record.started_at == twin.started_at
    crashed = next(r for r in api_records if r.name == "denoise-crash")
    assert crashed.state is RunState.CRASHED and crashed.state_detail == "failed"


def test_media_downloaded(api_records: list) -> None:
    scratch = next(r for r in api_records if r.name == "scratch")
    assert set(scratch.samples["carphone"]) == {"lq", "stage1", "output", "gt"}
    assert all(p.is_file() and scratch.run_id in p.parts for p in scratch.samples["carphone"].values())


def test_same_tables_as_offline(api_records: list, offline_records: list, tmp_path: Path) -> None:
    from_api = write_report(api_records, tmp_path / "api")
    from_offline = write_report(offline_records, tmp_path / "offline")
    for name in ("per_video_psnr.csv", "ablation.csv", "per_video_psnr.tex", "ablation.tex"):
        assert (tmp_path / "api" / name).read_text() == (tmp_path / "offline" / name).read_text(), name

    def tables_part(text: str) -> str:
        body = text.split("## Runs not included")[0]
        return "\n".join(line for line in body.splitlines() if not line.startswith("Generated "))

    assert tables_part(from_api.markdown.read_text()) == tables_part(from_offline.markdown.read_text())
    assert "denoise-crash" in from_api.markdown.read_text().split("## Runs not included")[1]


def test_tags_filter_is_checked_client_side(fake_api: FakeApi, contract: ModuleType, tmp_path: Path) -> None:
    records = read_api_runs(contract.PROJECT, group=contract.GROUP, tags=["v2"], api=fake_api, media_dir=tmp_path)
    assert [r.name for r in records] == ["deep"]
    assert fake_api.calls[-1] == (contract.PROJECT, {"group": contract.GROUP, "tags": {"$in": ["v2"]}})


def test_missing_media_does_not_fail(contract: ModuleType, tmp_path: Path) -> None:
    run = FakeRun(
        id="abc",
        name="lonely",
        group=contract.GROUP,
        state="finished",
        job_type="stage1",
        tags=[],
        created_at="2026-01-01T00:00:00Z",
        url="",
        fetch=None,
        config={"arm": "a"},
        summary={
            "val/psnr": 30.0,
            "val/video/v/psnr": 30.0,
            "val/video/v/psnr_lq": 29.0,
            "val/per_frame": {"_type": "table-file", "path": "media/table/val/per_frame_0_x.table.json"},
            "samples/v/gt": {"_type": "image-file", "path": "media/images/samples/v/gt_0_x.png"},
        },
    )
    [record] = read_api_runs("p", api=FakeApi([run]), media_dir=tmp_path)
    assert record.frames == [] and record.samples == {} and record.videos == {"v": {"psnr": 30.0, "psnr_lq": 29.0}}
    assert run.downloads  # it tried
