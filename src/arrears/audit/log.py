"""Writing audit events: the one function every state change calls, inside its own transaction.

``record_event`` appends one event through the caller's session (so it commits or rolls back with the
change it describes). ``record_events`` appends many in one go for batch work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from arrears.store import tables

__all__ = ["record_event", "record_events"]


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
) -> None:
    """Append one audit event. ``before``/``after``/``details`` must not hold raw personal data."""
    session.add(
        tables.AuditEvent(
            at=at,
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            payload={"before": before, "after": after, "details": dict(details or {})},
        )
    )
    session.flush()


def record_events(session: Session, events: Sequence[Mapping[str, Any]]) -> None:
    """Append many events; each mapping has the keyword arguments of :func:`record_event`."""
    for event in events:
        record_event(session, **event)
