"""Canonical JSON of audit events: one byte string per event, refusing what has no single form."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.audit.canonical import (
    AuditEvent,
    canonical_json,
    format_timestamp,
    new_salt,
    salted_commitment,
    to_canonical_value,
)
from arrears.errors import ValidationError


class Stage(StrEnum):
    EARLY = "early"


def test_sorted_keys_no_whitespace_utf8() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "张三"], "c": {"z": 1, "y": 2}}) == (
        '{"a":[true,null,"张三"],"b":1,"c":{"y":2,"z":1}}'.encode()
    )


def test_decimals_are_plain_strings_with_their_scale() -> None:
    assert canonical_json([Decimal("1234.50"), Decimal("1E+3"), Decimal("-0.001")]) == (
        b'["1234.50","1000","-0.001"]'
    )


def test_datetimes_become_utc_z_with_microseconds() -> None:
    beijing = timezone(timedelta(hours=8))
    at = datetime(2024, 5, 1, 16, 0, 0, 120, tzinfo=beijing)
    assert canonical_json({"at": at}) == b'{"at":"2024-05-01T08:00:00.000120Z"}'
    assert format_timestamp(datetime(2024, 5, 1, 8, tzinfo=UTC)) == "2024-05-01T08:00:00.000000Z"


def test_the_same_instant_in_two_zones_is_the_same_bytes() -> None:
    utc = datetime(2024, 1, 31, 23, 30, tzinfo=UTC)
    assert canonical_json(utc) == canonical_json(utc.astimezone(timezone(timedelta(hours=-5))))


def test_dates_enums_uuids_tuples() -> None:
    value = {"on": date(2024, 2, 29), "stage": Stage.EARLY, "id": UUID(int=1), "pair": (1, "x")}
    assert canonical_json(value) == (
        b'{"id":"00000000-0000-0000-0000-000000000001","on":"2024-02-29","pair":[1,"x"],"stage":"early"}'
    )


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"amount": 1.5}, "amount"),
        ({"at": datetime(2024, 1, 1)}, "at"),  # naive
        ({"x": [Decimal("NaN")]}, "x[0]"),
        ({"tags": {"a"}}, "tags"),
        ({"blob": b"\x00"}, "blob"),
        ({"n": {1: "a"}}, "n"),
    ],
)
def test_values_without_a_canonical_form_are_refused_with_their_path(value: object, where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        canonical_json(value)
    assert caught.value.fields["field"] == where


def test_audit_event_bytes() -> None:
    event = AuditEvent(
        actor="user:7",
        action="plan.accepted",
        subject="case:42",
        at=datetime(2024, 5, 1, 8, tzinfo=UTC),
        before={"stage": Stage.EARLY},
        after={"stage": "promise", "amount": Decimal("300.00")},
    )
    assert event.canonical_bytes() == (
        b'{"action":"plan.accepted","actor":"user:7","after":{"amount":"300.00","stage":"promise"},'
        b'"at":"2024-05-01T08:00:00.000000Z","before":{"stage":"early"},"details":{},"subject":"case:42"}'
    )


def test_audit_event_needs_actor_and_aware_time() -> None:
    with pytest.raises(ValidationError, match="non-empty actor"):
        AuditEvent(actor="", action="a", subject="s", at=datetime(2024, 1, 1, tzinfo=UTC)).canonical_bytes()
    with pytest.raises(ValidationError, match="time zone"):
        AuditEvent(actor="u", action="a", subject="s", at=datetime(2024, 1, 1)).canonical_bytes()


def test_salted_commitment() -> None:
    salt = bytes(range(16))
    assert salted_commitment("13800000001", salt=salt) == (
        "sha256:" + hashlib.sha256(salt + b"13800000001").hexdigest()
    )
    assert salted_commitment("13800000001", salt=salt) != salted_commitment("13800000001", salt=new_salt())
    assert len(new_salt()) == 16
    with pytest.raises(ValidationError, match="at least 16 bytes"):
        salted_commitment("x", salt=b"short")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_json_is_deterministic_and_key_order_free(value: object) -> None:
    first = canonical_json(value)
    assert canonical_json(value) == first
    if isinstance(value, dict):
        assert canonical_json(dict(reversed(list(value.items())))) == first
    # Parsing and re-encoding compactly with sorted keys gives the same bytes: no stray whitespace.
    parsed = json.loads(first)
    assert parsed == to_canonical_value(value)
    assert json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() == first
