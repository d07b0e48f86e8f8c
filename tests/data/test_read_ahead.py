"""ReadAhead: items in order, at most ``depth`` ahead, the producer's error raised in the consumer."""

from __future__ import annotations

import threading
import time

import pytest

from vsr_lightning.data.read_ahead import ReadAhead


def test_items_in_order_and_bounded():
    produced = []

    def numbers():
        for i in range(50):
            produced.append(i)
            yield i

    with ReadAhead(numbers(), depth=3) as items:
        first = next(items)
        time.sleep(0.2)  # the producer runs ahead, but no further than the bound (+ the one it holds)
        assert first == 0 and len(produced) <= 1 + 3 + 1
        assert [first, *items] == list(range(50))


def test_producer_error_is_raised_in_the_consumer():
    def failing():
        yield 1
        raise OSError("disk gone")

    items = ReadAhead(failing(), depth=2)
    assert next(items) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(items)
    assert not any(t.name == "read-ahead" for t in threading.enumerate())


def test_closing_early_stops_the_producer():
    closed = threading.Event()

    def endless():
        try:
            while True:
                yield 0
        finally:
            closed.set()

    with ReadAhead(endless(), depth=2, name="endless") as items:
        assert next(items) == 0
    assert closed.is_set() and not any(t.name == "endless" for t in threading.enumerate())
