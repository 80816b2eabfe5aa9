"""The batch path of the audit log against the per-event one: the same columns, bytes and errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.audit.canonical import format_timestamp
from arrears.audit.entry import GENESIS_PREVIOUS, encode_entry
from arrears.audit.log import _chain, _prepare, _prepare_many
from arrears.audit.merkle import MerkleAccumulator, leaf_hash
from arrears.errors import ValidationError


class Stage(StrEnum):
    NEW = "new"


T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
# Shared objects, as a batch shares them, so that the paths that cache a checked value are taken.
TIMES: tuple[Any, ...] = (
    T0,
    T0,
    dt.datetime(2025, 3, 1, 17, 0, 0, 250, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    dt.datetime(2025, 3, 1, 9, 0),  # naive: refused
    "2025-03-01T09:00:00Z",  # not a datetime: refused
)
NAMES = st.sampled_from(
    ["cycle", "user:1", "case.open", "case", "案件", "", "x" * 33, "y" * 65, Stage.NEW, 7]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=8),
    st.sampled_from([Stage.NEW, "sha256:ab", Decimal("12.50"), Decimal("NaN"), 1.5, dt.date(2025, 1, 2), T0]),
    st.sampled_from([dt.datetime(2025, 1, 1), b"raw", ("a", 1)]),
)
KEYS = st.sampled_from(["stage", "balance_minor", "owner", "accounts", "as_of", "bulk", "phone", "name", "ü"])
NESTED = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(KEYS, SCALARS, max_size=3))
VALUES = st.one_of(NESTED, st.lists(NESTED, max_size=2), st.dictionaries(KEYS, NESTED, max_size=2))
SECTIONS = st.one_of(
    st.none(),
    st.dictionaries(KEYS, VALUES, max_size=4),
    st.dictionaries(KEYS, VALUES, max_size=2).map(MappingProxyType),
    st.dictionaries(st.sampled_from([1, "a"]), SCALARS, max_size=2),
    st.sampled_from([{}, [("a", 1)], 0, 0.0, "", 1.5]),
)


@st.composite
def audit_events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        "actor": draw(NAMES),
        "action": draw(NAMES),
        "subject_type": draw(NAMES),
        "subject_id": draw(st.one_of(NAMES, st.integers(0, 10**6).map(str))),
        "at": draw(st.one_of(st.sampled_from(TIMES[:3]), st.sampled_from(TIMES[:3]), st.sampled_from(TIMES))),
    }
    for section in ("before", "after", "details"):
        if draw(st.booleans()):
            event[section] = draw(SECTIONS)
    if draw(st.integers(0, 20)) == 0:
        del event[draw(st.sampled_from(sorted(event)))]
    if draw(st.integers(0, 20)) == 0:
        event["extra"] = 1
    return event


def _plain_events(draw_valid: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Events of the cycle's shape (valid ones when ``draw_valid``)."""
    return st.builds(
        lambda case_id, stage, accounts, bulk: {
            "actor": "cycle",
            "action": "case.open",
            "subject_type": "case",
            "subject_id": str(case_id),
            "at": T0,
            "after": {"stage": stage, "owner": None, "owner_kind": "team"},
            "details": {"accounts": accounts, "as_of": "2025-03-01", "bulk": bulk},
        },
        st.integers(1, 10**9),
        st.text(max_size=10) if draw_valid else st.one_of(st.text(max_size=3), SCALARS),
        st.lists(st.text(max_size=12), max_size=3),
        st.booleans(),
    )


def _outcome(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return ("ok", function(*args, **kwargs))
    except Exception as exc:  # the same error, of the same type, is the contract
        return ("error", type(exc), str(exc), getattr(exc, "fields", None))


def _one_by_one(events: list[Any], *, postgresql: bool) -> tuple[list[Any], list[bytes]]:
    prepared = [_prepare(event, postgresql=postgresql) for event in events]
    return [c for c, _ in prepared], [b for _, b in prepared]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.one_of(audit_events(), _plain_events(True), _plain_events(False)), max_size=12), st.booleans()
)
def test_batch_preparation_equals_one_by_one(events: list[dict[str, Any]], postgresql: bool) -> None:
    expected = _outcome(_one_by_one, events, postgresql=postgresql)
    batch = _outcome(_prepare_many, events, postgresql=postgresql)
    if batch[0] == "ok":
        columns, bodies, stamps = batch[1]
        assert stamps == [format_timestamp(event["at"]) for event in events]
        batch = ("ok", (columns, bodies))
    assert batch == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(_plain_events(True), min_size=1, max_size=30), st.booleans())
def test_cycle_shaped_events_prepare_alike(events: list[dict[str, Any]], postgresql: bool) -> None:
    columns, bodies, stamps = _prepare_many(events, postgresql=postgresql)
    assert (columns, bodies) == _one_by_one(events, postgresql=postgresql)
    assert stamps == ["2025-03-01T09:00:00.000000Z"] * len(events)


def test_batch_columns_of_a_cycle_event() -> None:
    event = {
        "actor": "cycle",
        "action": "case.open",
        "subject_type": "case",
        "subject_id": "17",
        "at": dt.datetime(2025, 3, 1, 17, 0, 0, 250, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        "after": {"stage": "new", "owner": None},
        "details": {"accounts": ["ACC-1"], "bulk": True},
    }
    columns, bodies, stamps = _prepare_many([event, dict(event, subject_id="18")], postgresql=False)
    assert stamps == ["2025-03-01T09:00:00.000250Z"] * 2
    assert columns[1] == ("2025-03-01 09:00:00.000250", "cycle", "case.open", "case", "18")
    assert bodies[1] == (
        b'{"action":"case.open","actor":"cycle","after":{"owner":null,"stage":"new"},'
        b'"at":"2025-03-01T09:00:00.000250Z","before":null,"details":{"accounts":["ACC-1"],"bulk":true},'
        b'"subject":"case:18"}'
    )


@pytest.mark.parametrize("first", [0, 1, 2, 3, 7, 8, 1023, 1024, 2**40 + 5])
def test_chain_equals_entries_hashed_one_by_one(first: int) -> None:
    bodies = [f'{{"n":{i}}}'.encode() for i in range(300)]
    if first < 2048:
        accumulator, previous = MerkleAccumulator(), GENESIS_PREVIOUS
        for i in range(first):
            previous = accumulator.append_entry(encode_entry(index=i, previous=previous, body=b"{}"))
    else:  # a large log resumed from an arbitrary compact range
        size_bits = [h for h in range(first.bit_length() - 1, -1, -1) if first >> h & 1]
        accumulator = MerkleAccumulator.from_compact_range(first, [bytes([h]) * 32 for h in size_bits])
        previous = b"\x07" * 32
    start_range, start_previous = accumulator.compact_range, previous
    entries, leaves = [], []
    for offset, body in enumerate(bodies):
        entry = encode_entry(index=first + offset, previous=previous, body=body)
        previous = leaf_hash(entry)
        accumulator.append(previous)
        entries.append(entry)
        leaves.append(previous)
    assert _chain(first, start_previous, start_range, bodies) == (
        entries,
        leaves,
        list(accumulator.compact_range),
    )


def test_chain_refuses_an_index_past_the_entry_format_as_encode_entry_does() -> None:
    with pytest.raises(ValidationError) as expected:
        encode_entry(index=2**64, previous=GENESIS_PREVIOUS, body=b"{}")
    with pytest.raises(ValidationError) as refused:
        _chain(2**64 - 1, GENESIS_PREVIOUS, [bytes([h]) * 32 for h in range(64)], [b"{}", b"{}", b"{}"])
    assert str(refused.value) == str(expected.value) == "leaf index 18446744073709551616 is out of range"
    assert _chain(2**64 - 2, GENESIS_PREVIOUS, [bytes([h]) * 32 for h in range(63)], [b"{}"])[0] == [
        encode_entry(index=2**64 - 2, previous=GENESIS_PREVIOUS, body=b"{}")
    ]
