"""Tables of the daily cycle: what ran, each account's accrual carry, and the daily position snapshot."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from arrears.store.tables import Base, UtcDateTime

__all__ = ["AccrualCarry", "CycleStepRun", "DailyPosition"]


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
    """Where an account's daily 罚息/复利 accrual stands (see arrears.domain.accrual.AccrualState)."""

    __tablename__ = "accrual_carries"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    last_accrued_on: Mapped[dt.date] = mapped_column(Date)
    penalty_carry_units: Mapped[str] = mapped_column(String(64))
    compound_carry_units: Mapped[str] = mapped_column(String(64))


class DailyPosition(Base):
    """Each open account's position at the end of a cycle day: the snapshot KPIs are computed from."""

    __tablename__ = "daily_positions"
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
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
