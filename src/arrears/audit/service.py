"""Use cases of the audit log: signed tree heads, inclusion proofs, export, search.

Writing events is :mod:`arrears.audit.log`; checking the whole log is :mod:`arrears.audit.verify`.
Services take the caller's session or connection and never commit.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from arrears.audit.entry import decode_entry
from arrears.audit.log import lock_log_state, record_event
from arrears.audit.merkle import MerkleAccumulator, verify_inclusion
from arrears.audit.tables import AuditTreeHead
from arrears.audit.tree_head import (
    SignedTreeHead,
    export_public_key,
    load_public_key,
    parse_tree_head,
    sign_tree_head,
    verify_tree_head,
)
from arrears.errors import NotFoundError, ValidationError

__all__ = [
    "EXPORT_FORMAT",
    "EventView",
    "InclusionProof",
    "StoredTreeHead",
    "export_tree_heads",
    "issue_checkpoint",
    "latest_tree_head",
    "list_events",
    "list_tree_heads",
    "parse_tree_heads",
    "prove_event",
    "stream_rows",
]

EXPORT_FORMAT: Final = "arrears-tree-heads/1"
"""Value of the ``format`` field of a document written by :func:`export_tree_heads`."""

STREAM_CHUNK: Final = 50_000
_CURSOR_NUMBERS = itertools.count(1)


def stream_rows(
    conn: Connection, sql: str, params: Mapping[str, Any] | None = None
) -> Iterator[Sequence[Any]]:
    """Rows of a query in chunks, with a server-side cursor where the database has one.

    The driver's own cursor is used, without SQLAlchemy rows: on PostgreSQL a binary server-side cursor
    (``bytea`` then arrives as raw bytes instead of hex text, half of what a verification would read and
    decode), on SQLite a plain cursor read in chunks.
    """
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        compiled = (
            text(sql)
            .bindparams(**dict(params or {}))
            .compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        )
        with raw.cursor(name=f"audit_stream_{next(_CURSOR_NUMBERS)}", binary=True) as cursor:
            cursor.itersize = STREAM_CHUNK
            cursor.execute(str(compiled))
            while chunk := cursor.fetchmany(STREAM_CHUNK):
                yield chunk
        return
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, dict(params or {}))
            while chunk := cursor.fetchmany(STREAM_CHUNK):
                yield chunk
        finally:
            cursor.close()
        return
    result = conn.execution_options(stream_results=True, max_row_buffer=STREAM_CHUNK).execute(
        text(sql), dict(params or {})
    )
    yield from result.partitions(STREAM_CHUNK)


@dataclass(frozen=True, slots=True)
class StoredTreeHead:
    """A signed tree head as stored: its row id, the head, the signer's public key and who asked for it."""

    id: int
    head: SignedTreeHead
    public_key_pem: str
    issued_by: str

    @property
    def tree_size(self) -> int:
        """Number of events the head covers."""
        return self.head.tree_size

    def public_key(self) -> Ed25519PublicKey:
        """The public key stored with the head (trust it only if you obtained it elsewhere too)."""
        return load_public_key(self.public_key_pem)


_HEAD_COLUMNS: Final = "id, tree_size, root_hash, signed_at, key_id, signature, public_key, issued_by"


def _head_from_row(row: Sequence[Any]) -> StoredTreeHead:
    signed_at = row[3]
    if isinstance(signed_at, str):
        signed_at = dt.datetime.fromisoformat(signed_at)
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=dt.UTC)
    head = SignedTreeHead(
        tree_size=int(row[1]),
        root_hash=bytes(row[2]),
        timestamp=signed_at.astimezone(dt.UTC),
        signature=bytes(row[5]),
        key_id=row[4],
    )
    return StoredTreeHead(id=int(row[0]), head=head, public_key_pem=row[6], issued_by=row[7])


def list_tree_heads(conn: Connection) -> list[StoredTreeHead]:
    """Every stored tree head, in the order they were issued."""
    rows = conn.execute(text(f"SELECT {_HEAD_COLUMNS} FROM audit_tree_heads ORDER BY id")).all()
    return [_head_from_row(row) for row in rows]


def latest_tree_head(conn: Connection) -> StoredTreeHead | None:
    """The head covering the most events (the latest issued among equals), or ``None``."""
    row = conn.execute(
        text(f"SELECT {_HEAD_COLUMNS} FROM audit_tree_heads ORDER BY tree_size DESC, id DESC LIMIT 1")
    ).first()
    return None if row is None else _head_from_row(row)


def issue_checkpoint(
    session: Session, *, at: dt.datetime, key: Ed25519PrivateKey, actor: str = "system"
) -> StoredTreeHead:
    """Sign the log as it stands at ``at``, store the head, and record that it was issued.

    The head covers every event committed before this transaction plus those this transaction has
    appended; the ``audit.checkpoint_issued`` event itself comes after it (it is in the next head).
    """
    session.flush()
    conn = session.connection()
    state = lock_log_state(conn)
    root = MerkleAccumulator.from_compact_range(state.tree_size, state.compact_range).root()
    head = sign_tree_head(key, tree_size=state.tree_size, root_hash=root, timestamp=at)
    public_pem = export_public_key(key).decode("ascii")
    row = AuditTreeHead(
        tree_size=head.tree_size,
        root_hash=head.root_hash,
        signed_at=head.timestamp,
        key_id=head.key_id,
        signature=head.signature,
        public_key=public_pem,
        issued_by=actor,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="audit.checkpoint_issued",
        subject_type="audit_tree_head",
        subject_id=str(row.id),
        at=at,
        details={"tree_size": head.tree_size, "root_hash": root.hex(), "key_id": head.key_id},
    )
    return StoredTreeHead(id=row.id, head=head, public_key_pem=public_pem, issued_by=actor)


def export_tree_heads(conn: Connection) -> str:
    """Every stored tree head as one JSON document (each with its signer's public key), for an outside
    party to keep and later hand to ``arrears audit verify --heads``."""
    heads = list_tree_heads(conn)
    document = {
        "format": EXPORT_FORMAT,
        "heads": [stored.head.to_document(stored.public_key()) for stored in heads],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def parse_tree_heads(document: str | bytes) -> list[tuple[SignedTreeHead, Ed25519PublicKey | None]]:
    """Tree heads read back from :func:`export_tree_heads` output, a list of head documents, or one.

    Each comes with the public key embedded in its document, if any. Signatures are not checked here.
    """
    try:
        value = json.loads(document)
    except ValueError as exc:
        raise ValidationError(f"the tree heads file is not JSON: {exc}", field="heads") from None
    if isinstance(value, Mapping) and value.get("format") == EXPORT_FORMAT:
        value = value.get("heads")
    items = value if isinstance(value, list) else [value]
    parsed: list[tuple[SignedTreeHead, Ed25519PublicKey | None]] = []
    for position, item in enumerate(items):
        try:
            head = parse_tree_head(item)
        except ValidationError as exc:
            raise ValidationError(
                f"tree head {position}: {exc.message}", field="heads", position=position
            ) from None
        pem = item.get("public_key") if isinstance(item, Mapping) else None
        parsed.append((head, load_public_key(pem) if isinstance(pem, str) else None))
    return parsed


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An RFC 6962 audit path from one event to the root of a signed tree head, and whether it holds."""

    event_id: int
    index: int
    entry: bytes
    tree_head: StoredTreeHead
    proof: tuple[bytes, ...]
    is_verified: bool
    is_signature_valid: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        head = self.tree_head.head
        return {
            "event_id": self.event_id,
            "leaf_index": self.index,
            "entry": self.entry.hex(),
            "tree_size": head.tree_size,
            "root_hash": head.root_hash.hex(),
            "tree_head_id": self.tree_head.id,
            "signed_at": head.timestamp,
            "key_id": head.key_id,
            "proof": [node.hex() for node in self.proof],
            "verified": self.is_verified,
            "signature_valid": self.is_signature_valid,
        }


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _path_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots form ``PATH(index, D[size])`` (RFC 6962 §2.1.1), leaf upwards."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        split = start + _largest_power_of_two_below(end - start)
        if index < split:
            ranges.append((split, end))
            end = split
        else:
            ranges.append((start, split))
            start = split
    ranges.reverse()
    return ranges


def _range_roots(
    conn: Connection, ranges: Sequence[tuple[int, int]], size: int
) -> dict[tuple[int, int], bytes]:
    """The root of each (disjoint) range of stored leaf hashes, in one pass over the first ``size`` rows."""
    ordered = sorted(ranges)
    roots: dict[tuple[int, int], bytes] = {}
    current = 0
    accumulator = MerkleAccumulator()
    position = 0
    for chunk in stream_rows(
        conn, "SELECT seq, leaf_hash FROM audit_events WHERE seq < :size ORDER BY seq", {"size": size}
    ):
        for seq, stored in chunk:
            if seq != position:
                return roots  # a gap: the proof cannot be built and will not verify
            while current < len(ordered) and position >= ordered[current][1]:
                current += 1
            if current < len(ordered) and ordered[current][0] <= position:
                accumulator.append(bytes(stored))
                if position + 1 == ordered[current][1]:
                    roots[ordered[current]] = accumulator.root()
                    accumulator = MerkleAccumulator()
            position += 1
    return roots


def prove_event(
    conn: Connection,
    *,
    event_id: int,
    trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
) -> InclusionProof:
    """The inclusion proof of event ``event_id`` against the latest signed tree head, verified.

    The proof is built from the stored leaf hashes and checked against the event's entry as stored and
    the head's signed root, so a tampered log gives a proof that does not verify. The signature is
    checked with ``trusted_keys`` when given, else with the key stored next to the head.
    """
    row = conn.execute(text("SELECT seq, entry FROM audit_events WHERE id = :id"), {"id": event_id}).first()
    if row is None:
        raise NotFoundError(f"there is no audit event {event_id}", event_id=event_id)
    index, entry = int(row[0]), bytes(row[1])
    stored = latest_tree_head(conn)
    if stored is None or stored.tree_size <= index:
        raise NotFoundError(
            f"audit event {event_id} (leaf {index}) is not covered by a signed tree head yet; "
            "run `arrears audit checkpoint`",
            event_id=event_id,
        )
    ranges = _path_ranges(index, stored.tree_size)
    roots = _range_roots(conn, ranges, stored.tree_size)
    complete = all(r in roots for r in ranges)
    proof = tuple(roots[r] for r in ranges) if complete else ()
    head = stored.head
    verified = complete and verify_inclusion(entry, index, head.tree_size, proof, head.root_hash)
    keys = trusted_keys if trusted_keys is not None else {head.key_id: stored.public_key()}
    return InclusionProof(
        event_id=event_id,
        index=index,
        entry=entry,
        tree_head=stored,
        proof=proof,
        is_verified=verified,
        is_signature_valid=verify_tree_head(head, keys),
    )


@dataclass(frozen=True, slots=True)
class EventView:
    """One event as its hashed entry states it, with its row id and leaf index."""

    id: int
    index: int
    event: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {"id": self.id, "index": self.index, **self.event}


def list_events(
    conn: Connection,
    *,
    subject: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 50,
) -> list[EventView]:
    """The latest events (newest first), optionally for one subject (``type`` or ``type:id``), actor or
    action. What is shown is decoded from the hashed entry, not from the search columns."""
    if not 1 <= limit <= 10_000:
        raise ValidationError("--limit is between 1 and 10000", field="limit", value=limit)
    clauses: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    if subject:
        subject_type, _, subject_id = subject.partition(":")
        clauses.append("subject_type = :subject_type")
        params["subject_type"] = subject_type
        if subject_id:
            clauses.append("subject_id = :subject_id")
            params["subject_id"] = subject_id
    if actor:
        clauses.append("actor = :actor")
        params["actor"] = actor
    if action:
        clauses.append("action = :action")
        params["action"] = action
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    rows = conn.execute(
        text(f"SELECT id, seq, entry FROM audit_events {where}ORDER BY seq DESC LIMIT :limit"), params
    ).all()
    return [EventView(id=int(r[0]), index=int(r[1]), event=decode_entry(bytes(r[2])).event()) for r in rows]
