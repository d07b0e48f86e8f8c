"""Run a frame producer on a thread of its own, a bounded number of items ahead of its consumer.

Decoding (PyAV), colour conversion (swscale) and file reads release the GIL, so reading the original
and the compressed video on two such threads overlaps them with each other and with the statistics,
while the bound keeps memory independent of the video's length.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


def _put(box: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` unless the consumer has gone; False once it has."""
    while not stop.is_set():
        try:
            box.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


class ReadAhead(Iterator[T]):
    """Iterate over ``items`` produced on a background thread, at most ``depth`` items ahead.

    An exception in the producer is raised in the consumer at the point it happened; ``close()`` (or
    leaving a ``with`` block) stops the producer and waits for its thread."""

    def __init__(self, items: Iterator[T], depth: int = 4, name: str = "read-ahead") -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._box: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._produce, args=(items,), name=name, daemon=True)
        self._thread.start()

    def _produce(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                if not _put(self._box, (True, item), self._stop):
                    return
            _put(self._box, (True, _END), self._stop)
        except BaseException as err:  # handed to the consumer, raised there
            _put(self._box, (False, err), self._stop)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        ok, item = self._box.get()
        if not ok:
            self.close()
            raise item
        if item is _END:
            self.close()
            raise StopIteration
        return item

    def close(self) -> None:
        self._done = True
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
