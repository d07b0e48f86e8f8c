"""A job's folder, named by the hash of everything that determines its result.

Jobs (a training stage, stage one's cached outputs, the denoising pre-training) run once per
configuration: a later run, or another experiment, that needs the same job finds ``done.json`` and
reuses it. An interrupted job leaves ``last.ckpt`` and its W&B run id, so re-running resumes it.
A file lock keeps two processes (a multirun, SLURM array jobs) from running the same job at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JOB_CODE_VERSION = 2
"""Bump when training code changes what a cached job would produce."""


def is_rank_zero() -> bool:
    """False in the extra processes of a multi-process (DDP) run: ranks Lightning's launcher started
    (``LOCAL_RANK``/``NODE_RANK``) or SLURM tasks after the first (``SLURM_PROCID``, under ``srun``)."""
    return all(os.environ.get(name, "0") == "0" for name in ("LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))


def config_key(kind: str, spec: Any) -> str:
    """Stable short hash of a job's kind and its JSON-able specification."""
    payload = json.dumps({"kind": kind, "spec": spec, "version": JOB_CODE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass
class JobDir:
    """``<runs_dir>/<kind>-<key>/`` and the files a job keeps there."""

    root: Path
    kind: str
    key: str

    @classmethod
    def create(cls, runs_dir: Path, kind: str, spec: Any) -> JobDir:
        key = config_key(kind, spec)
        root = runs_dir / f"{kind}-{key}"
        root.mkdir(parents=True, exist_ok=True)
        (root / "spec.json").write_text(json.dumps(spec, indent=1, sort_keys=True, default=str))
        return cls(root, kind, key)

    @property
    def done_file(self) -> Path:
        return self.root / "done.json"

    @property
    def last_checkpoint(self) -> Path:
        return self.root / "last.ckpt"

    @property
    def final_checkpoint(self) -> Path:
        return self.root / "final.ckpt"

    def result(self) -> dict | None:
        """The stored result of a finished job, or None."""
        if not self.done_file.is_file():
            return None
        return json.loads(self.done_file.read_text())

    def finish(self, result: dict) -> dict:
        """Record the result atomically: a crash while writing never leaves a half ``done.json``."""
        if not is_rank_zero():
            return result
        tmp = self.done_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1, default=str))
        os.replace(tmp, self.done_file)
        return result

    def wandb_id(self, make: Callable[[], str]) -> str:
        """The W&B run id of this job, created once so a resumed job continues the same run."""
        path = self.root / "wandb_id.txt"
        if path.is_file():
            return path.read_text().strip()
        run_id = make()
        if is_rank_zero():  # only rank zero logs; srun starts the ranks together, so only it writes the id
            path.write_text(run_id)
        return run_id

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock on the job (blocks while another process runs it).

        Lightning's DDP launcher starts ranks > 0 as copies of this program while rank zero holds
        the lock; they belong to the same job, so they do not take it.
        """
        if not is_rank_zero():
            yield
            return
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
