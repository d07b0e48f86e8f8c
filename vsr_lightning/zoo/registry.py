"""The model zoo: pretrained starting points shipped inside the package, found by ``zoo:<name>``.

Every entry of ``manifest.json`` names its weights file (a plain state dict, read with
``weights_only=True`` and checked against its SHA-256), the architecture, the data it was trained on,
the steps, the command that retrains it, and what it measured on held-out data. Weights here were
trained by this project's own recipes (``vsr_lightning/zoo/train_*.py``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from vsr_lightning.data.manifest import sha256_file

ZOO_PREFIX = "zoo:"
ZOO_DIR = Path(__file__).resolve().parent
MANIFEST = ZOO_DIR / "manifest.json"


def is_zoo_name(text: object) -> bool:
    """``zoo:<name>``, as a string or as the Path a command line made of it."""
    return isinstance(text, str | Path) and str(text).startswith(ZOO_PREFIX)


@cache
def _manifest() -> dict[str, dict[str, Any]]:
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def zoo_entry(name: str | Path) -> dict[str, Any]:
    """The manifest entry of ``zoo:<name>`` (or ``<name>``); a ValueError names the known entries."""
    name = str(name)
    key = name[len(ZOO_PREFIX) :] if is_zoo_name(name) else name
    entries = _manifest()
    if key not in entries:
        raise ValueError(f"{ZOO_PREFIX}{key}: no such zoo entry (known: {', '.join(sorted(entries)) or 'none'})")
    return entries[key]


def has_zoo_entry(name: str | Path) -> bool:
    """Whether this installation's manifest lists ``zoo:<name>`` (or ``<name>``)."""
    key = str(name)[len(ZOO_PREFIX) :] if is_zoo_name(name) else str(name)
    return key in _manifest()


def zoo_weights(name: str | Path) -> Path:
    """The weights file of a zoo entry, after checking that its SHA-256 is the manifest's."""
    entry = zoo_entry(name)
    path = ZOO_DIR / entry["file"]
    if not path.is_file():
        raise ValueError(f"{name}: weights file {path} is missing from the installed package")
    if sha256_file(path) != entry["sha256"]:
        raise ValueError(f"{name}: {path} does not match the manifest's SHA-256 (damaged or replaced)")
    return path


def resolve_weights_path(path: str | Path) -> Path:
    """A zoo name's checked weights file, or the given path unchanged."""
    return zoo_weights(path) if is_zoo_name(path) else Path(path)


def provenance(name: str | Path) -> str:
    """One line saying what a zoo entry is: name, training data, steps, hash."""
    entry = zoo_entry(name)
    network = entry["architecture"]["_target_"].rsplit(".", 1)[-1]
    return (
        f"{ZOO_PREFIX}{str(name).removeprefix(ZOO_PREFIX)}: {network}, trained on {entry['training_data']} "
        f"({entry['steps']} steps), sha256 {entry['sha256'][:12]}"
    )
