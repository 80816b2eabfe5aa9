"""Writing audit events: the one function every state change calls, inside its own transaction.

``record_event`` appends one event through the caller's session (so it commits or rolls back with the
change it describes). ``record_events`` appends many in one go for batch work.

An append locks the log's state row (``audit_log_state``) first — a row lock on PostgreSQL, the write
lock on SQLite — so concurrent writers take turns and leaf indexes are gap-free and in commit order.
Each event becomes a leaf entry (:mod:`arrears.audit.entry`: its index, its predecessor's leaf hash and
its canonical JSON), whose RFC 6962 leaf hash is stored with it; the compact range in the state row is
advanced in O(log n) per event, so earlier events are never read back.

The hashed entry must hold no personal data, so that erasing personal data never touches the log: use
record ids, or :func:`arrears.audit.canonical.salted_commitment` values. Top-level ``before``/``after``/
``details`` keys that name personal fields are refused unless their value is ``None`` or a commitment.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from arrears.audit.canonical import format_timestamp, to_canonical_value
from arrears.audit.entry import GENESIS_PREVIOUS, encode_entry
from arrears.audit.merkle import HASH_SIZE, MerkleAccumulator, leaf_hash
from arrears.audit.tables import STATE_ROW_ID
from arrears.errors import ConfigurationError, ValidationError

__all__ = [
    "PERSONAL_FIELD_NAMES",
    "LogState",
    "lock_log_state",
    "read_log_state",
    "record_event",
    "record_events",
]

PERSONAL_FIELD_NAMES: Final = frozenset(
    {
        "name", "full_name", "national_id", "id_number", "phone", "phone_number", "mobile", "email",
        "address", "address_line", "employer", "monthly_income", "income", "contact_name",
        "contact_phone", "emergency_contact",
    }
)  # fmt: skip
"""Keys that name personal fields; their values may not enter a hashed entry in the clear."""

_COMMITMENT_PREFIX: Final = "sha256:"
_FIELDS: Final = frozenset(
    {"actor", "action", "subject_type", "subject_id", "at", "before", "after", "details"}
)
_LIMITS: Final = {"actor": 64, "action": 64, "subject_type": 32, "subject_id": 64}
_COLUMNS: Final = "seq, at, actor, action, subject_type, subject_id, payload, entry, leaf_hash"
_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)  # the canonical form of arrears.audit.canonical.canonical_json


@dataclass(frozen=True, slots=True)
class LogState:
    """The log's size, compact range and last leaf hash, as stored in its state row."""

    tree_size: int
    compact_range: tuple[bytes, ...]
    last_leaf_hash: bytes

    def accumulator(self) -> MerkleAccumulator:
        """An accumulator that resumes appending after the last event."""
        return MerkleAccumulator.from_compact_range(self.tree_size, self.compact_range)


def _state_from_row(row: Any) -> LogState:
    if row is None:
        raise ConfigurationError(
            "the audit log has no state row; run `arrears db upgrade`", table="audit_log_state"
        )
    packed = bytes(row[1])
    hashes = tuple(packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE))
    return LogState(tree_size=int(row[0]), compact_range=hashes, last_leaf_hash=bytes(row[2]))


def lock_log_state(conn: Connection) -> LogState:
    """Lock the state row for the rest of the transaction and return it.

    The ``UPDATE`` takes the row lock on PostgreSQL (a concurrent writer waits, then reads the state
    the first one committed) and the write lock on SQLite, whatever the transaction began with.
    """
    row = conn.execute(
        text(
            "UPDATE audit_log_state SET version = version + 1 WHERE id = :id "
            "RETURNING tree_size, compact_range, last_leaf_hash"
        ),
        {"id": STATE_ROW_ID},
    ).first()
    return _state_from_row(row)


def read_log_state(conn: Connection) -> LogState:
    """The state row as it stands, without locking it."""
    row = conn.execute(
        text("SELECT tree_size, compact_range, last_leaf_hash FROM audit_log_state WHERE id = :id"),
        {"id": STATE_ROW_ID},
    ).first()
    return _state_from_row(row)


def _check_personal(section: str, values: Mapping[str, Any]) -> None:
    for key in values.keys() & PERSONAL_FIELD_NAMES:
        value = values[key]
        if value is None or (isinstance(value, str) and value.startswith(_COMMITMENT_PREFIX)):
            continue
        raise ValidationError(
            f"{section}.{key} is personal data and cannot go into the audit log; record the record id "
            "or a salted commitment instead",
            field=f"{section}.{key}",
        )


def _prepare(event: Mapping[str, Any], *, postgresql: bool) -> tuple[tuple[Any, ...], bytes]:
    """The column values (without seq, entry, leaf hash) and the canonical body of one event."""
    if not event.keys() <= _FIELDS:
        unknown = sorted(set(event) - _FIELDS)
        raise ValidationError(f"unknown audit event fields: {', '.join(unknown)}", field="event")
    try:
        actor, action = event["actor"], event["action"]
        subject_type, subject_id, at = event["subject_type"], event["subject_id"], event["at"]
    except KeyError as exc:
        raise ValidationError(f"an audit event needs {exc.args[0]}", field=str(exc.args[0])) from None
    for name, limit in _LIMITS.items():
        value = event[name]
        if not isinstance(value, str) or not value or len(value) > limit:
            raise ValidationError(
                f"an audit event's {name} is text of 1 to {limit} characters", field=name, value=str(value)
            )
    if not isinstance(at, dt.datetime):
        raise ValidationError("an audit event's at is an aware datetime", field="at")
    before, after, details = event.get("before"), event.get("after"), event.get("details")
    for section, values in (("before", before), ("after", after), ("details", details)):
        if values:
            _check_personal(section, values)
    stamp = format_timestamp(at)
    document = {
        "action": action,
        "actor": actor,
        "after": to_canonical_value(after, "after"),
        "at": stamp,
        "before": to_canonical_value(before, "before"),
        "details": to_canonical_value(dict(details or {}), "details"),
        "subject": f"{subject_type}:{subject_id}",
    }
    # The payload column holds the same document as the hashed body (one encoding, searchable).
    payload = _ENCODER.encode(document)
    # SQLite keeps UtcDateTime values as naive UTC text: the canonical stamp without its "T" and "Z".
    stored_at = at if postgresql else f"{stamp[:10]} {stamp[11:26]}"
    return (stored_at, actor, action, subject_type, subject_id, payload), payload.encode("utf-8")


def _insert_rows(conn: Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY audit_events ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    cursor = raw.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO audit_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    finally:
        cursor.close()


def _append(session: Session, events: Sequence[Mapping[str, Any]]) -> range:
    postgresql = session.get_bind().dialect.name == "postgresql"
    prepared = [_prepare(event, postgresql=postgresql) for event in events]  # refuse bad input first
    # Whatever the caller has pending is written first, as before: the event follows the change.
    session.flush()
    if not prepared:
        return range(0)
    conn = session.connection()
    state = lock_log_state(conn)
    accumulator = state.accumulator()
    previous = state.last_leaf_hash if state.tree_size else GENESIS_PREVIOUS
    first = state.tree_size
    rows: list[tuple[Any, ...]] = []
    append = accumulator.append
    for offset, (columns, body) in enumerate(prepared):
        seq = first + offset
        entry = encode_entry(index=seq, previous=previous, body=body)
        previous = leaf_hash(entry)
        append(previous)
        rows.append((seq, *columns, entry, previous))
    _insert_rows(conn, rows)
    conn.execute(
        text(
            "UPDATE audit_log_state SET tree_size = :size, compact_range = :compact, "
            "last_leaf_hash = :last WHERE id = :id"
        ),
        {
            "size": accumulator.size,
            "compact": b"".join(accumulator.compact_range),
            "last": previous,
            "id": STATE_ROW_ID,
        },
    )
    return range(first, accumulator.size)


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    at: dt.datetime,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> int:
    """Append one audit event in the caller's transaction and return its leaf index.

    ``before``/``after``/``details`` must not hold raw personal data (see the module docstring); a value
    without a canonical form (a float, a naive datetime) is a :class:`ValidationError`.
    """
    appended = _append(
        session,
        [
            {
                "actor": actor,
                "action": action,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "at": at,
                "before": before,
                "after": after,
                "details": details,
            }
        ],
    )
    return appended[0]


def record_events(session: Session, events: Sequence[Mapping[str, Any]]) -> range:
    """Append many events in order, in bulk; each mapping has the keyword arguments of :func:`record_event`.

    Returns the leaf indexes given to them. Every event is checked before any is written, so one bad
    event leaves the log untouched.
    """
    return _append(session, events)
