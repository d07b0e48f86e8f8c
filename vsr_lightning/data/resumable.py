"""Training data whose every random choice is a function of (seed, sample number): exact resume.

A training run draws sample number ``n = epoch * samples_per_epoch + position`` for each item, in
order. Each item's randomness (which clip, window, crop, flips, noise) comes from a generator
seeded by ``(seed, n)`` alone, so it does not depend on which items came before, on the number of
DataLoader workers, or on whether the process was restarted. :class:`ResumableSampler` yields the
sample numbers and can start in the middle of an epoch: a run resumed from a checkpoint taken after
``b`` batches continues with batch ``b`` exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

SALT_ITEM = 0
"""Stream of one item's randomness."""
SALT_ORDER = 1
"""Stream of one epoch's order (a permutation, for datasets that visit every item once per epoch)."""


def sample_rng(seed: int, *key: int) -> np.random.Generator:
    """A generator that depends on ``seed`` and ``key`` only (``numpy``'s SeedSequence hashing)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) % 2**63, *(int(k) for k in key)]))


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of ``n`` items in ``epoch`` (a function of seed and epoch alone)."""
    return sample_rng(seed, SALT_ORDER, epoch).permutation(n)


class ResumableSampler(Sampler[int]):
    """Yields consecutive sample numbers, one epoch per ``iter()``, and can start mid-epoch.

    With ``batch_size`` and ``drop_last`` as the DataLoader's, an epoch is ``samples_per_epoch //
    batch_size`` batches; sample numbers of epoch ``e`` start at ``e * samples_per_epoch``. The sampler
    counts epochs itself (each ``iter()`` is one epoch), so Lightning's ``set_epoch`` order does not
    matter; :meth:`start_at_batch` places it after ``b`` consumed batches (the resume point).
    """

    def __init__(self, samples_per_epoch: int, batch_size: int, drop_last: bool = True) -> None:
        if samples_per_epoch < 1 or batch_size < 1:
            raise ValueError("samples_per_epoch and batch_size must be positive")
        self.samples_per_epoch, self.batch_size, self.drop_last = samples_per_epoch, batch_size, drop_last
        full, rest = divmod(samples_per_epoch, batch_size)
        self.batches_per_epoch = full if drop_last or not rest else full + 1
        if self.batches_per_epoch < 1:
            raise ValueError(f"samples_per_epoch {samples_per_epoch} is less than one batch of {batch_size}")
        self._next_batch = 0

    def start_at_batch(self, batches: int) -> None:
        """The next ``iter()`` continues after ``batches`` batches consumed since the start of training."""
        self._next_batch = int(batches)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __iter__(self) -> Iterator[int]:
        epoch, position = divmod(self._next_batch, self.batches_per_epoch)
        self._next_batch = (epoch + 1) * self.batches_per_epoch  # an interrupted epoch is re-placed on resume
        first = epoch * self.samples_per_epoch
        return iter(range(first + position * self.batch_size, first + self.samples_per_epoch))


class ShardedResumableSampler(DistributedSampler):
    """One DDP rank's share of :class:`ResumableSampler`'s epochs, able to start mid-epoch.

    Without it Lightning wraps the sampler in its ``DistributedSamplerWrapper``, which deals out each
    epoch's whole list by index: resumed mid-epoch, the list is shorter than the epoch and the ranks get
    the wrong samples (or an IndexError). This sampler hands rank ``r`` of ``R`` the same numbers as that
    wrapper (every ``R``-th one from ``r``, the epoch padded by repeating its start to a multiple of ``R``),
    and :meth:`start_at_batch` counts this rank's batches, as ``trainer.global_step`` does under DDP.
    Being a ``DistributedSampler``, Lightning leaves it in place.
    """

    def __init__(self, samples_per_epoch: int, batch_size: int, num_replicas: int, rank: int) -> None:
        numbers = cast(Dataset, range(samples_per_epoch))  # only its length is used
        super().__init__(numbers, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)
        self.samples_per_epoch, self.batch_size = samples_per_epoch, batch_size
        self.batches_per_epoch = self.num_samples // batch_size
        if self.batches_per_epoch < 1:
            raise ValueError(f"{self.num_samples} samples per rank is less than one batch of {batch_size}")
        self._next_batch = 0

    def start_at_batch(self, batches: int) -> None:
        """The next ``iter()`` continues after ``batches`` of this rank's batches since the start of training."""
        self._next_batch = int(batches)

    def __iter__(self) -> Iterator[int]:
        epoch, position = divmod(self._next_batch, self.batches_per_epoch)
        self._next_batch = (epoch + 1) * self.batches_per_epoch
        padded = (list(range(self.samples_per_epoch)) * math.ceil(self.total_size / self.samples_per_epoch))[
            : self.total_size
        ]
        first = epoch * self.samples_per_epoch
        return iter([first + i for i in padded[self.rank :: self.num_replicas][position * self.batch_size :]])


def resumable_sampler(samples_per_epoch: int, batch_size: int, datamodule: Any, consumed: int) -> Sampler[int]:
    """The training sampler of ``datamodule``, placed after ``consumed`` batches: sharded under DDP."""
    trainer = datamodule.trainer
    sampler: ResumableSampler | ShardedResumableSampler
    if trainer is not None and trainer.world_size > 1:
        sampler = ShardedResumableSampler(samples_per_epoch, batch_size, trainer.world_size, trainer.global_rank)
    else:
        sampler = ResumableSampler(samples_per_epoch, batch_size, drop_last=True)
    sampler.start_at_batch(consumed)
    return sampler


def resolve_seed(seed: int | None) -> int:
    """The seed itself, or a fresh one (kept in the checkpoint so a resumed run uses it again)."""
    if seed is not None:
        return int(seed)
    return int(np.random.SeedSequence().entropy % 2**63)


def resumable_state(datamodule: Any) -> dict:
    """What a checkpoint keeps of a data module for exact resume: its seed and the batches consumed."""
    trainer = datamodule.trainer
    batches = trainer.global_step * trainer.accumulate_grad_batches if trainer is not None else 0
    return {"data_seed": datamodule.data_seed, "consumed_batches": int(batches)}


def load_resumable_state(state: dict, seed: int) -> tuple[int, int | None]:
    """(seed, consumed batches) from a checkpoint's data-module state (the current seed when absent)."""
    return int(state.get("data_seed", seed)), state.get("consumed_batches")


def resume_point(datamodule: Any, saved: int | None) -> int:
    """Training batches already consumed: from the checkpoint, else from the restored global step."""
    if saved is not None:
        return int(saved)
    trainer = datamodule.trainer
    return trainer.global_step * trainer.accumulate_grad_batches if trainer is not None else 0


class ResumableDataLoader(DataLoader):
    """A DataLoader Lightning treats as resumable: its position is restored through the data module's
    state (see :func:`resumable_state`), so its own state is only a marker."""

    def state_dict(self) -> dict:
        return {"resumable": True}

    def load_state_dict(self, state_dict: dict) -> None:
        pass  # the sampler is placed by the data module from the checkpoint's consumed batches
