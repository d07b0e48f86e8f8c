"""The two report tables: per-video PSNR by arm, and the ablation summary with uncertainty.

Both are computed over the videos common to every included arm, and both carry the PSNR convention
and every caveat as notes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vsr_lightning.report.bootstrap import DEFAULT_SEED, N_RESAMPLES, bootstrap_mean_ci
from vsr_lightning.report.comparison import Comparison
from vsr_lightning.report.run_record import RunRecord
from vsr_lightning.report.table_model import Column, Kind, Table

LOGGED_MEAN_TOLERANCE_DB = 1e-3


def _metric_name(cmp: Comparison) -> str:
    return "Y-PSNR" if cmp.metric == "psnr_y" else "PSNR"


def coverage_notes(cmp: Comparison) -> list[str]:
    """Notes on which videos the means use and which are missing where."""
    notes: list[str] = []
    missing = cmp.missing()
    if missing:
        where = "; ".join(f"{video} (missing from {', '.join(arms)})" for video, arms in missing.items())
        notes.append(f"**Incomplete videos:** {where}. — marks a video an arm was not evaluated on.")
    if not cmp.common:
        notes.append("**No video is common to all included arms: no mean or gain can be computed.**")
    elif missing:
        notes.append(
            f"Means and gains are computed over the {len(cmp.common)} videos common to all included arms "
            f"({', '.join(cmp.common)}), not over all {len(cmp.videos)} videos."
        )
    else:
        notes.append(f"Means and gains are over all {len(cmp.common)} videos, each weighted equally.")
    bad = cmp.inconsistent_inputs()
    if bad:
        notes.append(
            f"**Input (compressed) PSNR differs between arms for {', '.join(bad)}**: the arms may not have "
            "been validated on the same data. Gains over the input use each arm's own input."
        )
    return notes


def per_video_table(cmp: Comparison, convention_line: str) -> Table:
    """Rows: videos (+ mean row). Columns: input, each arm, each arm's gain over input and baseline."""
    name = _metric_name(cmp)
    others = [a for a in cmp.arms if a != cmp.baseline] if cmp.baseline else []
    columns = [Column("video"), Column(f"input {name}", Kind.DB)]
    columns += [Column(arm, Kind.DB) for arm in cmp.arms]
    columns += [Column(f"{arm} Δ input", Kind.GAIN) for arm in cmp.arms]
    columns += [Column(f"{arm} Δ {cmp.baseline}", Kind.GAIN) for arm in others]

    table = Table(title=f"Per-video {name} (dB) by arm", slug="per_video_psnr", columns=columns)
    for video in cmp.videos:
        row: list[object] = [video, cmp.input_value(video)]
        row += [cmp.value(arm, video) for arm in cmp.arms]
        for arm in cmp.arms:
            value, lq = cmp.value(arm, video), cmp.inputs[arm].get(video)
            row.append(None if value is None or lq is None else value - lq)
        for arm in others:
            value, ref = cmp.value(arm, video), cmp.value(cmp.baseline or "", video)
            row.append(None if value is None or ref is None else value - ref)
        table.rows.append(row)

    if cmp.common:
        footer: list[object] = [f"mean ({len(cmp.common)} common videos)", cmp.mean_input()]
        footer += [cmp.mean(arm) for arm in cmp.arms]
        footer += [float(cmp.gains_vs_input(arm).mean()) for arm in cmp.arms]
        footer += [float(cmp.gains_vs(arm, cmp.baseline or "").mean()) for arm in others]
        table.footer.append(footer)
    table.notes = [convention_line, *coverage_notes(cmp)]
    return table


def _logged_mean_notes(cmp: Comparison, included: Mapping[str, RunRecord]) -> list[str]:
    """Flag runs whose logged overall PSNR disagrees with the mean of their own per-video values."""
    notes: list[str] = []
    for arm in cmp.arms:
        logged = included[arm].overall.get(cmp.metric)
        own = list(cmp.values[arm].values())
        if logged is None or not own:
            continue
        recomputed = float(np.mean(own))
        if abs(logged - recomputed) > LOGGED_MEAN_TOLERANCE_DB:
            notes.append(
                f"**Check arm {arm}:** logged val/{cmp.metric} = {logged:.3f} dB but the mean of its "
                f"{len(own)} per-video values is {recomputed:.3f} dB."
            )
    return notes


def ablation_table(cmp: Comparison, included: Mapping[str, RunRecord], convention_line: str) -> Table:
    """Rows: arms. Columns: PSNR, gains, videos improved, bootstrap CI of the mean gain, cost."""
    name = _metric_name(cmp)
    reference = cmp.baseline or "input"
    columns = [
        Column("arm"),
        Column("run"),
        Column(f"{name} (dB)", Kind.DB),
        Column("Δ input", Kind.GAIN),
    ]
    if cmp.baseline:
        columns.append(Column(f"Δ {cmp.baseline}", Kind.GAIN))
    columns += [
        Column(f"videos improved vs {reference}", Kind.COUNT),
        Column(f"95% CI of mean Δ {reference}", Kind.CI),
        Column("params", Kind.PARAMS),
        Column("train time", Kind.SECONDS),
        Column("time to final PSNR", Kind.SECONDS),
    ]
    table = Table(title=f"Ablation: mean {name} per arm", slug="ablation", columns=columns)
    n = len(cmp.common)
    for arm in cmp.arms:
        run = included[arm]
        gain_input = float(cmp.gains_vs_input(arm).mean()) if n else None
        row: list[object] = [arm, run.name, cmp.mean(arm), gain_input]
        if cmp.baseline:
            gains = cmp.gains_vs(arm, cmp.baseline)
            row.append(float(gains.mean()) if n else None)
        else:
            gains = cmp.gains_vs_input(arm)
        if arm == cmp.baseline or not n:
            row += [None, None]
        else:
            row += [(int((gains > 0).sum()), n), bootstrap_mean_ci(gains)]
        row += [run.params, run.train_seconds, run.to_final_psnr_seconds]
        table.rows.append(row)

    table.notes = [
        convention_line,
        *coverage_notes(cmp),
        f"Δ {reference}: mean over videos of the per-video difference. 'Videos improved' counts common "
        f"videos whose {name} is above {reference}'s. 95% CI: percentile bootstrap of the mean per-video "
        f"gain over the {n} common videos ({N_RESAMPLES:,} resamples, numpy seed {DEFAULT_SEED}); "
        "with few videos it reflects the spread between videos only, not training noise.",
        *_logged_mean_notes(cmp, included),
    ]
    return table
