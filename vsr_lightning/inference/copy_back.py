"""Duplicated frames are enhanced once: each output frame is handed over in input order, a duplicate
getting the output of the unique frame it repeats."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

Frame = TypeVar("Frame")


class CopyBack(Generic[Frame]):
    """Writes outputs in input order as they become ready; a duplicate writes its unique frame's output again.

    ``expect(u)`` says the next input frame copies unique frame ``u`` (its own position when it is unique);
    ``offer(u, output)`` hands over the output of unique frame ``u``. Besides the output being offered, only
    the last one written is kept, for the duplicates that may still follow it.
    """

    def __init__(self, write: Callable[[Frame], None]) -> None:
        self.write = write
        self.pending: deque[int] = deque()
        """Unique position of each input frame not yet written, in input order."""
        self.ready: dict[int, Frame] = {}
        self.written = 0

    def expect(self, unique_position: int) -> None:
        self.pending.append(unique_position)
        self._drain()

    def offer(self, unique_position: int, output: Frame) -> None:
        self.ready[unique_position] = output
        self._drain()

    def _drain(self) -> None:
        while self.pending:
            for old in [p for p in self.ready if p < self.pending[0]]:  # no later input frame copies these
                del self.ready[old]
            if self.pending[0] not in self.ready:
                return
            self.write(self.ready[self.pending.popleft()])
            self.written += 1
