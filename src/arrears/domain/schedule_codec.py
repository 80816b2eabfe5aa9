"""The stored form of a contractual schedule: packed fixed-size records, one per instalment.

An account's schedule is written once (at import, or when the loan system restates it) and read by
every daily cycle for every open account, so its stored form is chosen for the reading: each
instalment is one 20-byte little-endian record — due date as ``int32`` days since 1970-01-01, then
principal and interest as ``int64`` minor units — in due order, with nothing before or between the
records. The schedules of a whole column of accounts are therefore one contiguous array that NumPy
reads in place (no parsing), and a schedule takes about half the bytes of the same schedule as JSON.

Two forms, both exact:

* columns — :func:`pack_schedules` turns instalment rows into one ``Binary`` value per key and
  :func:`unpack_schedules` turns a ``Binary`` column back into instalment rows;
* one schedule — :func:`pack_one` / :func:`unpack_one` for the mapping form used by the account view
  and the ORM: ``{"due_on": ["2026-01-15", ...], "principal": [...], "interest": [...]}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

__all__ = ["ITEM", "pack_one", "pack_schedules", "unpack_one", "unpack_schedules"]

ITEM = np.dtype([("due_on", "<i4"), ("principal", "<i8"), ("interest", "<i8")])
"""One instalment record: due date (days since 1970-01-01), principal and interest in minor units."""

_EPOCH = dt.date(1970, 1, 1)
_ITEMS_SCHEMA: dict[str, Any] = {
    "number": pl.Int32,
    "due_on": pl.Date,
    "principal_minor": pl.Int64,
    "interest_minor": pl.Int64,
}


def pack_schedules(items: pl.DataFrame, *, key: str, column: str = "schedule") -> pl.DataFrame:
    """One packed schedule per ``key``: returns ``key, column`` (``Binary``), keys in ascending order.

    ``items`` has one row per instalment: ``key, number, due_on, principal_minor, interest_minor``;
    records are written in ``number`` order.
    """
    if not _in_order(items, key):
        items = items.sort(key, "number")
    counts = items.group_by(key, maintain_order=True).len(name="_count")
    records = np.empty(items.height, dtype=ITEM)
    records["due_on"] = items.get_column("due_on").cast(pl.Int32).to_numpy()
    records["principal"] = items.get_column("principal_minor").cast(pl.Int64).to_numpy()
    records["interest"] = items.get_column("interest_minor").cast(pl.Int64).to_numpy()
    offsets = np.zeros(counts.height + 1, dtype=np.int64)
    np.cumsum(counts.get_column("_count").to_numpy().astype(np.int64) * ITEM.itemsize, out=offsets[1:])
    packed = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), counts.height, [None, pa.py_buffer(offsets), pa.py_buffer(records.tobytes())]
    )
    return counts.select(key).with_columns(pl.Series(column, packed, dtype=pl.Binary))


def _in_order(items: pl.DataFrame, key: str) -> bool:
    """Whether rows are already ordered by ``key`` then ``number`` (one pass, cheaper than a sort)."""
    if items.height < 2:
        return True
    step = items.select(
        pl.col(key).diff().slice(1).alias("k"), pl.col("number").diff().slice(1).alias("n")
    ).select(((pl.col("k") > 0) | ((pl.col("k") == 0) & (pl.col("n") > 0))).all())
    return bool(step.item())


def unpack_schedules(
    frame: pl.DataFrame, *, key: str = "account_id", column: str = "schedule"
) -> pl.DataFrame:
    """Packed schedules (one ``Binary`` value per row of ``frame``) to one row per instalment.

    Returns ``key, number, due_on, principal_minor, interest_minor`` in the order of ``frame``'s rows,
    instalments in due order. A null schedule has no instalments. A value whose length is not a whole
    number of records is refused with ``ValueError``.
    """
    schema: dict[str, Any] = {key: frame.schema[key], **_ITEMS_SCHEMA}
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    arrow: Any = frame.get_column(column).cast(pl.Binary).to_arrow()
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    if arrow.type != pa.large_binary():
        arrow = arrow.cast(pa.large_binary())
    _validity, offset_buffer, data_buffer = arrow.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)[arrow.offset : arrow.offset + len(arrow) + 1]
    sizes = np.diff(offsets)
    if np.any(sizes % ITEM.itemsize):
        bad = int(np.flatnonzero(sizes % ITEM.itemsize)[0])
        raise ValueError(
            f"schedule of {key} {frame.get_column(key)[bad]} is {int(sizes[bad])} bytes, "
            f"not a whole number of {ITEM.itemsize}-byte instalments"
        )
    counts = sizes // ITEM.itemsize
    total = int(counts.sum())
    start = int(offsets[0])
    if total == 0 or data_buffer is None:
        return pl.DataFrame(schema=schema)
    records = np.frombuffer(data_buffer, dtype=ITEM, count=total, offset=start)
    firsts = np.repeat((offsets[:-1] - start) // ITEM.itemsize, counts)
    number = (np.arange(total, dtype=np.int64) - firsts + 1).astype(np.int32)
    keys = frame.get_column(key).gather(pl.Series(np.repeat(np.arange(frame.height), counts)))
    return pl.DataFrame(
        {
            key: keys,
            "number": number,
            "due_on": pl.Series(records["due_on"]).cast(pl.Date),
            "principal_minor": records["principal"],
            "interest_minor": records["interest"],
        },
        schema=schema,
    )


def pack_one(schedule: Mapping[str, Sequence[Any]]) -> bytes:
    """The packed form of one schedule given as ``{"due_on": [...], "principal": [...], "interest": [...]}``.

    Due dates may be ``date`` objects or ISO texts; amounts are whole minor units.
    """
    due_on, principal, interest = (list(schedule[k]) for k in ("due_on", "principal", "interest"))
    if not len(due_on) == len(principal) == len(interest):
        raise ValueError("due_on, principal and interest must have one value per instalment")
    records = np.empty(len(due_on), dtype=ITEM)
    for i, (day, p, r) in enumerate(zip(due_on, principal, interest, strict=True)):
        when = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
        records[i] = ((when - _EPOCH).days, int(p), int(r))
    return records.tobytes()


def unpack_one(blob: bytes) -> dict[str, list[Any]]:
    """One packed schedule as ``{"due_on": [ISO text, ...], "principal": [...], "interest": [...]}``."""
    if len(blob) % ITEM.itemsize:
        raise ValueError(f"a schedule of {len(blob)} bytes is not a whole number of instalments")
    records = np.frombuffer(blob, dtype=ITEM)
    return {
        "due_on": [(_EPOCH + dt.timedelta(days=int(d))).isoformat() for d in records["due_on"]],
        "principal": [int(p) for p in records["principal"]],
        "interest": [int(r) for r in records["interest"]],
    }
