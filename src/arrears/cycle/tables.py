"""Tables of the daily cycle: what ran, each account's accrual carry, and the daily position snapshot."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from arrears.store.tables import Base, UtcDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")

__all__ = ["AccrualCarry", "CycleAction", "CycleStepRun", "DailyPosition", "OutboxMessage"]


class CycleStepRun(Base):
    """One step of one day's cycle for one partition, done. Its presence makes the rerun skip it."""

    __tablename__ = "cycle_step_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    step: Mapped[str] = mapped_column(String(32))
    partition: Mapped[int] = mapped_column(Integer)
    partitions: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    __table_args__ = (
        UniqueConstraint("as_of", "step", "partition", name="uq_cycle_step_runs_day_step_part"),
    )


class AccrualCarry(Base):
    """Where an account's daily 罚息/复利 accrual stands (see arrears.domain.accrual.AccrualState).

    Every accruing account's row is rewritten each day: on PostgreSQL pages are filled half way so
    that the new row versions stay on their page (migration ``0012``).
    """

    __tablename__ = "accrual_carries"
    __table_args__ = ({"postgresql_with": {"fillfactor": 50}},)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    last_accrued_on: Mapped[dt.date] = mapped_column(Date)
    penalty_carry_units: Mapped[str] = mapped_column(String(64))
    compound_carry_units: Mapped[str] = mapped_column(String(64))


class DailyPosition(Base):
    """Each open account's position at the end of a cycle day: the snapshot KPIs are computed from."""

    __tablename__ = "daily_positions"
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(_ID, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    dpd: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(8))
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    interest_minor: Mapped[int] = mapped_column(BigInteger)
    penalty_minor: Mapped[int] = mapped_column(BigInteger)
    compound_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    cost_minor: Mapped[int] = mapped_column(BigInteger)
    overdue_minor: Mapped[int] = mapped_column(BigInteger)
    oldest_unpaid_due_on: Mapped[dt.date | None] = mapped_column(Date)


class CycleAction(Base):
    """One action the cycle produced for a day: a contact (with its compliance decision) or an escalation."""

    __tablename__ = "cycle_actions"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date, index=True)
    # Account and debtor are named by ids the cycle has just read; no per-row key check (see
    # migration 0011 and docs/architecture.md, "Keys").
    account_id: Mapped[int] = mapped_column(_ID)
    debtor_id: Mapped[int] = mapped_column(_ID)
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    strategy_id: Mapped[str] = mapped_column(String(64))
    segment: Mapped[str | None] = mapped_column(String(64))
    experiment: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(64))
    day: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(24))
    template: Mapped[str | None] = mapped_column(String(64))
    tone: Mapped[str | None] = mapped_column(String(24))
    priority: Mapped[int | None] = mapped_column(Integer)
    escalate_to: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[int | None] = mapped_column(Integer)
    score_model: Mapped[str | None] = mapped_column(String(64))
    balance_minor: Mapped[int | None] = mapped_column(BigInteger)
    contact_point_id: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(String(16))
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    rules: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16))


class OutboxMessage(Base):
    """A message to send (SMS, email, letter) after the cycle committed; sent by the channel workers."""

    __tablename__ = "outbox_messages"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("cycle_actions.id"), unique=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    account_id: Mapped[int] = mapped_column(_ID)  # no per-row key check (migration 0011)
    channel: Mapped[str] = mapped_column(String(24))
    contact_point_id: Mapped[int] = mapped_column(BigInteger)
    template: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    not_before: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed | cancelled
    idempotency_key: Mapped[str] = mapped_column(String(96), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
