"""Tables of the strategy engine: published versions with their history, segment entries, experiment arms.

Declared on :class:`arrears.store.tables.Base`; created by migration 0006.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from arrears.store.tables import Base, UtcDateTime

__all__ = ["ExperimentAssignment", "SegmentEntry", "StrategyVersion"]

_ID = BigInteger().with_variant(Integer, "sqlite")


class StrategyVersion(Base):
    """One published version of a strategy: the exact text, who published it and when. Never edited."""

    __tablename__ = "strategy_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    __table_args__ = (UniqueConstraint("strategy_id", "number", name="uq_strategy_versions_strategy_number"),)


class SegmentEntry(Base):
    """An account's stay in a segment: entered on a date, left on a later one (open while ``left_on`` is null)."""

    __tablename__ = "segment_entries"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[int] = mapped_column(_ID)  # no per-row key check (migration 0011)
    strategy_id: Mapped[str] = mapped_column(String(64))
    segment_id: Mapped[str] = mapped_column(String(64))
    strategy_version_id: Mapped[int] = mapped_column(Integer)  # checked once per write (migration 0013)
    entered_on: Mapped[dt.date] = mapped_column(Date)
    left_on: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        UniqueConstraint("account_id", "strategy_id", "entered_on", name="uq_segment_entries_account_day"),
        Index("ix_segment_entries_open", "strategy_id", "left_on"),
    )


class ExperimentAssignment(Base):
    """The arm an account was put in for an experiment; written once, kept for outcome comparison."""

    __tablename__ = "experiment_assignments"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[int] = mapped_column(_ID)  # no per-row key check (migration 0011)
    experiment_id: Mapped[str] = mapped_column(String(64))
    variant_id: Mapped[str] = mapped_column(String(64))
    is_control: Mapped[bool] = mapped_column(default=False)
    strategy_version_id: Mapped[int] = mapped_column(Integer)  # checked once per write (migration 0013)
    assigned_on: Mapped[dt.date] = mapped_column(Date)
    __table_args__ = (
        UniqueConstraint("account_id", "experiment_id", name="uq_experiment_assignments_account_experiment"),
    )
