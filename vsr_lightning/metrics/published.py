"""Published numbers of the two benchmarks, printed beside ours (every one from ``../shared/facts.md``).

Nothing here is measured by this project: each value is a paper's or the organisers' own figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PublishedMethod:
    """One method's published ΔPSNR (Y, dB, QP 37) on the MFQE 2.0 test set."""

    name: str
    average: float | None
    per_sequence: dict[str, float] = field(default_factory=dict)
    """By JCT-VC sequence name (class D's BasketballPass is the one per-sequence figure facts.md gives)."""
    note: str = ""


MFQE_PUBLISHED: tuple[PublishedMethod, ...] = (
    PublishedMethod("MFQE 2.0", 0.562, {"BasketballPass": 0.728}),
    PublishedMethod("STDF-R3", 0.75),
    PublishedMethod("STDF-R3L", 0.83, {"BasketballPass": 1.08}),
    PublishedMethod("RFDA", 0.91, {"BasketballPass": 1.12}),
    PublishedMethod(
        "BasicVSR++",
        1.083,
        {"BasketballPass": 1.309},
        note="BasicVSR++ trained on LDV 2.0, tested on the sequences re-encoded with HM 16.20, "
        "averaged over 16 sequences (Traffic and PeopleOnStreet left out)",
    ),
)

NTIRE22_TRACK1_FINAL: tuple[tuple[str, float], ...] = (
    ("TaoMC2", 32.073),
    ("GY-Lab", 32.063),
    ("HIT&ACE", 31.944),
    ("BOE AIoT", 31.821),
    ("OCL-VCE", 31.707),
    ("organisers' BasicVSR++", 31.63),
)
"""NTIRE 2022 Track 1 final test (15 videos), RGB PSNR in dB, in ranking order."""

NTIRE22_TRACK1_INPUT_PSNR = 29.90
"""RGB PSNR of the compressed input on the same final test videos."""
