"""Turn raw run data (config, summary, media files) into a RunRecord.

Both readers end here, so offline and API runs are interpreted by the same code and give the same
tables.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vsr_lightning.report import run_schema as rs
from vsr_lightning.report.run_record import FrameRow, RunRecord, RunState

# A function from a media path as stored in the summary (relative to the run's files, e.g.
# ``media/table/val/per_frame_3_ab12.table.json``) to a readable local file, or None.
MediaFetcher = Callable[[str], Path | None]

_FINISHED = {"finished"}
_RUNNING = {"running", "pending", "preempting"}


@dataclass
class RawRun:
    """What a reader extracts before interpretation; mirrors the W&B public-API run fields."""

    run_id: str
    name: str
    group: str | None
    job_type: str | None
    state: str
    config: Mapping[str, Any]
    summary: Mapping[str, Any]
    tags: tuple[str, ...] = ()
    started_at: datetime | None = None
    source: str = ""
    state_detail: str = ""
    fetch_media: MediaFetcher | None = field(default=None, repr=False)


def parse_timestamp(text: str | None) -> datetime | None:
    """ISO time from W&B (``Z`` suffix, sometimes nanoseconds) as an aware datetime, or None."""
    if not text:
        return None
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", str(text))
    try:
        stamp = datetime.fromisoformat(trimmed)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def normalize_state(raw: str) -> RunState:
    """Map W&B's run states (finished, failed, crashed, killed, running, ...) onto ours.

    Anything that is neither finished nor still going counts as crashed: it must never be averaged.
    """
    value = (raw or "").strip().lower()
    if value in _FINISHED:
        return RunState.FINISHED
    if value in _RUNNING:
        return RunState.RUNNING
    return RunState.CRASHED


def plain(value: Any) -> Any:
    """Deep-convert W&B's dict-like summary/config objects into plain dicts and lists."""
    if isinstance(value, Mapping) or (hasattr(value, "keys") and hasattr(value, "__getitem__")):
        return {str(k): plain(value[k]) for k in value.keys()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _number(value: Any) -> float | None:
    """A summary value as float, or None when it is not a real number (bools excluded)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _read_table(entry: Any, fetch: MediaFetcher | None) -> list[dict[str, Any]] | None:
    """Rows of a logged wandb.Table (summary entry of _type table-file) as dicts, or None."""
    if fetch is None or not isinstance(entry, Mapping) or "path" not in entry:
        return None
    local = fetch(str(entry["path"]))
    if local is None or not local.is_file():
        return None
    payload = json.loads(local.read_text())
    columns = list(payload.get("columns", []))
    return [dict(zip(columns, row, strict=False)) for row in payload.get("data", [])]


def _videos_from_summary(summary: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    videos: dict[str, dict[str, float]] = {}
    for key, value in summary.items():
        parsed = rs.parse_video_metric_key(key)
        number = _number(value)
        if parsed is None or number is None:
            continue
        video, metric = parsed
        videos.setdefault(video, {})[metric] = number
    return videos


def _merge_per_video_table(videos: dict[str, dict[str, float]], rows: list[dict[str, Any]]) -> None:
    """Fill metrics the summary lacks from ``val/per_video``; the summary keys win where both exist."""
    for row in rows:
        video = row.get("video")
        if video is None:
            continue
        metrics = videos.setdefault(str(video), {})
        for metric in rs.VIDEO_METRICS:
            number = _number(row.get(metric))
            if number is not None and metric not in metrics:
                metrics[metric] = number


def _frames(rows: list[dict[str, Any]]) -> list[FrameRow]:
    frames: list[FrameRow] = []
    for row in rows:
        psnr, psnr_lq = _number(row.get("psnr")), _number(row.get("psnr_lq"))
        if row.get("video") is None or row.get("frame") is None or psnr is None:
            continue
        frames.append(
            FrameRow(
                video=str(row["video"]),
                frame=int(row["frame"]),
                psnr=psnr,
                psnr_lq=psnr_lq if psnr_lq is not None else math.nan,
                pqf=bool(row.get("pqf")),
            )
        )
    frames.sort(key=lambda f: (f.video, f.frame))
    return frames


def _samples(summary: Mapping[str, Any], fetch: MediaFetcher | None) -> dict[str, dict[str, Path]]:
    samples: dict[str, dict[str, Path]] = {}
    if fetch is None:
        return samples
    for key, value in summary.items():
        parsed = rs.parse_sample_key(key)
        if parsed is None or not isinstance(value, Mapping) or "path" not in value:
            continue
        local = fetch(str(value["path"]))
        if local is not None and local.is_file():
            samples.setdefault(parsed[0], {})[parsed[1]] = local
    return samples


def build_record(raw: RawRun) -> RunRecord:
    """Interpret one raw run according to the logging contract in :mod:`run_schema`."""
    config = plain(raw.config) if raw.config else {}
    summary = plain(raw.summary) if raw.summary else {}
    config = {k: v for k, v in config.items() if k != "_wandb"}

    videos = _videos_from_summary(summary)
    per_video_rows = _read_table(summary.get(rs.TABLE_PER_VIDEO), raw.fetch_media)
    if per_video_rows:
        _merge_per_video_table(videos, per_video_rows)
    per_frame_rows = _read_table(summary.get(rs.TABLE_PER_FRAME), raw.fetch_media)

    overall = {
        name: number for name, key in rs.OVERALL_KEYS.items() if (number := _number(summary.get(key))) is not None
    }
    params = _number(summary.get(rs.MODEL_PARAMS))
    step = _number(summary.get(rs.TRAINER_GLOBAL_STEP))
    arm = config.get(rs.CONFIG_ARM)
    return RunRecord(
        run_id=raw.run_id,
        name=raw.name or raw.run_id,
        group=raw.group or None,
        arm=str(arm) if arm is not None else None,
        job_type=raw.job_type or None,
        state=normalize_state(raw.state),
        config=config,
        videos=videos,
        overall=overall,
        frames=_frames(per_frame_rows or []),
        params=int(params) if params is not None else None,
        train_seconds=_number(summary.get(rs.TIME_TRAIN_SECONDS)),
        to_final_psnr_seconds=_number(summary.get(rs.TIME_TO_FINAL_PSNR_SECONDS)),
        global_step=int(step) if step is not None else None,
        started_at=raw.started_at,
        tags=tuple(raw.tags),
        samples=_samples(summary, raw.fetch_media),
        source=raw.source,
        state_detail=raw.state_detail or (raw.state or ""),
    )
