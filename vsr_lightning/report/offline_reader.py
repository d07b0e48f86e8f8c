"""Read offline W&B runs (``wandb/offline-run-*``) without a server.

wandb 0.31 keeps an offline run only in its ``run-<id>.wandb`` transaction log (plus media files);
there is no ``wandb-summary.json`` and the Python SDK has no public reader for the log. The documented
way to read it is the CLI ``wandb leet inspect``: ``--summary --json`` gives config, latest summary,
name, start time and exit code; ``--json`` streams the records, whose ``run`` record also holds the
group, job type and tags that the summary view leaves out. The CLI only forwards to the wandb-core
binary (``wandb-core leet inspect``); that binary is called directly when ``wandb.util.get_core_path``
finds it (28 ms instead of ~1 s per call), with the CLI as fallback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vsr_lightning.report.record_builder import RawRun, build_record, parse_timestamp
from vsr_lightning.report.run_record import RunRecord, RunState

_RUN_DIR = re.compile(r"^(?:offline-)?run-(\d{8}_\d{6})-(\w+)$")
_LEET_TIMEOUT_S = 120.0


class OfflineReadError(RuntimeError):
    """``wandb leet inspect`` failed on a run directory."""


def _core_binary() -> str | None:
    """wandb-core, which ``wandb leet inspect`` runs; calling it directly skips ~1 s of Python start-up."""
    try:
        from wandb.util import get_core_path

        return get_core_path()
    except Exception:  # no binary for this platform, or the helper moved: use the CLI
        return None


def _leet_commands(log_file: Path, *flags: str) -> list[list[str]]:
    """Ways to run ``wandb leet inspect FLAGS LOG``, fastest first, the documented CLI last."""
    commands: list[list[str]] = []
    core = _core_binary()
    if core is not None:
        commands.append(
            [
                core,
                "leet",
                "inspect",
                "--no-observability",
                *flags,
                "--run-file",
                str(log_file),
                str(log_file.parent.parent),
            ]
        )
    commands.append([sys.executable, "-m", "wandb", "leet", "inspect", *flags, str(log_file)])
    return commands


def _leet_env() -> dict[str, str]:
    """Environment that keeps the inspector from reporting anything over the network."""
    env = dict(os.environ)
    env["WANDB_MODE"] = "offline"
    env["WANDB_ERROR_REPORTING"] = "false"
    env.setdefault("WANDB_SILENT", "true")
    return env


def _leet_summary(log_file: Path) -> dict[str, Any]:
    errors: list[str] = []
    for command in _leet_commands(log_file, "--summary", "--json"):
        proc = subprocess.run(
            command, capture_output=True, text=True, env=_leet_env(), timeout=_LEET_TIMEOUT_S, check=False
        )
        if proc.returncode == 0:
            try:
                return json.loads(proc.stdout)
            except json.JSONDecodeError as err:
                errors.append(f"{command[0]}: unreadable output ({err})")
                continue
        errors.append(f"{command[0]}: {proc.stderr.strip()[-500:]}")
    raise OfflineReadError(f"wandb leet inspect --summary failed on {log_file}: " + " | ".join(errors))


def _scan_for_run_record(command: list[str]) -> tuple[dict[str, Any] | None, bool]:
    """(run record or None, whether the command worked); stops reading once the record is seen."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_leet_env()
    ) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                record = json.loads(line) if line.startswith("{") else {}
                if record.get("type") == "run":
                    return record.get("run", {}), True
            return None, proc.wait(timeout=_LEET_TIMEOUT_S) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def _leet_run_record(log_file: Path) -> dict[str, Any] | None:
    """The log's ``run`` record (right after the header): group, job type, tags."""
    for command in _leet_commands(log_file, "--json"):
        record, worked = _scan_for_run_record(command)
        if worked:
            return record
    raise OfflineReadError(f"wandb leet inspect --json failed on {log_file}")


def _state_without_exit_record(run_dir: Path) -> tuple[str, str]:
    """No exit record: the process is still going, or died before ``run.finish()``.

    A killed process leaves only the log header (wandb-core buffers records) and the core's log notes
    that the parent process went away; without such a note the run is taken as running.
    """
    core_log = run_dir / "logs" / "debug-core.log"
    internal_log = run_dir / "logs" / "debug-internal.log"
    core = core_log.read_text(errors="replace") if core_log.is_file() else ""
    internal = internal_log.read_text(errors="replace") if internal_log.is_file() else ""
    if "parent process exited" in core:
        return "crashed", "process died before run.finish() (no exit record)"
    if "stream: all finished" in internal or "server: is shutting down" in core:
        return "crashed", "ended without an exit record"
    return "running", "no exit record yet (still running?)"


def read_offline_raw(run_dir: Path) -> RawRun:
    """Raw config, summary and metadata of one ``offline-run-*`` (or ``run-*``) directory."""
    run_dir = Path(run_dir)
    logs = sorted(run_dir.glob("run-*.wandb"))
    if len(logs) != 1:
        raise OfflineReadError(f"expected one run-*.wandb in {run_dir}, found {len(logs)}")
    summary = _leet_summary(logs[0])
    run = _leet_run_record(logs[0]) or {}
    match = _RUN_DIR.match(run_dir.name)

    run_id = summary.get("run_id") or run.get("run_id") or (match.group(2) if match else run_dir.name)
    started = parse_timestamp(summary.get("start_time") or run.get("start_time"))
    if started is None and match:
        started = datetime.strptime(match.group(1), "%Y%m%d_%H%M%S").replace(tzinfo=UTC)

    exit_code = summary.get("exit_code")
    if exit_code is None:
        state, detail = _state_without_exit_record(run_dir)
        if not run:
            detail += "; the log holds no run record, so name, group and config are unknown"
    elif int(exit_code) == 0:
        state, detail = "finished", "exit code 0"
    else:
        state, detail = "crashed", f"exit code {exit_code}"

    config = summary.get("config") or (run.get("config", {}).get("update", {}))
    files_dir = run_dir / "files"
    return RawRun(
        run_id=str(run_id),
        name=summary.get("name") or run.get("display_name") or str(run_id),
        group=run.get("run_group") or None,
        job_type=run.get("job_type") or None,
        state=state,
        config=config,
        summary=summary.get("summary") or {},
        tags=tuple(summary.get("tags") or run.get("tags") or ()),
        started_at=started,
        source=str(run_dir),
        state_detail=detail,
        fetch_media=lambda rel: files_dir / rel,
    )


def read_offline_run(run_dir: Path) -> RunRecord:
    """Read one offline run directory into a RunRecord."""
    return build_record(read_offline_raw(run_dir))


def read_offline_run_or_unreadable(run_dir: Path) -> RunRecord:
    """Like :func:`read_offline_run`, but a damaged run file becomes a crashed record that says why,
    so one bad file is listed in the report instead of aborting it."""
    try:
        return read_offline_run(run_dir)
    except (OfflineReadError, OSError, ValueError) as err:
        run_id = run_dir.name.rsplit("-", 1)[-1]
        return RunRecord(
            run_id=run_id,
            name=run_dir.name,
            group=None,
            arm=None,
            job_type=None,
            state=RunState.CRASHED,
            source=str(run_dir),
            state_detail=f"unreadable: {str(err).splitlines()[0][:300]}",
        )


def find_offline_run_dirs(root: Path) -> list[Path]:
    """All run directories under ``root`` (a wandb dir, a run dir, or any tree holding wandb dirs)."""
    root = Path(root)
    seen: dict[Path, Path] = {}
    for log in sorted(root.rglob("run-*.wandb")):
        run_dir = log.parent
        if run_dir.is_symlink() or any(p.is_symlink() for p in run_dir.relative_to(root).parents):
            continue  # wandb/latest-run points at a run we meet under its real name
        seen.setdefault(run_dir.resolve(), run_dir)
    return sorted(seen.values())


def read_offline_runs(directory: str | Path, group: str | None = None, workers: int = 4) -> list[RunRecord]:
    """Read every offline run under ``directory``; keep those of ``group`` (when given).

    Runs whose group cannot be known (a killed process leaves no run record) are kept so the report
    can list them as not included rather than hide them.
    """
    root = Path(directory)
    if not root.exists():
        raise FileNotFoundError(
            f"{root}: no such directory (--offline names the folder holding the offline-run-* "
            f"folders, e.g. outputs/wandb)"
        )
    run_dirs = find_offline_run_dirs(root)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        records = list(pool.map(read_offline_run_or_unreadable, run_dirs))
    if group is not None:
        records = [r for r in records if r.group in (group, None)]
    return records
