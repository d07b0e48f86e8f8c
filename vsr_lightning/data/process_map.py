"""Run one task per item in processes of their own, with one progress bar and all-or-nothing failure.

A benchmark has hundreds of videos (LDV 2.0: 335); importing them one after the other leaves most of a
cluster node idle. Each worker is a fresh ``spawn``-ed process (no threads inherited through ``fork``).
Workers report finished frames through a queue to the caller's bar; the first failure (or an
interruption of the caller) sets a shared event that makes every running task stop at its next frame,
so the caller can remove what they wrote before re-raising.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

_worker_queue: Any = None
_worker_cancel: Any = None


class Cancelled(Exception):
    """Raised inside a worker's task when the caller cancelled the whole map."""


class Progress(Protocol):
    def update(self, n: int = 1) -> object: ...


class WorkerProgress:
    """A task's progress, sent to the caller in batches; ``update`` also stops the task once cancelled."""

    def __init__(self, every: int = 8) -> None:
        self.every, self.pending = every, 0

    def update(self, n: int = 1) -> None:
        if _worker_cancel is not None and _worker_cancel.is_set():
            raise Cancelled("cancelled by the caller")
        self.pending += n
        if self.pending >= self.every:
            self.flush()

    def flush(self) -> None:
        if self.pending and _worker_queue is not None:
            _worker_queue.put(self.pending)
        self.pending = 0


def _init_worker(progress_queue: Any, cancel: Any) -> None:
    global _worker_queue, _worker_cancel
    _worker_queue, _worker_cancel = progress_queue, cancel


def _run_task(fn: Callable[[Any, Progress], Any], item: Any) -> Any:
    progress = WorkerProgress()
    try:
        return fn(item, progress)
    finally:
        progress.flush()


def _drain(progress_queue: Any, bar: Progress, timeout: float) -> None:
    try:
        bar.update(progress_queue.get(timeout=timeout))
        while True:
            bar.update(progress_queue.get_nowait())
    except queue.Empty:
        pass


def process_map(fn: Callable[[Any, Progress], Any], items: Sequence[Any], workers: int, bar: Progress) -> list[Any]:
    """``[fn(item, progress) for item in items]`` on ``workers`` processes, in the order of ``items``.

    ``fn`` must be a module-level function and ``items`` picklable. The first exception a task raises is
    re-raised here after every other task has stopped (no worker is left writing)."""
    context = multiprocessing.get_context("spawn")
    progress_queue, cancel = context.Queue(), context.Event()
    executor = ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(items))),
        mp_context=context,
        initializer=_init_worker,
        initargs=(progress_queue, cancel),
    )
    futures: list[Future] = []
    try:
        futures = [executor.submit(_run_task, fn, item) for item in items]
        pending = set(futures)
        while pending:
            _drain(progress_queue, bar, timeout=0.2)
            done, pending = wait(pending, timeout=0, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()  # the first failure leaves the loop
        _drain(progress_queue, bar, timeout=0)
        return [future.result() for future in futures]
    except BaseException:
        cancel.set()
        for future in futures:
            future.cancel()
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
