"""The per-video table of a protocol's scores, with the benchmark's published rows beside ours.

Built on the report's renderer-neutral :class:`Table`, so it prints as Markdown and writes as CSV and
LaTeX like every other table of the project, its conventions travelling in the notes.
"""

from __future__ import annotations

from vsr_lightning.data.pairing import sequence_name
from vsr_lightning.metrics.jctvc_classes import CLASS_SIZES
from vsr_lightning.metrics.protocols import Protocol, VideoResult, mean_over_videos
from vsr_lightning.metrics.published import (
    MFQE_PUBLISHED,
    NTIRE22_TRACK1_FINAL,
    NTIRE22_TRACK1_INPUT_PSNR,
)
from vsr_lightning.report.table_model import Column, Kind, Table

SSIM_SCALE = 100.0
"""ΔSSIM is tabled in units of 1e-2, as MFQE-style papers print it."""


def _left_out_note(results: list[VideoResult]) -> list[str]:
    out = sum(r.left_out for r in results)
    lq = sum(r.left_out_lq for r in results)
    if not out and not lq:
        return []
    return [f"Frames with MSE 0 left out of the PSNR means: {out} of the outputs', {lq} of the inputs'."]


def ntire22_table(protocol: Protocol, results: list[VideoResult], notes: list[str]) -> Table:
    """Per-video RGB PSNR (ours), our mean over videos, then the NTIRE 2022 Track 1 final ranking."""
    columns = [
        Column("Video"),
        Column("frames"),
        Column("PSNR LQ", Kind.DB),
        Column("PSNR", Kind.DB),
        Column("gain", Kind.GAIN),
    ]
    rows = [[r.name, r.frames, r.psnr_lq, r.psnr, r.delta_psnr] for r in results]
    lq, psnr = mean_over_videos(results, "psnr_lq"), mean_over_videos(results, "psnr")
    footer = [[f"mean over {len(results)} videos (ours)", sum(r.frames for r in results), lq, psnr, psnr - lq]]
    for name, value in NTIRE22_TRACK1_FINAL:
        footer.append(
            [f"{name} (published)", None, NTIRE22_TRACK1_INPUT_PSNR, value, value - NTIRE22_TRACK1_INPUT_PSNR]
        )
    return Table(
        title="RGB PSNR per video under the NTIRE 2022 Track 1 protocol",
        slug="ntire22_scores",
        columns=columns,
        rows=rows,
        footer=footer,
        notes=[
            f"Convention: {protocol.convention}.",
            "Published rows: NTIRE 2022 Track 1 final test (15 videos), the teams' and organisers' own "
            f"figures, compressed input {NTIRE22_TRACK1_INPUT_PSNR:.2f} dB; their gain is their PSNR minus "
            "that input's. Ours are on the videos given here.",
            *_left_out_note(results),
            *notes,
        ],
    )


def _published_cells(name: str) -> list[float | None]:
    return [m.per_sequence.get(sequence_name(name)) for m in MFQE_PUBLISHED]


def _class_order(result: VideoResult) -> tuple:
    return (result.video_class is None, result.video_class or "", result.name)


def _mfqe_row(label: str, cls: str, results: list[VideoResult]) -> list:
    ssim = mean_over_videos(results, "delta_ssim")
    return [
        cls,
        label,
        sum(r.frames for r in results),
        mean_over_videos(results, "psnr_lq"),
        mean_over_videos(results, "psnr"),
        mean_over_videos(results, "delta_psnr"),
        None if ssim is None else ssim * SSIM_SCALE,
    ]


def mfqe_table(protocol: Protocol, results: list[VideoResult], notes: list[str]) -> Table:
    """Per-sequence Y ΔPSNR / ΔSSIM grouped by JCT-VC class, class means, the average, published beside."""
    results = sorted(results, key=_class_order)
    columns = [
        Column("Class"),
        Column("Sequence"),
        Column("frames"),
        Column("Y-PSNR LQ", Kind.DB),
        Column("Y-PSNR", Kind.DB),
        Column("ΔPSNR", Kind.GAIN),
        Column("ΔSSIM (1e-2)", Kind.GAIN),
        *(Column(f"{m.name} ΔPSNR", Kind.GAIN) for m in MFQE_PUBLISHED),
    ]
    rows = [[*_mfqe_row(r.name, r.video_class or "—", [r]), *_published_cells(r.name)] for r in results]
    footer = []
    for cls in CLASS_SIZES:
        members = [r for r in results if r.video_class == cls]
        if members:
            footer.append(
                [*_mfqe_row(f"class {cls} mean ({len(members)})", cls, members), *[None] * len(MFQE_PUBLISHED)]
            )
    footer.append(
        [*_mfqe_row(f"average ({len(results)} sequences)", "all", results), *(m.average for m in MFQE_PUBLISHED)]
    )
    method_notes = [f"{m.name}: {m.note}." for m in MFQE_PUBLISHED if m.note]
    from_rgb = [r.name for r in results if r.luma_from_rgb]
    if from_rgb:
        method_notes.append(f"Y from RGB frames (an input was PNG), for all three videos of: {', '.join(from_rgb)}.")
    return Table(
        title="Y-channel ΔPSNR / ΔSSIM per sequence under the MFQE 2.0 protocol",
        slug="mfqe_scores",
        columns=columns,
        rows=rows,
        footer=footer,
        notes=[
            f"Convention: {protocol.convention}.",
            "Published columns: ΔPSNR (Y, dB) at QP 37 on the MFQE 2.0 test set as each paper reports it, "
            "averaged over its 18 sequences; a per-sequence value only where it is published "
            "(— otherwise); no published ΔSSIM is tabled. Ours are over the sequences given here.",
            *method_notes,
            *_left_out_note(results),
            *notes,
        ],
    )


def protocol_table(protocol: Protocol, results: list[VideoResult], notes: list[str] | None = None) -> Table:
    """The table of a protocol's results."""
    build = ntire22_table if protocol.name == "ntire22" else mfqe_table
    return build(protocol, results, list(notes or []))
