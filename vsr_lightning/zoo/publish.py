"""Write a trained network into the zoo: its weights file and its manifest entry, atomically."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vsr_lightning.zoo import registry
from vsr_lightning.zoo.entry_report import write_entry_report


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def publish(
    name: str, net: nn.Module, architecture: dict[str, Any], job_type: str | None = None, **facts: Any
) -> dict[str, Any]:
    """Save ``net``'s weights as ``weights/<name>.pt`` and record them in ``manifest.json``.

    With ``job_type`` (``stage1``, ``stage2``, ``pretrain``) the file is in the layout of our own final
    checkpoints (weights under ``net.``, the architecture as ``vsr_model``), so every loader reads it
    through the same allowlisted door. ``facts`` holds what the manifest reports: training_data, steps,
    recipe, metrics, ...
    """
    weights = registry.ZOO_DIR / "weights" / f"{name}.pt"
    weights.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{weights.name}.", dir=weights.parent)
    os.close(fd)
    try:
        weights_sd = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
        obj: dict[str, Any] = weights_sd
        if job_type is not None:
            obj = {
                "state_dict": {f"net.{k}": v for k, v in weights_sd.items()},
                "vsr_model": architecture,
                "vsr_job_type": job_type,
            }
        torch.save(obj, tmp)
        digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
        os.chmod(tmp, 0o644)  # package data: readable by everyone, as the files pip installs
        os.replace(tmp, weights)
    finally:
        Path(tmp).unlink(missing_ok=True)
    manifest = json.loads(registry.MANIFEST.read_text()) if registry.MANIFEST.is_file() else {}
    entry = {
        "file": f"weights/{weights.name}",
        "sha256": digest,
        "architecture": architecture,
        "params": sum(p.numel() for p in net.parameters()),
        **facts,
    }
    manifest[name] = entry
    _atomic_write(registry.MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    registry._manifest.cache_clear()
    if (report := write_entry_report(name, entry)) is not None:
        print(f"zoo:{name} published; report: {report}")
    return entry
