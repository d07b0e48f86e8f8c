"""What the zoo recipes read back from the jobs they ran: the newest finished job and its final scores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def newest_job(runs_dir: Path, kind: str) -> Path:
    """The most recently finished job of ``kind`` (``stage1``, ``stage2``, ...) in a runs folder."""
    done = sorted(runs_dir.glob(f"{kind}-*/done.json"), key=lambda p: p.stat().st_mtime)
    if not done:
        raise SystemExit(f"{runs_dir}: no finished {kind} job")
    return done[-1].parent


def job_result_and_scores(job: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job's ``done.json`` and its newest final evaluation (``test-*.json``; empty when none)."""
    result = json.loads((job / "done.json").read_text())
    tests = sorted(job.glob("test-*.json"), key=lambda p: p.stat().st_mtime)
    return result, (json.loads(tests[-1].read_text()) if tests else {})
