"""Tables of the privacy capability: sharing agreements, consents, legal holds, erasures, key rotations.

None of them holds personal data: they refer to debtors by id. Created by migration 0003.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.store.tables import Base, UtcDateTime

__all__ = ["Consent", "DataAgreement", "Erasure", "KeyRotationRun", "LegalHold"]

_ID = BigInteger().with_variant(Integer, "sqlite")


class DataAgreement(Base):
    """A written agreement with a counterparty that personal data may be shared under."""

    __tablename__ = "data_agreements"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    counterparty: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    jurisdiction: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(128))
    signed_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Consent(Base):
    """A debtor's separate consent to have their data provided to a counterparty (or to any, if null)."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    counterparty: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[str] = mapped_column(String(128))
    given_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class LegalHold(Base):
    """While a hold is in place the debtor's data is neither erased nor anonymised."""

    __tablename__ = "legal_holds"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    placed_by: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Erasure(Base):
    """That a debtor's personal data was erased, when, by whom and why (no personal data itself)."""

    __tablename__ = "erasures"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), unique=True)
    basis: Mapped[str] = mapped_column(String(16))  # request | retention
    reason: Mapped[str] = mapped_column(Text)
    erased_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(64))


class KeyRotationRun(Base):
    """Progress of one re-encryption under a new active key; a rerun continues from ``cursors``."""

    __tablename__ = "key_rotation_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    cursors: Mapped[dict[str, Any]] = mapped_column(JSON)
    rows_rotated: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
