"""Reading import files in batches, every column as text, each row numbered.

CSV (UTF-8, with or without BOM; ``.csv`` or ``.csv.gz``), Parquet and JSON Lines. Row numbers count
data records from 1 (the CSV header is not a row). A file that cannot be used at all raises
:class:`FileFormatError` with what to fix; a row with the wrong number of CSV fields becomes a reject
of its own and the rest of the file is still read.
"""

from __future__ import annotations

import csv
import gzip
import io
import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import polars as pl

from arrears.errors import FileFormatError

__all__ = ["ROW", "Batch", "FileKind", "detect_kind", "quick_start", "read_ahead", "read_batches"]

ROW = "_row"
T = TypeVar("T")


class FileKind(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"


@dataclass(frozen=True)
class Batch:
    """Rows of one batch (all text, plus ``_row``) and rows already refused while reading."""

    frame: pl.DataFrame
    problems: list[tuple[int, str, str]]  # (row, field, reason)


def detect_kind(path: Path) -> FileKind:
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz", ".txt")):
        return FileKind.CSV
    if name.endswith((".parquet", ".pq")):
        return FileKind.PARQUET
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".json")):
        return FileKind.JSONL
    raise FileFormatError(
        f"{path}: unknown file format; use .csv, .csv.gz, .parquet or .jsonl",
        file=str(path),
    )


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    exprs = []
    for name, dtype in frame.schema.items():
        if name == ROW:
            exprs.append(pl.col(name))
        elif isinstance(dtype, pl.List | pl.Struct | pl.Array):
            exprs.append(
                pl.struct(pl.col(name).alias("v")).struct.json_encode().str.slice(5).str.head(-1).alias(name)
            )
        elif dtype == pl.Null:
            exprs.append(pl.col(name).cast(pl.String))
        else:
            exprs.append(pl.col(name).cast(pl.String))
    return frame.select(exprs)


def _check_columns(path: Path, columns: Sequence[str], required: Sequence[str]) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        raise FileFormatError(
            f"{path}: missing required column(s) {', '.join(missing)}; "
            f"the file has {', '.join(columns) or 'no columns'} (see docs/data-formats.md)",
            file=str(path),
            missing=missing,
        )


def read_batches(path: Path, *, required: Sequence[str], batch_rows: int) -> Iterator[Batch]:
    """Yield the file's rows in batches of at most ``batch_rows`` rows."""
    if not path.exists():
        raise FileFormatError(f"{path}: no such file", file=str(path))
    if not path.is_file():
        raise FileFormatError(f"{path}: not a file", file=str(path))
    kind = detect_kind(path)
    try:
        if kind is FileKind.CSV:
            yield from _csv_batches(path, required, batch_rows)
            return
        if kind is FileKind.PARQUET:
            lazy = pl.scan_parquet(path)
        else:
            lazy = pl.scan_ndjson(path, infer_schema_length=None)
        schema = lazy.collect_schema()
    except FileFormatError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise FileFormatError(f"{path}: cannot read as {kind}: {_first_line(exc)}", file=str(path)) from None
    _check_columns(path, list(schema.names()), required)
    try:
        for frame in lazy.with_row_index(ROW, offset=1).collect_batches(chunk_size=batch_rows):
            yield Batch(_as_text(frame).with_columns(pl.col(ROW).cast(pl.Int64)), [])
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise FileFormatError(f"{path}: cannot read as {kind}: {_first_line(exc)}", file=str(path)) from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _csv_batches(path: Path, required: Sequence[str], batch_rows: int) -> Iterator[Batch]:
    try:
        lazy = pl.scan_csv(path, infer_schema=False, encoding="utf8")
        columns = list(lazy.collect_schema().names())
    except pl.exceptions.NoDataError:
        raise FileFormatError(f"{path}: the file is empty; it needs a header row", file=str(path)) from None
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FileFormatError(f"{path}: cannot read as CSV: {_first_line(exc)}", file=str(path)) from None
    _check_columns(path, columns, required)
    last_row = 0
    try:
        for frame in lazy.with_row_index(ROW, offset=1).collect_batches(chunk_size=batch_rows):
            batch = frame.with_columns(pl.col(ROW).cast(pl.Int64))
            if batch.height:
                last_row = int(batch[ROW][-1])
            yield Batch(batch, [])
    except pl.exceptions.ComputeError:
        # Ragged or otherwise irregular lines: read the rest again record by record so that each
        # bad record is named and the good ones are kept.
        yield from _csv_batches_strict(path, columns, batch_rows, after_row=last_row)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FileFormatError(f"{path}: cannot read as CSV: {_first_line(exc)}", file=str(path)) from None


def _csv_batches_strict(
    path: Path, columns: list[str], batch_rows: int, *, after_row: int
) -> Iterator[Batch]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        next(reader, None)
        rows: list[list[str | None]] = []
        problems: list[tuple[int, str, str]] = []
        width = len(columns)
        for number, record in enumerate(reader, start=1):
            if number <= after_row:
                continue
            if len(record) != width:
                problems.append((number, "(row)", f"has {len(record)} fields; the header has {width}"))
                continue
            rows.append([str(number), *[v if v != "" else None for v in record]])
            if len(rows) >= batch_rows:
                yield Batch(_strict_frame(rows, columns), problems)
                rows, problems = [], []
        if rows or problems:
            yield Batch(_strict_frame(rows, columns), problems)


def _strict_frame(rows: list[list[str | None]], columns: list[str]) -> pl.DataFrame:
    schema = {ROW: pl.String, **{c: pl.String for c in columns}}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return frame.with_columns(pl.col(ROW).cast(pl.Int64))


def quick_start(batches: Iterator[Batch], *, head_rows: int = 2_000) -> Iterator[Batch]:
    """The same rows with the first batch split after ``head_rows`` rows.

    In a :func:`read_ahead` pipeline the writer waits for the first batch to be prepared; a small
    first piece lets it start writing while the rest of that batch is prepared. Rows keep their
    numbers, and rows refused while reading travel with the first piece.
    """
    first = next(batches, None)
    if first is None:
        return
    if first.frame.height <= head_rows:
        yield first
    else:
        yield Batch(first.frame.head(head_rows), first.problems)
        yield Batch(first.frame.slice(head_rows), [])
    yield from batches


@contextmanager
def read_ahead(items: Iterator[T], *, depth: int = 1) -> Iterator[Iterator[T]]:
    """Run ``items`` on a worker thread, at most ``depth`` items ahead of the consumer.

    The consumer gets the same items in the same order; an exception raised while producing is raised
    again in the consumer at the point it would have surfaced. Leaving the block (normally or by an
    exception) stops the producer and waits for it, so no work outlives the caller's transaction.
    """
    handoff: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=0.05)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((True, item)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            offer((False, exc))
        else:
            offer((False, None))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def consume() -> Iterator[T]:
        while True:
            ok, value = handoff.get()
            if ok:
                yield value  # type: ignore[misc]
            elif value is None:
                return
            else:
                raise value  # type: ignore[misc]

    worker = threading.Thread(target=produce, name="arrears-read-ahead", daemon=True)
    worker.start()
    try:
        yield consume()
    finally:
        stop.set()
        worker.join()
