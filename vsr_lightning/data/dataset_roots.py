"""Where the benchmark datasets live on this machine: set once, checked before anything runs.

``conf/data/ldv2.yaml`` and ``conf/data/mfqe2.yaml`` read their roots from ``paths.ldv2_root`` and
``paths.mfqe2_root``, which default to ``$VSR_LDV2_ROOT`` / ``$VSR_MFQE2_ROOT`` and can be set in the
git-ignored ``conf/local/default.yaml`` (as lightning-hydra-template's ``configs/local/``). A root that is
unset or not a prepared dataset is one line naming the key and what to do, before any job starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from vsr_lightning.data.manifest import MANIFEST_NAME

ROOT_ENV = {"ldv2_root": "VSR_LDV2_ROOT", "mfqe2_root": "VSR_MFQE2_ROOT"}
"""``paths.<key>`` -> the environment variable its default reads."""
ROOT_DATASET = {"ldv2_root": "LDV 2.0", "mfqe2_root": "MFQE 2.0"}
_PATHS_KEY = re.compile(r"\$\{paths\.(\w+)\}")


def _sources(data: Mapping[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(key, raw root, data section key path) of every source of the data section."""
    raw = OmegaConf.to_container(data, resolve=False) if isinstance(data, DictConfig) else data
    for i, source in enumerate(raw.get("train_sources") or []):
        if isinstance(source, Mapping):
            yield f"data.train_sources[{i}].root", source.get("root"), ("train_sources", i)
    if isinstance(raw.get("val_source"), Mapping):
        yield "data.val_source.root", raw["val_source"].get("root"), ("val_source",)


def _resolved_root(data: Any, where: tuple) -> tuple[Any, bool]:
    """The root's value and whether it could be resolved at all (an unset ``???`` cannot)."""
    try:
        node = data
        for part in where:
            node = node[part]
        return node.get("root") if isinstance(node, Mapping) else None, True
    except OmegaConfBaseException:
        return None, False


def _how_to_set(raw_root: Any) -> str:
    match = _PATHS_KEY.search(raw_root) if isinstance(raw_root, str) else None
    if match is None or match[1] not in ROOT_ENV:
        return "give the prepared dataset's folder"
    key = match[1]
    return (
        f"export {ROOT_ENV[key]}=DIR (the {ROOT_DATASET[key]} folder made by `python -m vsr_lightning.prepare "
        f"--pairs`) or set paths.{key} in conf/local/default.yaml"
    )


def bad_data_roots(cfg: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(key, problem) for data sources whose root is unset, or a benchmark root that is not a dataset."""
    data = cfg.get("data") if isinstance(cfg, Mapping) else None
    if not isinstance(data, Mapping):
        return
    for key, raw_root, where in _sources(data):
        root, resolved = _resolved_root(data, where)
        if not resolved or root is None or root == "":
            yield key, f"is not set: {_how_to_set(raw_root)}"
        elif isinstance(raw_root, str) and _PATHS_KEY.search(raw_root):
            folder = Path(str(root)).expanduser()
            if not (folder / MANIFEST_NAME).is_file():
                problem = "does not exist" if not folder.exists() else f"holds no {MANIFEST_NAME}"
                yield key, f"is {folder}, which {problem}: {_how_to_set(raw_root)}"
