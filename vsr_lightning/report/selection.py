"""Which runs a report may average: one finished, complete run per arm.

Crashed, running and partial runs are kept aside with the reason, never averaged, and when an arm was
run more than once the latest finished run is used and the others are listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from vsr_lightning.report.run_record import RunRecord, RunState

_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SetAside:
    """A run left out of the tables and why."""

    run: RunRecord
    reason: str


@dataclass
class Selection:
    """Runs used per arm (in report order) and the runs left out."""

    included: dict[str, RunRecord] = field(default_factory=dict)
    excluded: list[SetAside] = field(default_factory=list)
    superseded: list[SetAside] = field(default_factory=list)

    @property
    def arms(self) -> list[str]:
        return list(self.included)


def _start(run: RunRecord) -> datetime:
    return run.started_at or _OLDEST


def exclusion_reason(run: RunRecord) -> str | None:
    """Why ``run`` must not be averaged, or None when it may be."""
    if run.state is not RunState.FINISHED:
        detail = run.state_detail if run.state_detail and run.state_detail != run.state.value else ""
        return f"{run.state.value}: {detail}" if detail else run.state.value
    missing = run.missing_summary()
    if missing:
        return "partial: finished but summary lacks " + ", ".join(missing)
    return None


def select_runs(runs: Iterable[RunRecord], baseline: str | None = None) -> Selection:
    """Split ``runs`` into included (latest complete finished run per arm) and set-aside runs.

    Arms are ordered baseline first, then by when their chosen run started.
    """
    selection = Selection()
    candidates: dict[str, list[RunRecord]] = {}
    for run in runs:
        reason = exclusion_reason(run)
        if reason is not None:
            selection.excluded.append(SetAside(run, reason))
            continue
        assert run.arm is not None
        candidates.setdefault(run.arm, []).append(run)

    chosen: dict[str, RunRecord] = {}
    for arm, arm_runs in candidates.items():
        ordered = sorted(arm_runs, key=lambda r: (_start(r), r.run_id), reverse=True)
        chosen[arm] = ordered[0]
        for older in ordered[1:]:
            selection.superseded.append(
                SetAside(older, f"arm '{arm}' has a later finished run, {ordered[0].label}, which is used")
            )

    order = sorted(chosen, key=lambda a: (a != baseline, _start(chosen[a]), a))
    selection.included = {arm: chosen[arm] for arm in order}
    return selection
