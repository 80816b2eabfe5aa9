"""Writing audit events: the one function every state change calls, inside its own transaction.

``record_event`` appends one event through the caller's session (so it commits or rolls back with the
change it describes). ``record_events`` appends many in one go for batch work, and
``record_event_frame`` appends one event per row of a Polars frame, its documents encoded over whole
columns (the same bytes as ``record_events`` would write for the same events).

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
import hashlib
import json
import json.encoder
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from arrears.audit.canonical import format_timestamp, to_canonical_value
from arrears.audit.entry import ENTRY_HEADER as _ENTRY_HEADER
from arrears.audit.entry import ENTRY_VERSION, GENESIS_PREVIOUS, encode_entry
from arrears.audit.merkle import HASH_SIZE, MerkleAccumulator, leaf_hash
from arrears.audit.tables import STATE_ROW_ID
from arrears.errors import ConfigurationError, ValidationError
from arrears.store.bulk import insert_frame

__all__ = [
    "PERSONAL_FIELD_NAMES",
    "LogState",
    "lock_log_state",
    "read_log_state",
    "record_event",
    "record_event_frame",
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
_REQUIRED: Final = frozenset({"actor", "action", "subject_type", "subject_id", "at"})
_LIMITS: Final = {"actor": 64, "action": 64, "subject_type": 32, "subject_id": 64}  # as in _prepare_many
_COLUMNS: Final = "seq, at, actor, action, subject_type, subject_id, entry, leaf_hash"
_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)  # the canonical form of arrears.audit.canonical.canonical_json


_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
# The C encoder behind _ENCODER.encode, with _ENCODER's settings, built once instead of once per call.
_encode_chunks: Any = (
    None
    if _make_encoder is None
    else _make_encoder(None, None, json.encoder.encode_basestring, None, ":", ",", True, False, False)
)


def _encode(value: Any) -> str:
    """``_ENCODER.encode(value)`` for a value in canonical form."""
    if _encode_chunks is None:  # pragma: no cover - interpreters without the C accelerator
        return _ENCODER.encode(value)
    return "".join(_encode_chunks(value, 0))


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
    """The search column values (without seq, entry, leaf hash) and the canonical body of one event."""
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
    body = _ENCODER.encode(document)
    # SQLite keeps UtcDateTime values as naive UTC text: the canonical stamp without its "T" and "Z".
    stored_at = at if postgresql else f"{stamp[:10]} {stamp[11:26]}"
    return (stored_at, actor, action, subject_type, subject_id), body.encode("utf-8")


def _is_plain(value: Any) -> bool:
    """Whether ``value`` is already in canonical form: exact ``str``/``int``/``bool``/``None``,
    string-keyed ``dict`` and ``list`` of those. Such a value encodes to the same bytes as its
    :func:`~arrears.audit.canonical.to_canonical_value`, which would only copy it."""
    kind = type(value)
    items: Any
    if kind is dict:
        for key in value:
            if type(key) is not str:
                return False
        items = value.values()
    elif kind is list:
        items = value
    else:
        return kind is str or kind is int or kind is bool or value is None
    for item in items:
        item_kind = type(item)
        if item_kind is str or item_kind is int or item_kind is bool or item is None:
            continue
        if not _is_plain(item):
            return False
    return True


def _prepare_many(
    events: Sequence[Mapping[str, Any]], *, postgresql: bool
) -> tuple[list[tuple[Any, ...]], list[bytes], list[str]]:
    """:func:`_prepare` of every event, with what consecutive events share formatted once.

    An event of the common shape (a ``dict`` with known keys, exact ``str`` names within their limits,
    an aware ``datetime``, formatted once while the next event holds the same object) is checked
    inline, in :func:`_prepare`'s order, and a section already in canonical form is encoded as it is;
    anything else goes through :func:`_prepare`, which also raises every error. The body is the
    canonical encoder's output for the same document, joined from its parts in its sorted key order,
    so the bytes are those of :func:`_prepare` (``tests/unit/audit/test_log_batch.py`` checks it).
    Also returns each event's time stamp (canonical RFC 3339 UTC text).
    """
    columns: list[tuple[Any, ...]] = []
    bodies: list[bytes] = []
    stamps: list[str] = []
    add_columns, add_body, add_stamp = columns.append, bodies.append, stamps.append
    encode = _encode
    fields, required, personal = _FIELDS, _REQUIRED, PERSONAL_FIELD_NAMES
    at: Any = None  # the last ``at`` object prepared, with its stamp and stored value
    stamp = middle = head = ""
    stored_at: Any = None
    head_action: Any = None  # the action and actor that ``head`` encodes
    head_actor: Any = None
    quote = json.encoder.encode_basestring
    for event in events:
        if type(event) is dict:
            keys = event.keys()
            if keys <= fields and keys >= required:
                actor, action = event["actor"], event["action"]
                subject_type, subject_id = event["subject_type"], event["subject_id"]
                event_at = event["at"]
                if (
                    (event_at is at or (type(event_at) is dt.datetime and event_at.utcoffset() is not None))
                    and type(actor) is str
                    and 0 < len(actor) <= 64
                    and type(action) is str
                    and 0 < len(action) <= 64
                    and type(subject_type) is str
                    and 0 < len(subject_type) <= 32
                    and type(subject_id) is str
                    and 0 < len(subject_id) <= 64
                ):
                    if event_at is not at:
                        at, stamp = event_at, format_timestamp(event_at)
                        stored_at = at if postgresql else f"{stamp[:10]} {stamp[11:26]}"
                        middle = ',"at":' + quote(stamp) + ',"before":'
                    get = event.get
                    before, after, details = get("before"), get("after"), get("details")
                    # Personal fields first, then canonical values: _prepare's order of errors.
                    if before and not (type(before) is dict and personal.isdisjoint(before)):
                        _check_personal("before", before)
                    if after and not (type(after) is dict and personal.isdisjoint(after)):
                        _check_personal("after", after)
                    if details and not (type(details) is dict and personal.isdisjoint(details)):
                        _check_personal("details", details)
                    if action != head_action or actor != head_actor:
                        head_action, head_actor = action, actor
                        head = '{"action":' + quote(action) + ',"actor":' + quote(actor) + ',"after":'
                    # The canonical encoder's output for the whole document, put together from its
                    # parts in its (sorted) key order; sections in _prepare's order of conversion.
                    after = after if _is_plain(after) else to_canonical_value(after, "after")
                    before = before if _is_plain(before) else to_canonical_value(before, "before")
                    if type(details) is not dict or not _is_plain(details):
                        details = to_canonical_value(dict(details or {}), "details")
                    document = "".join(
                        (
                            head,
                            "null" if after is None else encode(after),
                            middle,
                            "null" if before is None else encode(before),
                            ',"details":',
                            encode(details),
                            ',"subject":',
                            quote(f"{subject_type}:{subject_id}"),
                            "}",
                        )
                    )
                    add_columns((stored_at, actor, action, subject_type, subject_id))
                    add_body(document.encode("utf-8"))
                    add_stamp(stamp)
                    continue
        column_values, body = _prepare(event, postgresql=postgresql)
        add_columns(column_values)
        add_body(body)
        if event["at"] is not at:
            at = event["at"]
            stamp = format_timestamp(at)
            stored_at = column_values[0]
            middle = ',"at":' + quote(stamp) + ',"before":'
        add_stamp(stamp)
    return columns, bodies, stamps


def _chain(
    first: int, previous: bytes, compact_range: Sequence[bytes], bodies: Sequence[bytes]
) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """The entries and leaf hashes of ``bodies`` appended after leaf ``first - 1``, and the new compact range.

    The same values as :func:`~arrears.audit.entry.encode_entry`, :func:`~arrears.audit.merkle.leaf_hash`
    and :meth:`~arrears.audit.merkle.MerkleAccumulator.append` one event at a time: the compact range is
    a binary counter over the tree size (one subtree root per set bit, largest first), so appending leaf
    ``n`` merges as many roots as ``n`` has trailing one bits.
    """
    if first + len(bodies) > 2**64:
        raise ValidationError(f"leaf index {max(first, 2**64)} is out of range", field="index")
    sha256 = hashlib.sha256
    pack = _ENTRY_HEADER.pack
    hashes = list(compact_range)
    pop, push = hashes.pop, hashes.append
    entries: list[bytes] = []
    leaves: list[bytes] = []
    add_entry, add_leaf = entries.append, leaves.append
    seq = first
    for body in bodies:
        entry = pack(ENTRY_VERSION, seq) + previous + body
        previous = sha256(b"\x00" + entry).digest()
        add_entry(entry)
        add_leaf(previous)
        current, carry = previous, seq
        while carry & 1:
            current = sha256(b"\x01" + pop() + current).digest()
            carry >>= 1
        push(current)
        seq += 1
    return entries, leaves, hashes


def _insert_events(
    conn: Connection,
    first: int,
    columns: Sequence[tuple[Any, ...]],
    stamps: Sequence[str],
    entries: Sequence[bytes],
    leaves: Sequence[bytes],
) -> None:
    """Write the events as columns with :func:`arrears.store.bulk.insert_frame`.

    PostgreSQL's COPY gets ``at`` as its stamp from ``stamps`` (the same instant as the datetime);
    SQLite gets the values :func:`_prepare` made (naive UTC text).
    """
    stored_at, actors, actions, subject_types, subject_ids = zip(*columns, strict=True)
    at = stamps if conn.dialect.name == "postgresql" else stored_at
    values = pl.DataFrame(
        [
            pl.Series("at", at, dtype=pl.String),
            pl.Series("actor", actors, dtype=pl.String),
            pl.Series("action", actions, dtype=pl.String),
            pl.Series("subject_type", subject_types, dtype=pl.String),
            pl.Series("subject_id", subject_ids, dtype=pl.String),
        ]
    )
    _insert_event_frame(conn, first, values, entries, leaves)


def _insert_event_frame(
    conn: Connection, first: int, values: pl.DataFrame, entries: Sequence[bytes], leaves: Sequence[bytes]
) -> None:
    """Write events whose ``at`` (as the database takes it), actor, action and subject are the columns
    of ``values``, with their entries and leaf hashes; the hashes go to PostgreSQL's COPY as ``bytea``
    hex text."""
    if conn.dialect.name == "postgresql":
        entry_column = pl.Series("entry", ["\\x" + entry.hex() for entry in entries], dtype=pl.String)
        leaf_column = pl.Series("leaf_hash", ["\\x" + leaf.hex() for leaf in leaves], dtype=pl.String)
    else:
        entry_column = pl.Series("entry", entries, dtype=pl.Binary)
        leaf_column = pl.Series("leaf_hash", leaves, dtype=pl.Binary)
    frame = values.select(
        pl.Series("seq", range(first, first + len(entries)), dtype=pl.Int64),
        "at",
        "actor",
        "action",
        "subject_type",
        "subject_id",
    ).with_columns(entry_column, leaf_column)
    insert_frame(conn, "audit_events", frame)


def _insert_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write rows of :data:`_COLUMNS` one by one (the path of :func:`record_event`)."""
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY audit_events ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    cursor = raw.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO audit_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    finally:
        cursor.close()


def _append(session: Session, events: Sequence[Mapping[str, Any]], *, one_by_one: bool = False) -> range:
    """Append ``events``; ``one_by_one`` takes the per-event path (each event prepared, framed, hashed
    and written by itself), which the batch path must match byte for byte."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if one_by_one:
        prepared = [_prepare(event, postgresql=postgresql) for event in events]  # refuse bad input first
        columns, bodies = [c for c, _ in prepared], [b for _, b in prepared]
    else:
        columns, bodies, stamps = _prepare_many(events, postgresql=postgresql)
    # Whatever the caller has pending is written first, as before: the event follows the change.
    session.flush()
    if not bodies:
        return range(0)
    conn = session.connection()
    state = lock_log_state(conn)
    first = state.tree_size
    previous = state.last_leaf_hash if first else GENESIS_PREVIOUS
    if not one_by_one:
        entries, leaves, compact = _chain(first, previous, state.compact_range, bodies)
        _insert_events(conn, first, columns, stamps, entries, leaves)
        return _store_state(conn, first, len(bodies), compact, leaves[-1])
    accumulator = state.accumulator()
    rows: list[tuple[Any, ...]] = []
    for offset, (values, body) in enumerate(zip(columns, bodies, strict=True)):
        entry = encode_entry(index=first + offset, previous=previous, body=body)
        previous = leaf_hash(entry)
        accumulator.append(previous)
        rows.append((first + offset, *values, entry, previous))
    _insert_rows(conn, rows)
    return _store_state(conn, first, len(bodies), accumulator.compact_range, previous)


def _store_state(conn: Connection, first: int, count: int, compact: Sequence[bytes], last: bytes) -> range:
    """Record the log's new size, compact range and last leaf hash; returns the appended leaf indexes."""
    size = first + count
    conn.execute(
        text(
            "UPDATE audit_log_state SET tree_size = :size, compact_range = :compact, "
            "last_leaf_hash = :last WHERE id = :id"
        ),
        {"size": size, "compact": b"".join(compact), "last": last, "id": STATE_ROW_ID},
    )
    return range(first, size)


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
        one_by_one=True,
    )
    return appended[0]


def record_events(session: Session, events: Sequence[Mapping[str, Any]]) -> range:
    """Append many events in order, in bulk; each mapping has the keyword arguments of :func:`record_event`.

    Returns the leaf indexes given to them. Every event is checked before any is written, so one bad
    event leaves the log untouched.
    """
    return _append(session, events)


_SECTIONS: Final = ("before", "after", "details")
_TEXT_COLUMNS: Final = ("actor", "action", "subject_type", "subject_id")


def _canonical_column(expr: pl.Expr, dtype: Any, path: str) -> pl.Expr:
    """``expr`` (of ``dtype``) with every struct's fields in sorted order, so that Polars' JSON writer
    gives the canonical form; types without one (reals, dates, bytes...) are refused by ``path``."""
    if isinstance(dtype, pl.Struct):
        fields = sorted(dtype.fields, key=lambda field: field.name)
        rebuilt = pl.struct(
            [
                _canonical_column(expr.struct.field(f.name), f.dtype, f"{path}.{f.name}").alias(f.name)
                for f in fields
            ]
        )
        return pl.when(expr.is_null()).then(None).otherwise(rebuilt)
    if isinstance(dtype, pl.List):
        inner = dtype.inner
        if isinstance(inner, pl.Struct | pl.List):
            return expr.list.eval(_canonical_column(pl.element(), inner, f"{path}[]"))
        _canonical_column(pl.element(), inner, f"{path}[]")  # checks the element type
        return expr
    if dtype in (pl.String, pl.Boolean, pl.Null) or dtype.is_integer():
        return expr
    raise ValidationError(
        f"{path}: {dtype} has no canonical form in an audit event; use text (dates, decimals) or "
        "integer minor units",
        field=path,
    )


def _section_json(frame: pl.DataFrame, section: str) -> pl.Expr:
    """The canonical JSON text of each row's ``section`` (a struct column; absent or null: ``null``,
    or ``{}`` for details), after refusing personal fields held in the clear."""
    if section not in frame.columns or frame.schema[section] == pl.Null:
        return pl.lit("{}" if section == "details" else "null")
    dtype = frame.schema[section]
    if not isinstance(dtype, pl.Struct):
        raise ValidationError(f"an audit event's {section} is a struct column, not {dtype}", field=section)
    for field in dtype.fields:
        if field.name not in PERSONAL_FIELD_NAMES:
            continue
        values = frame.get_column(section).struct.field(field.name)
        clear = values.is_not_null()  # only null or a commitment (text) may stand under such a name
        if field.dtype == pl.String:
            clear &= ~values.str.starts_with(_COMMITMENT_PREFIX)
        if clear.any():
            raise ValidationError(
                f"{section}.{field.name} is personal data and cannot go into the audit log; record the "
                "record id or a salted commitment instead",
                field=f"{section}.{field.name}",
            )
    encoded = _canonical_column(pl.col(section), dtype, section).struct.json_encode()
    return encoded.fill_null("{}" if section == "details" else "null")


def record_event_frame(session: Session, events: pl.DataFrame, *, at: dt.datetime) -> range:
    """Append one event per row of ``events``, in row order, all at the instant ``at``; returns the
    leaf indexes given to them.

    ``events`` has the text columns ``actor``, ``action``, ``subject_type`` and ``subject_id`` and, as
    struct columns, any of ``before``, ``after`` and ``details`` (a null struct reads as an absent
    section). Each document is the canonical JSON :func:`record_events` writes for the same event, to
    the byte, built over whole columns: struct fields sorted by name, Polars' JSON writer for the
    values (text, integers, flags, nulls, lists and structs of those; other types are refused).
    Every row is checked (text lengths, personal fields in the clear) before anything is written, so
    a bad row leaves the log untouched.
    """
    unknown = sorted(set(events.columns) - set(_TEXT_COLUMNS) - set(_SECTIONS))
    if unknown:
        raise ValidationError(f"unknown audit event fields: {', '.join(unknown)}", field="event")
    for name in _TEXT_COLUMNS:
        if name not in events.columns:
            raise ValidationError(f"an audit event needs {name}", field=name)
        column = events.get_column(name)
        limit = _LIMITS[name]
        fits = column.dtype == pl.String and column.null_count() == 0
        if fits and events.height:
            lengths = column.str.len_chars()
            fits = int(lengths.min()) > 0 and int(lengths.max()) <= limit  # type: ignore[arg-type]
        if not fits:
            raise ValidationError(f"an audit event's {name} is text of 1 to {limit} characters", field=name)
    stamp = format_timestamp(at)
    sections = {section: _section_json(events, section) for section in _SECTIONS}
    postgresql = session.get_bind().dialect.name == "postgresql"
    values = events.select(
        pl.lit(stamp if postgresql else f"{stamp[:10]} {stamp[11:26]}").alias("at"),
        *_TEXT_COLUMNS,
        pl.concat_str(
            [
                pl.lit('{"action":'),
                _json_text("action"),
                pl.lit(',"actor":'),
                _json_text("actor"),
                pl.lit(',"after":'),
                sections["after"],
                pl.lit(',"at":' + json.encoder.encode_basestring(stamp) + ',"before":'),
                sections["before"],
                pl.lit(',"details":'),
                sections["details"],
                pl.lit(',"subject":'),
                _json_text(pl.concat_str([pl.col("subject_type"), pl.lit(":"), pl.col("subject_id")])),
                pl.lit("}"),
            ]
        ).alias("body"),
    )
    session.flush()  # whatever the caller has pending is written first: the event follows the change
    if values.height == 0:
        return range(0)
    bodies = values.get_column("body").cast(pl.Binary).to_list()
    conn = session.connection()
    state = lock_log_state(conn)
    first = state.tree_size
    previous = state.last_leaf_hash if first else GENESIS_PREVIOUS
    entries, leaves, compact = _chain(first, previous, state.compact_range, bodies)
    _insert_event_frame(conn, first, values, entries, leaves)
    return _store_state(conn, first, len(bodies), compact, leaves[-1])


def _json_text(column: str | pl.Expr) -> pl.Expr:
    """A text column as JSON strings (quoted and escaped as the canonical encoder does)."""
    expr = pl.col(column) if isinstance(column, str) else column
    return pl.struct(expr.alias("v")).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}")
