"""Read runs through the W&B public API (``wandb.Api().runs``).

The api object is injectable so tests can pass a stand-in with the same interface; everything after
fetching goes through :func:`record_builder.build_record`, exactly like offline runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vsr_lightning.report.record_builder import MediaFetcher, RawRun, build_record, parse_timestamp
from vsr_lightning.report.run_record import RunRecord


def _media_fetcher(run: Any, root: Path) -> MediaFetcher:
    """Download a run file (table JSON, image) on first use into ``root``; None when unavailable."""

    def fetch(rel: str) -> Path | None:
        target = root / rel
        if target.is_file():
            return target
        getter = getattr(run, "file", None)
        if getter is None:
            return None
        try:
            getter(rel).download(root=str(root), replace=True)
        except Exception:  # a missing media file must not sink the whole report
            return None
        return target if target.is_file() else None

    return fetch


def _query(group: str | None, tags: Iterable[str] | None, filters: Mapping[str, Any] | None) -> dict[str, Any]:
    query: dict[str, Any] = dict(filters or {})
    if group is not None:
        query["group"] = group
    if tags:
        query["tags"] = {"$in": list(tags)}
    return query


def read_api_runs(
    project: str,
    entity: str | None = None,
    group: str | None = None,
    tags: Iterable[str] | None = None,
    filters: Mapping[str, Any] | None = None,
    api: Any = None,
    media_dir: str | Path | None = None,
) -> list[RunRecord]:
    """Fetch the runs of ``entity/project`` (optionally one group / any of ``tags``) as RunRecords.

    Group and tags are also checked on the client, so a backend that ignores part of the filter
    cannot smuggle other experiments into the tables. Media (per-frame table, sample crops) are
    downloaded into ``media_dir`` (a temporary directory when not given).
    """
    if api is None:
        import wandb

        api = wandb.Api()
    path = f"{entity}/{project}" if entity else project
    wanted_tags = set(tags or ())
    root = Path(media_dir) if media_dir is not None else Path(tempfile.mkdtemp(prefix="vsr_report_media_"))
    records: list[RunRecord] = []
    for run in api.runs(path, filters=_query(group, tags, filters)):
        run_group = getattr(run, "group", None)
        run_tags = tuple(getattr(run, "tags", None) or ())
        if group is not None and run_group != group:
            continue
        if wanted_tags and not wanted_tags.intersection(run_tags):
            continue
        raw = RawRun(
            run_id=str(run.id),
            name=str(getattr(run, "name", "") or run.id),
            group=run_group,
            job_type=getattr(run, "job_type", None),
            state=str(getattr(run, "state", "") or ""),
            config=run.config or {},
            summary=run.summary or {},
            tags=run_tags,
            started_at=parse_timestamp(getattr(run, "created_at", None)),
            source=str(getattr(run, "url", "") or f"{path}/{run.id}"),
            fetch_media=_media_fetcher(run, root / str(run.id)),
        )
        records.append(build_record(raw))
    return records
