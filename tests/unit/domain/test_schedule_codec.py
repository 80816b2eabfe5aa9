"""Packed schedules: the column form and the one-schedule form agree, and both round-trip exactly."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.positions import explode_schedules
from arrears.domain.schedule_codec import ITEM, pack_one, pack_schedules, unpack_one, unpack_schedules

_AMOUNT = st.integers(min_value=-(10**17), max_value=10**17)
_DAY = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31))
_SCHEDULE = st.lists(st.tuples(_DAY, _AMOUNT, _AMOUNT), max_size=8)


def _mapping(items: list[tuple[dt.date, int, int]]) -> dict[str, list[object]]:
    return {
        "due_on": [d.isoformat() for d, _, _ in items],
        "principal": [p for _, p, _ in items],
        "interest": [i for _, _, i in items],
    }


def test_one_instalment_is_twenty_little_endian_bytes() -> None:
    blob = pack_one({"due_on": ["1970-01-02"], "principal": [258], "interest": [-1]})
    assert ITEM.itemsize == 20
    assert blob == (1).to_bytes(4, "little") + (258).to_bytes(8, "little") + (-1).to_bytes(
        8, "little", signed=True
    )
    assert unpack_one(blob) == {"due_on": ["1970-01-02"], "principal": [258], "interest": [-1]}


@settings(max_examples=200, deadline=None)
@given(st.lists(_SCHEDULE, max_size=12))
def test_column_and_single_forms_round_trip(schedules: list[list[tuple[dt.date, int, int]]]) -> None:
    # account ids descending: the column form keeps the frame's row order
    ids = list(range(len(schedules), 0, -1))
    accounts = pl.DataFrame(
        {"account_id": ids, "schedule": [pack_one(_mapping(s)) for s in schedules]},
        schema={"account_id": pl.Int64, "schedule": pl.Binary},
    )
    items = unpack_schedules(accounts)
    expected = [
        (account, n, d, p, i)
        for account, schedule in zip(ids, schedules, strict=True)
        for n, (d, p, i) in enumerate(schedule, start=1)
    ]
    assert items.rows() == expected
    assert items.schema == pl.Schema(
        {"account_id": pl.Int64, "number": pl.Int32, "due_on": pl.Date,
         "principal_minor": pl.Int64, "interest_minor": pl.Int64}
    )  # fmt: skip
    # packing the rows again gives the same bytes per account (accounts without instalments drop out)
    repacked = pack_schedules(items, key="account_id")
    by_id = dict(zip(ids, accounts["schedule"].to_list(), strict=True))
    assert repacked["account_id"].to_list() == sorted(a for a, s in zip(ids, schedules, strict=True) if s)
    assert all(blob == by_id[a] for a, blob in repacked.iter_rows())
    for schedule, blob in zip(schedules, accounts["schedule"].to_list(), strict=True):
        assert unpack_one(blob) == _mapping(schedule)


def test_a_slice_of_a_column_and_null_schedules() -> None:
    blobs = [pack_one(_mapping([(dt.date(2026, 1, n), n * 100, n)] * n)) for n in range(1, 6)]
    accounts = pl.DataFrame(
        {"account_id": [1, 2, 3, 4, 5, 6], "schedule": [*blobs, None]},
        schema={"account_id": pl.Int64, "schedule": pl.Binary},
    )
    part = explode_schedules(accounts.slice(2, 4))  # an offset into the column's buffers
    assert part["account_id"].to_list() == [3] * 3 + [4] * 4 + [5] * 5
    assert part.filter(pl.col("account_id") == 4)["number"].to_list() == [1, 2, 3, 4]
    assert part["principal_minor"].unique().sort().to_list() == [300, 400, 500]
    assert explode_schedules(accounts.head(0)).columns == [
        "account_id", "number", "due_on", "principal_minor", "interest_minor",
    ]  # fmt: skip


def test_a_torn_value_is_refused_with_its_account() -> None:
    accounts = pl.DataFrame(
        {"account_id": [7, 8], "schedule": [pack_one(_mapping([(dt.date(2026, 1, 1), 1, 1)])), b"\x00" * 21]},
        schema={"account_id": pl.Int64, "schedule": pl.Binary},
    )
    with pytest.raises(ValueError, match="account_id 8 is 21 bytes"):
        unpack_schedules(accounts)
    with pytest.raises(ValueError, match="21 bytes"):
        unpack_one(b"\x00" * 21)
    with pytest.raises(ValueError, match="one value per instalment"):
        pack_one({"due_on": ["2026-01-01"], "principal": [], "interest": [1]})


def test_rows_in_any_order_pack_the_same() -> None:
    items = pl.DataFrame(
        {
            "k": [2, 1, 2, 1, 3],
            "number": [2, 1, 1, 2, 1],
            "due_on": [dt.date(2026, 2, 1), dt.date(2026, 1, 5), dt.date(2026, 1, 1), dt.date(2026, 2, 5),
                       dt.date(2026, 3, 3)],
            "principal_minor": [20, 10, 21, 11, 30],
            "interest_minor": [2, 1, 3, 4, 5],
        }
    )  # fmt: skip
    ordered = items.sort("k", "number")
    assert pack_schedules(items, key="k").equals(pack_schedules(ordered, key="k"))
    assert unpack_one(pack_schedules(items, key="k")["schedule"][0]) == {
        "due_on": ["2026-01-05", "2026-02-05"], "principal": [10, 11], "interest": [1, 4],
    }  # fmt: skip
