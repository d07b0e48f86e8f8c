"""Write an ablation report (report.md + CSV + LaTeX + PNG figures) from RunRecords.

Called by the CLI and by training code at the end of a local ablation; it refuses to compare runs
measured under different PSNR conventions and lists every run it did not average, with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from vsr_lightning.report import run_schema as rs
from vsr_lightning.report.comparison import Comparison, compare
from vsr_lightning.report.convention import common_convention, convention_line
from vsr_lightning.report.plots import plot_frames, plot_per_video, plot_samples
from vsr_lightning.report.rendering import to_csv, to_latex, to_markdown
from vsr_lightning.report.run_record import RunRecord
from vsr_lightning.report.selection import Selection, SetAside, select_runs
from vsr_lightning.report.table_model import Table
from vsr_lightning.report.tables import ablation_table, per_video_table

FIGURES_DIR = "figures"


@dataclass
class WrittenReport:
    """What was written, and the selection/comparison behind it (handy for callers and tests)."""

    markdown: Path
    selection: Selection
    comparison: Comparison
    files: list[Path] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    baseline: str | None = None


def resolve_baseline(requested: str | None, selection: Selection) -> tuple[str | None, list[str]]:
    """The baseline arm: ``requested`` if given, else the runs' agreed ``config.baseline_arm``.

    A requested baseline without an included run is an error; a configured one only produces a note.
    """
    if requested is not None:
        if requested in selection.included:
            return requested, []
        aside = [s for s in selection.excluded if s.run.arm == requested]
        if aside:
            reasons = "; ".join(f"{s.run.label}: {s.reason}" for s in aside)
            raise ValueError(f"baseline arm {requested!r} has no finished, complete run ({reasons})")
        raise ValueError(f"baseline arm {requested!r} not found; arms: {sorted(selection.included)}")
    configured = {
        str(r.config[rs.CONFIG_BASELINE_ARM])
        for r in selection.included.values()
        if r.config.get(rs.CONFIG_BASELINE_ARM)
    }
    if len(configured) == 1:
        arm = configured.pop()
        if arm in selection.included:
            return arm, []
        return None, [
            f"**Baseline arm '{arm}' (from the runs' config) has no included run: gains are over the input.**"
        ]
    if len(configured) > 1:
        return None, [f"**Runs name different baseline arms ({', '.join(sorted(configured))}); pass --baseline.**"]
    return None, []


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def _runs_included_md(selection: Selection) -> str:
    lines = [
        "| arm | run | id | job type | started (UTC) | step | git commit | data manifest |",
        "|:---|:---|:---|:---|:---|---:|:---|:---|",
    ]
    for arm, run in selection.included.items():
        started = run.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if run.started_at else "—"
        cells = [
            arm,
            run.name,
            run.run_id,
            run.job_type or "—",
            started,
            "—" if run.global_step is None else str(run.global_step),
            str(run.config.get(rs.CONFIG_GIT_COMMIT, "—"))[:12],
            str(run.config.get(rs.CONFIG_DATA_MANIFEST_HASH, "—"))[:12],
        ]
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _set_aside_md(items: list[SetAside]) -> str:
    lines = ["| run | id | arm | job type | state / reason |", "|:---|:---|:---|:---|:---|"]
    for item in items:
        run = item.run
        cells = [run.name, run.run_id, run.arm or "unknown", run.job_type or "—", item.reason]
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _pick_video(cmp: Comparison, selection: Selection, video: str | None) -> str | None:
    if video is not None:
        return video
    with_frames = [v for v in cmp.common if any(f.video == v for r in selection.included.values() for f in r.frames)]
    pool = with_frames or cmp.common or cmp.videos
    return pool[0] if pool else None


def write_report(
    runs: Iterable[RunRecord],
    out_dir: str | Path,
    baseline: str | None = None,
    title: str = "Ablation report",
    video: str | None = None,
    metric: str = "psnr",
) -> WrittenReport:
    """Write ``report.md``, ``<table>.csv``/``.tex`` and ``figures/*.png`` into ``out_dir``.

    Raises ConventionMismatchError when the included runs disagree on the PSNR convention.
    """
    runs = list(runs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    selection = select_runs(runs, baseline)
    chosen_baseline, baseline_notes = resolve_baseline(baseline, selection)
    if chosen_baseline != baseline:
        selection = select_runs(runs, chosen_baseline)
    convention = common_convention(selection.included.values())
    line = convention_line(convention, metric)
    cmp = compare(selection.included, chosen_baseline, metric)
    result = WrittenReport(markdown=out / "report.md", selection=selection, comparison=cmp, baseline=chosen_baseline)

    sections: list[str] = [f"# {title}\n", _header_md(runs, selection, chosen_baseline, line)]
    sections += [note + "\n" for note in baseline_notes]
    if selection.included:
        sections.append("## Runs included\n\n" + _runs_included_md(selection))
        sections += [
            _write_table(table, out, result)
            for table in (per_video_table(cmp, line), ablation_table(cmp, selection.included, line))
        ]
        sections.append(_figures_md(cmp, selection, _pick_video(cmp, selection, video), out, result))
    else:
        sections.append("## No runs to compare\n\n**No finished run with a complete summary was found.**\n")
    sections += _not_included_md(selection)
    result.markdown.write_text("\n".join(sections))
    return result


def _header_md(runs: list[RunRecord], selection: Selection, baseline: str | None, convention: str) -> str:
    """What the report was made from, what it compares against, and the PSNR convention."""
    groups = sorted({r.group for r in runs if r.group})
    return (
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from {len(runs)} run(s)"
        + (f" of group(s) {', '.join(groups)}" if groups else "")
        + f"; {len(selection.included)} arm(s) compared"
        + (f", baseline arm **{baseline}**" if baseline else ", gains over the compressed input")
        + ".\n\n"
        + convention
        + "\n"
    )


def _write_table(table: Table, out: Path, result: WrittenReport) -> str:
    """Write one table as CSV and LaTeX beside the report; returns its Markdown section."""
    result.tables[table.slug] = table
    csv_path, tex_path = out / f"{table.slug}.csv", out / f"{table.slug}.tex"
    csv_path.write_text(to_csv(table))
    tex_path.write_text(to_latex(table))
    result.files += [csv_path, tex_path]
    return (
        f"## {table.title}\n\n{to_markdown(table)}\nFiles: [{csv_path.name}]({csv_path.name}), "
        f"[{tex_path.name}]({tex_path.name})\n"
    )


def _not_included_md(selection: Selection) -> list[str]:
    """The sections listing the runs set aside: not finished or incomplete, and older runs of an arm."""
    sections = ["## Runs not included\n"]
    if selection.excluded:
        sections.append(
            "These runs are not averaged anywhere in this report (crashed, still running, or partial):\n\n"
            + _set_aside_md(selection.excluded)
        )
    else:
        sections.append("None: every run found finished with a complete summary.\n")
    if selection.superseded:
        sections.append(
            "\n### Older runs of an arm (superseded by its latest finished run)\n\n"
            + _set_aside_md(selection.superseded)
        )
    return sections


def _figures_md(cmp: Comparison, selection: Selection, video: str | None, out: Path, result: WrittenReport) -> str:
    figures = out / FIGURES_DIR
    lines = ["## Figures\n"]
    per_video = plot_per_video(cmp, figures / "per_video_psnr.png")
    if per_video:
        lines.append(f"![Per-video PSNR by arm]({_relative(per_video, out)})\n")
    if video is not None:
        frames = plot_frames(selection.included, video, figures / f"frames_{_slug(video)}.png")
        lines.append(
            f"![PSNR along the frames of {video}]({_relative(frames, out)})\n"
            if frames
            else f"No per-frame table (`{rs.TABLE_PER_FRAME}`) was logged for {video}.\n"
        )
        samples = plot_samples(selection.included, video, figures / f"samples_{_slug(video)}.png")
        lines.append(
            f"![Sample crops of {video}]({_relative(samples, out)})\n"
            if samples
            else f"No sample crops were logged for {video}.\n"
        )
        result.files += [p for p in (frames, samples) if p]
    if per_video:
        result.files.append(per_video)
    return "\n".join(lines)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)
