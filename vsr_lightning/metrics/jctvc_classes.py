"""JCT-VC test classes (A-E) of the MFQE 2.0 test sequences, which papers table their gains by.

Class of each of the 18 test sequences as ``../shared/facts.md`` lists them; a sequence not in the
list takes the class of its resolution (the classes are resolution groups), or none.
"""

from __future__ import annotations

from vsr_lightning.data.pairing import sequence_name

CLASS_SIZES: dict[str, tuple[int, int]] = {
    "A": (2560, 1600),
    "B": (1920, 1080),
    "C": (832, 480),
    "D": (416, 240),
    "E": (1280, 720),
}
TEST_SEQUENCES: dict[str, tuple[str, ...]] = {
    "A": ("Traffic", "PeopleOnStreet"),
    "B": ("Kimono", "ParkScene", "Cactus", "BQTerrace", "BasketballDrive"),
    "C": ("RaceHorses", "BQMall", "PartyScene", "BasketballDrill"),
    "D": ("RaceHorses", "BQSquare", "BlowingBubbles", "BasketballPass"),
    "E": ("FourPeople", "Johnny", "KristenAndSara"),
}


def jctvc_class(name: str, width: int, height: int) -> str | None:
    """The class of a video: by its sequence name (RaceHorses is in C and D: its size decides), else by size."""
    seq = sequence_name(name).lower()
    by_size = next((c for c, size in CLASS_SIZES.items() if size == (width, height)), None)
    named = [c for c, names in TEST_SEQUENCES.items() if seq in (n.lower() for n in names)]
    if len(named) == 1:
        return named[0]
    if by_size in named or not named:
        return by_size
    return None
