"""What a finished training job is: the contents of its ``done.json``, defined once.

``jobs/fit_job.py`` writes it, ``jobs/pipeline.py`` chains jobs through it (checkpoint, key, lineage),
``jobs/experiment_runner.py`` turns it into a report record and ``jobs/wandb_runs.py`` logs it under the
report's names (``report/run_schema.py``, the contract on the report side). The zoo recipes read the
same file as plain JSON, so its contents stay exactly what they were: the field names below, in this
order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from vsr_lightning.jobs.evaluation import Evaluation
from vsr_lightning.jobs.job_dir import JobDir


@dataclass(frozen=True)
class JobResult:
    """One trained job (``done.json``), with its final evaluation once one ran (``test-*.json``)."""

    kind: str
    """``stage1``, ``stage2`` or ``pretrain``."""
    key: str
    """The job's cache key (its folder is ``<kind>-<key>``)."""
    checkpoint: str
    """``final.ckpt``: the trained weights, hyperparameters and lineage."""
    params: int
    train_seconds: float
    """Time spent in training steps (validation left out), summed over resumes."""
    wall_seconds: float
    """Wall time of the last (or only) ``fit``, resumes not added up."""
    to_final_psnr_seconds: float | None
    """Training time until validation PSNR first came within reach of its final value."""
    val_history: list[Any]
    """``(train seconds, validation PSNR)`` pairs, one per validation (lists once read back)."""
    global_step: int | None
    lineage: list[dict[str, Any]]
    """Where the weights came from: each earlier job and starting file, this job last."""
    wandb_run: str | None
    """The training job's W&B run id (None with the logger off)."""
    evaluation: Evaluation | None = None
    """Not part of ``done.json``: the scores :func:`~vsr_lightning.jobs.fit_job.run_fit` adds."""

    def to_json(self) -> dict[str, Any]:
        """``done.json``'s contents (everything but the evaluation)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "evaluation"}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobResult:
        return cls(
            kind=data["kind"],
            key=data["key"],
            checkpoint=data["checkpoint"],
            params=data["params"],
            train_seconds=data["train_seconds"],
            wall_seconds=data["wall_seconds"],
            to_final_psnr_seconds=data.get("to_final_psnr_seconds"),
            val_history=list(data.get("val_history") or []),
            global_step=data.get("global_step"),
            lineage=list(data.get("lineage") or []),
            wandb_run=data.get("wandb_run"),
        )

    @classmethod
    def read(cls, job: JobDir) -> JobResult | None:
        """The job's stored result, or None while it is not finished."""
        data = job.result()
        return None if data is None else cls.from_json(data)

    def write(self, job: JobDir) -> JobResult:
        """Store as the job's ``done.json`` (atomically; only rank zero writes)."""
        job.finish(self.to_json())
        return self

    def evaluated(self, evaluation: Evaluation) -> JobResult:
        """This result with its final evaluation."""
        return replace(self, evaluation=evaluation)

    @property
    def scores(self) -> Evaluation:
        """The final evaluation; a job run with ``evaluate=False`` has none."""
        if self.evaluation is None:
            raise ValueError(f"job {self.kind}-{self.key} was not evaluated (evaluate=False)")
        return self.evaluation
