"""Tables of work allocation: teams, collectors, queued work, agencies and their placements.

Declared on :class:`arrears.store.tables.Base`; created by migration 0006 and extended by 0008 (the
task fields and idempotency key of work items, collector scores, agency recall rules).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from arrears.store.tables import Base, DecimalText, UtcDateTime

__all__ = ["Agency", "Collector", "Placement", "Team", "WorkItem"]

_ID = BigInteger().with_variant(Integer, "sqlite")


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Collector(Base):
    """A collector with skills (languages, buckets, products) and a daily capacity of work items.

    ``skills`` is ``{"languages": [...], "buckets": [...], "products": [...]}``; a missing or empty list
    means any. ``score`` (higher first) orders collectors for score-based assignment.
    """

    __tablename__ = "collectors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    skills: Mapped[dict[str, Any]] = mapped_column(JSON)
    daily_capacity: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class WorkItem(Base):
    """A call task in a collector's queue; ``touched_at`` drives reassignment of idle work.

    One row per (day, account, action): the unique key makes rebuilding a day's queue add nothing.
    ``collector_id`` is null for work that found no collector with the skills and capacity for it.
    """

    __tablename__ = "work_items"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[int] = mapped_column(_ID)  # no per-row key check (migration 0011)
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("collectors.id"))
    queued_on: Mapped[dt.date] = mapped_column(Date)
    expected_recovery_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    urgency: Mapped[int] = mapped_column(Integer)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    touched_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Added by migration 0008: what the task is, what it was ranked on, and how it ended.
    action_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    case_id: Mapped[int | None] = mapped_column(_ID)
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    pay_probability: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(0), server_default="0")
    language: Mapped[str | None] = mapped_column(String(8))
    bucket: Mapped[str | None] = mapped_column(String(16))
    product: Mapped[str | None] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reassignments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        Index("ix_work_items_collector_status", "collector_id", "status"),
        Index("ix_work_items_account_status", "account_id", "status"),
        UniqueConstraint("queued_on", "account_id", "action_id", name="uq_work_items_day_account_action"),
    )


class Agency(Base):
    """An outside collection agency: commission, placement terms and its compliance paperwork."""

    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    commission_rate: Mapped[Decimal] = mapped_column(DecimalText)
    placement_days: Mapped[int] = mapped_column(Integer)
    # GB/T 45251—2025 requires a periodic compliance evaluation of outsourced collectors;
    # PIPL art. 21 requires a data-processing agreement before personal data is entrusted.
    compliance_evaluated_on: Mapped[dt.date | None] = mapped_column(Date)
    dpa_signed_on: Mapped[dt.date | None] = mapped_column(Date)
    dpa_reference: Mapped[str | None] = mapped_column(Text)
    # Recall rule (migration 0008): recall a placement that brought no payment in this many days.
    recall_idle_days: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Placement(Base):
    """An account placed with an agency on a date, at a commission, until recalled or its term ends."""

    __tablename__ = "placements"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    placed_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    commission_rate: Mapped[Decimal] = mapped_column(DecimalText)
    placed_balance_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    recalled_on: Mapped[dt.date | None] = mapped_column(Date)
    recall_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        Index("ix_placements_account", "account_id"),
        Index("ix_placements_agency_placed", "agency_id", "placed_on"),
    )
