"""Reading ahead on a worker thread: same items, same order, same errors, nothing left running."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from arrears.errors import FileFormatError
from arrears.portfolio.readers import read_ahead


def test_items_arrive_in_order_and_are_produced_on_another_thread() -> None:
    threads: list[str] = []

    def produce() -> Iterator[int]:
        for n in range(50):
            threads.append(threading.current_thread().name)
            yield n

    with read_ahead(produce(), depth=2) as items:
        assert list(items) == list(range(50))
    assert set(threads) == {"arrears-read-ahead"}


def test_an_error_while_producing_is_raised_to_the_consumer_after_the_earlier_items() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise FileFormatError("accounts.csv: cannot read as CSV: bad quote", file="accounts.csv")

    got: list[int] = []
    with pytest.raises(FileFormatError, match="bad quote") as caught, read_ahead(produce()) as items:
        got.extend(items)
    assert got == [1, 2]
    assert caught.value.fields["file"] == "accounts.csv"


def test_leaving_early_stops_the_producer_and_closes_it() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def produce() -> Iterator[int]:
        try:
            for n in range(1_000_000):
                produced.append(n)
                yield n
        finally:
            closed.set()

    with pytest.raises(RuntimeError, match="write failed"), read_ahead(produce(), depth=1) as items:
        for n in items:
            if n == 3:
                raise RuntimeError("write failed")
    # The producer is done when the block is left: at most the items in hand and one queued beyond.
    assert closed.is_set()
    assert len(produced) <= 3 + 1 + 2
    assert not [t for t in threading.enumerate() if t.name == "arrears-read-ahead"]


def test_quick_start_splits_the_first_batch_only_and_keeps_every_row():
    import polars as pl

    from arrears.portfolio.readers import ROW, Batch, quick_start

    def batch(first: int, last: int, problems: list[tuple[int, str, str]]) -> Batch:
        return Batch(pl.DataFrame({ROW: list(range(first, last + 1))}), problems)

    refused = [(3, "amount", "not a number")]
    pieces = list(quick_start(iter([batch(1, 10, refused), batch(11, 20, [])]), head_rows=4))
    assert [p.frame[ROW].to_list() for p in pieces] == [
        [1, 2, 3, 4],
        [5, 6, 7, 8, 9, 10],
        list(range(11, 21)),
    ]
    assert [p.problems for p in pieces] == [refused, [], []]
    # a first batch no longer than the head, and no batch at all, pass through as they are
    small = list(quick_start(iter([batch(1, 4, refused)]), head_rows=4))
    assert [(p.frame[ROW].to_list(), p.problems) for p in small] == [([1, 2, 3, 4], refused)]
    assert list(quick_start(iter([]), head_rows=4)) == []
