"""Leaf entries of the audit log, and the fast path of canonical JSON agreeing with the full rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.audit import canonical
from arrears.audit.canonical import AuditEvent, canonical_json
from arrears.audit.entry import GENESIS_PREVIOUS, HEADER_SIZE, decode_entry, encode_entry, event_body
from arrears.errors import ValidationError

AT = datetime(2024, 5, 1, 8, tzinfo=UTC)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=8),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9),
    st.datetimes(timezones=st.just(timezone(timedelta(hours=8)))),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)


def test_entry_layout() -> None:
    entry = encode_entry(index=258, previous=b"\x11" * 32, body=b"{}")
    assert entry == b"\x01" + (258).to_bytes(8, "big") + b"\x11" * 32 + b"{}"
    decoded = decode_entry(entry)
    assert (decoded.index, decoded.previous, decoded.body) == (258, b"\x11" * 32, b"{}")
    assert HEADER_SIZE == 41
    assert bytes(32) == GENESIS_PREVIOUS


@pytest.mark.parametrize("entry", [b"", b"\x02" + bytes(40) + b"{}", b"\x01" + bytes(39)])
def test_malformed_entries_are_refused(entry: bytes) -> None:
    with pytest.raises(ValidationError):
        decode_entry(entry)


def test_encode_refuses_a_short_previous_hash() -> None:
    with pytest.raises(ValidationError):
        encode_entry(index=0, previous=b"\x00" * 31, body=b"{}")


@given(before=st.dictionaries(st.text(max_size=5), values, max_size=3), after=values)
def test_event_body_is_the_canonical_audit_event(before: dict[str, Any], after: Any) -> None:
    after_map = {"value": after}
    body = event_body(
        actor="u:1", action="x.y", subject="case:1", at=AT, before=before, after=after_map, details=None
    )
    assert (
        body
        == AuditEvent(
            actor="u:1", action="x.y", subject="case:1", at=AT, before=before, after=after_map
        ).canonical_bytes()
    )
    assert decode_entry(encode_entry(index=3, previous=GENESIS_PREVIOUS, body=body)).event()["actor"] == "u:1"


@given(values)
def test_the_fast_path_gives_what_the_full_rules_give(value: Any) -> None:
    assert canonical.to_canonical_value(value) == canonical._full(value, "")


def test_the_fast_path_hands_unusual_values_to_the_full_rules() -> None:
    with pytest.raises(ValidationError) as caught:
        canonical_json({"ok": [1, Decimal("1.0")], "bad": {"rate": 0.5}})
    assert caught.value.fields["field"] == "bad.rate"
    naive = datetime(2024, 1, 1)
    with pytest.raises(ValidationError):
        canonical_json([naive])


def test_event_body_needs_an_actor() -> None:
    with pytest.raises(ValidationError) as caught:
        event_body(actor="", action="a", subject="s:1", at=AT, before=None, after=None, details=None)
    assert caught.value.fields["field"] == "actor"
