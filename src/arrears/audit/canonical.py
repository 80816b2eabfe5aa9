"""Canonical JSON: the one byte string an audit event is hashed as.

Two processes that describe the same event must produce the same bytes, or the Merkle tree could not
be recomputed from stored events. The encoding is therefore fixed:

* object keys sorted (by code point), no whitespace, UTF-8 without ``\\u`` escapes for non-ASCII;
* ``Decimal`` as a JSON string in plain notation (``"1234.50"``, never ``1.2345E+3``), scale kept;
* aware ``datetime`` as an RFC 3339 string in UTC with microseconds and ``Z``
  (``"2024-05-01T08:00:00.000000Z"``); ``date`` as ``"2024-05-01"``;
* ``StrEnum``/``IntEnum`` members as their values, ``UUID`` as its canonical string, tuples as lists.

Anything that has no single obvious encoding is refused with a :class:`~arrears.errors.ValidationError`:
floats (money is never a float, and float text is not canonical), naive datetimes, non-finite decimals,
sets, bytes and non-string keys.

Personal data must not be written into a hashed entry: erasing it later would break verification. Put a
reference (a record id) or a :func:`salted_commitment` there instead and erase the salt with the data.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final
from uuid import UUID

from arrears.errors import ValidationError

__all__ = [
    "AuditEvent",
    "canonical_json",
    "format_timestamp",
    "new_salt",
    "salted_commitment",
    "to_canonical_value",
]

_SALT_BYTES: Final = 16


def format_timestamp(value: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC with microseconds and ``Z``: ``2024-05-01T08:00:00.000000Z``.

    Raises :class:`ValidationError` for a naive datetime: its instant is unknown.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            "a timestamp in an audit event must carry a time zone", field="at", value=value.isoformat()
        )
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _path_text(path: str) -> str:
    return path or "<root>"


class _NeedsFullRules(Exception):
    """Raised by the fast path on anything it does not handle itself."""


def _fast(value: Any) -> Any:
    """The common shapes (exact ``str``/``int``/``bool``/``None``, string-keyed dicts, lists, finite
    decimals, aware datetimes) converted without building error paths; anything else is handed to the
    full rules, which give the same result or the error with its path.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        result = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NeedsFullRules
            item_kind = type(item)
            result[key] = (
                item
                if item_kind is str or item_kind is int or item_kind is bool or item is None
                else _fast(item)
            )
        return result
    if kind is list or kind is tuple:
        return [_fast(item) for item in value]
    if kind is Decimal and value.is_finite():
        return format(value, "f")
    if kind is datetime and value.utcoffset() is not None:
        return format_timestamp(value)
    raise _NeedsFullRules


def to_canonical_value(value: Any, path: str = "") -> Any:
    """``value`` turned into plain JSON types by the canonical rules (see the module docstring).

    ``path`` names where the value sits, for the error message.
    """
    try:
        return _fast(value)
    except _NeedsFullRules:
        return _full(value, path)


def _full(value: Any, path: str) -> Any:
    # bool before int: True is an int in Python but has its own JSON form.
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return _full(value.value, path)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise ValidationError(
            f"{_path_text(path)}: floats have no canonical form; use Decimal or integer minor units",
            field=_path_text(path),
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError(
                f"{_path_text(path)}: {value} is not a finite number", field=_path_text(path)
            )
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(
                f"{_path_text(path)}: a datetime must carry a time zone", field=_path_text(path)
            )
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(
                    f"{_path_text(path)}: object keys must be strings, not {type(key).__name__}",
                    field=_path_text(path),
                )
            result[key] = _full(item, f"{path}.{key}" if path else key)
        return result
    if isinstance(value, list | tuple):
        return [_full(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise ValidationError(
        f"{_path_text(path)}: a {type(value).__name__} has no canonical JSON form", field=_path_text(path)
    )


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 JSON bytes of ``value`` (sorted keys, no whitespace)."""
    return json.dumps(
        to_canonical_value(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def new_salt() -> bytes:
    """A fresh random salt for :func:`salted_commitment` (16 bytes)."""
    return secrets.token_bytes(_SALT_BYTES)


def salted_commitment(value: str, *, salt: bytes) -> str:
    """A commitment to a personal value that can sit in a hashed audit entry: ``sha256:<hex>``.

    It is ``SHA-256(salt || UTF-8 value)``. While the salt is kept, anyone holding the value and the salt
    can show the entry referred to it; once the salt is erased with the personal data, the commitment
    can no longer be linked back to a person (a short value such as a phone number cannot be guessed
    without the salt), and the audit chain still verifies because the entry itself is unchanged.
    """
    if len(salt) < _SALT_BYTES:
        raise ValidationError(f"a commitment salt must be at least {_SALT_BYTES} bytes", field="salt")
    return "sha256:" + hashlib.sha256(salt + value.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit event as it is hashed into the log: who did what to which subject, when.

    ``before`` and ``after`` hold the changed fields (references, amounts, statuses — never raw personal
    data); ``details`` holds anything else the action needs to be understood (a rule id, a reason code).
    """

    actor: str
    action: str
    subject: str
    at: datetime
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON types, in canonical form."""
        value: dict[str, Any] = to_canonical_value(
            {
                "actor": self.actor,
                "action": self.action,
                "subject": self.subject,
                "at": self.at,
                "before": self.before,
                "after": self.after,
                "details": self.details,
            }
        )
        return value

    def canonical_bytes(self) -> bytes:
        """The exact bytes hashed as this event's Merkle leaf."""
        for name in ("actor", "action", "subject"):
            if not getattr(self, name):
                raise ValidationError(f"an audit event needs a non-empty {name}", field=name)
        return canonical_json(self.to_dict())
