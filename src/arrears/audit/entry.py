"""The leaf of the audit log: an event's canonical JSON framed with its position and its predecessor.

RFC 6962 hashes a binary ``MerkleTreeLeaf`` structure rather than bare data (§3.4); the audit log does
the same so that an entry says where it belongs::

    version (1 byte, v1 = 1) || index (uint64, big-endian) || previous leaf hash (32 bytes)
    || canonical JSON of the event (see :mod:`arrears.audit.canonical`)

The index binds an entry to its place in the log, so an event moved, removed or inserted is noticed at
that place, not only as a different root. The previous leaf hash chains each entry to the one before
it (32 zero bytes for the first), so an entry rewritten together with its stored leaf hash is still
noticed, by its successor. The Merkle tree over these entries is exactly RFC 6962's; the framing only
decides what the entries are.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from arrears.audit.canonical import format_timestamp, to_canonical_value
from arrears.audit.merkle import HASH_SIZE
from arrears.errors import ValidationError

__all__ = [
    "ENTRY_HEADER",
    "ENTRY_VERSION",
    "GENESIS_PREVIOUS",
    "HEADER_SIZE",
    "DecodedEntry",
    "decode_entry",
    "encode_entry",
    "event_body",
]

ENTRY_VERSION: Final = 1
HEADER_SIZE: Final = 1 + 8 + HASH_SIZE
GENESIS_PREVIOUS: Final = bytes(HASH_SIZE)
"""The "previous leaf hash" of the first entry of the log."""

ENTRY_HEADER: Final = struct.Struct(">BQ")
"""The version byte and the big-endian index that start every entry (the previous hash follows)."""
_HEADER: Final = ENTRY_HEADER


def event_body(
    *,
    actor: str,
    action: str,
    subject: str,
    at: datetime,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    details: Mapping[str, Any] | None,
) -> bytes:
    """The canonical JSON of one event; the same bytes as ``canonical.AuditEvent(...).canonical_bytes()``."""
    for name, value in (("actor", actor), ("action", action), ("subject", subject)):
        if not value:
            raise ValidationError(f"an audit event needs a non-empty {name}", field=name)
    document = {
        "action": action,
        "actor": actor,
        "after": to_canonical_value(after, "after"),
        "at": format_timestamp(at),
        "before": to_canonical_value(before, "before"),
        "details": to_canonical_value(details or {}, "details"),
        "subject": subject,
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def encode_entry(*, index: int, previous: bytes, body: bytes) -> bytes:
    """The leaf entry of event ``index`` whose predecessor's leaf hash is ``previous``."""
    if not 0 <= index < 2**64:
        raise ValidationError(f"leaf index {index} is out of range", field="index")
    if len(previous) != HASH_SIZE:
        raise ValidationError(f"a previous leaf hash is {HASH_SIZE} bytes", field="previous")
    return _HEADER.pack(ENTRY_VERSION, index) + previous + body


@dataclass(frozen=True, slots=True)
class DecodedEntry:
    """The parts of a leaf entry."""

    index: int
    previous: bytes
    body: bytes

    def event(self) -> dict[str, Any]:
        """The event as the JSON object that was hashed."""
        value: dict[str, Any] = json.loads(self.body)
        return value


def decode_entry(entry: bytes) -> DecodedEntry:
    """Split a leaf entry; a malformed one is a :class:`ValidationError`."""
    if len(entry) < HEADER_SIZE or entry[0] != ENTRY_VERSION:
        raise ValidationError("not an audit log entry of version 1", field="entry")
    _version, index = _HEADER.unpack_from(entry)
    return DecodedEntry(index=index, previous=bytes(entry[9:HEADER_SIZE]), body=bytes(entry[HEADER_SIZE:]))
