"""Stored compliance decisions: one row per decision taken for a real action.

A row keeps what an auditor and the compliance report need: when, who, for which subject and
channel, the outcome, the rules that fired and the packs (with versions) that judged it, and the
SHA-256 fingerprint of the validated request. The request itself carries contact points and other
personal data, so it is never stored here: the fingerprint lets whoever holds the request prove it
is the one that was judged. Decisions are facts, never edited, so the rows carry no version column.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from arrears.store.tables import Base, UtcDateTime

__all__ = ["ComplianceDecision"]


class ComplianceDecision(Base):
    """One decision of the compliance engine for a contact that was (or was about to be) made."""

    __tablename__ = "compliance_decisions"
    __table_args__ = (
        Index("ix_compliance_decisions_decided_at", "decided_at"),
        Index("ix_compliance_decisions_subject", "subject"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    decided_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    next_allowed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # [{"id": rule id, "outcome": allow|delay|review|block}] in evaluation order.
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # {pack id: pack version} of every pack that judged the request.
    packs: Mapped[dict[str, str]] = mapped_column(JSON)
