"""Tables of the collection case. Created by migration 0005; money in minor units, aware UTC times.

The case timeline is not a table of its own: it is the audit trail of the case (every service writes
its event with ``subject_type="case"``) together with the contact log.
"""

from __future__ import annotations

import datetime as dt
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

from arrears.store.tables import Base, UtcDateTime

__all__ = [
    "Case",
    "CaseAccount",
    "CaseHold",
    "ClosureRecord",
    "Concession",
    "ContactRecord",
    "DebtItemisation",
    "Dispute",
    "IdentityCheck",
    "LegalMatter",
    "Plan",
    "Promise",
    "case_tables",
]

_ID = BigInteger().with_variant(Integer, "sqlite")


class Case(Base):
    """One debtor's overdue accounts with one creditor, in one currency."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    creditor: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    stage: Mapped[str] = mapped_column(String(24), index=True)
    owner_kind: Mapped[str] = mapped_column(String(16))  # collector | team | agency
    owner: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    stage_changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    identity_verified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_right_party_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    broken_promises: Mapped[int] = mapped_column(Integer, default=0)
    refusals: Mapped[int] = mapped_column(Integer, default=0)
    resolution_reason: Mapped[str | None] = mapped_column(String(32))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    follow_up_until_on: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseAccount(Base):
    __tablename__ = "case_accounts"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    is_excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    excluded_reason: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    __table_args__ = (UniqueConstraint("case_id", "account_id", name="uq_case_accounts_case_account"),)


class CaseHold(Base):
    __tablename__ = "case_holds"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    placed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    placed_by: Mapped[str] = mapped_column(String(64))
    until_on: Mapped[dt.date | None] = mapped_column(Date)
    released_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    released_by: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ContactRecord(Base):
    """One attempt or conversation, outbound or inbound. The endpoint is sealed personal data."""

    __tablename__ = "case_contacts"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    contact_point_id: Mapped[int | None] = mapped_column(ForeignKey("contact_points.id"))
    endpoint: Mapped[str | None] = mapped_column(Text)
    recipient: Mapped[str] = mapped_column(String(24))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    made_by: Mapped[str] = mapped_column(String(16))
    agent: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    recording_ref: Mapped[str | None] = mapped_column(String(256))
    notes: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_case_contacts_debtor_at", "debtor_id", "at"),)


class IdentityCheck(Base):
    __tablename__ = "identity_checks"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    method: Mapped[str] = mapped_column(String(32))
    verified_by: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    is_passed: Mapped[bool] = mapped_column(Boolean)


class DebtItemisation(Base):
    """12 CFR 1006.34(c)(2)(vi)-(viii): the amount on the itemisation date and what changed since."""

    __tablename__ = "debt_itemisations"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    itemisation_on: Mapped[dt.date] = mapped_column(Date)
    as_of_on: Mapped[dt.date] = mapped_column(Date)
    itemisation_minor: Mapped[int] = mapped_column(BigInteger)
    interest_minor: Mapped[int] = mapped_column(BigInteger)
    fees_minor: Mapped[int] = mapped_column(BigInteger)
    payments_minor: Mapped[int] = mapped_column(BigInteger)
    credits_minor: Mapped[int] = mapped_column(BigInteger)
    current_minor: Mapped[int] = mapped_column(BigInteger)
    notice_provided_on: Mapped[dt.date | None] = mapped_column(Date)
    assumed_receipt_on: Mapped[dt.date | None] = mapped_column(Date)
    validation_ends_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Dispute(Base):
    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    form: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    is_within_validation_period: Mapped[bool] = mapped_column(Boolean)
    pauses_collection: Mapped[bool] = mapped_column(Boolean)
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("case_holds.id"))
    verification_sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))  # open | verified
    notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Promise(Base):
    __tablename__ = "promises"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    made_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    paid_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    judged_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Plan(Base):
    """An instalment plan; ``instalments`` is {"due_on": [ISO dates], "amount": [minor units]}."""

    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    instalments: Mapped[dict[str, list[Any]]] = mapped_column(JSON)
    max_sustainable_minor: Mapped[int | None] = mapped_column(BigInteger)
    is_above_affordability: Mapped[bool] = mapped_column(Boolean, default=False)
    override_reason: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    suspended_until_on: Mapped[dt.date | None] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Concession(Base):
    """A waiver (减免) or a settlement offer, with the authority that allowed it."""

    __tablename__ = "concessions"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    concession_minor: Mapped[int] = mapped_column(BigInteger)
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    settlement_minor: Mapped[int | None] = mapped_column(BigInteger)
    pay_by_on: Mapped[dt.date | None] = mapped_column(Date)
    # Waivers: {"account_id": int, "penalty": minor, "compound": minor, "fee": minor}.
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_role: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_role: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class LegalMatter(Base):
    __tablename__ = "legal_matters"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step: Mapped[str] = mapped_column(String(24))
    court: Mapped[str | None] = mapped_column(String(128))
    reference_no: Mapped[str | None] = mapped_column(String(64))
    deadline_on: Mapped[dt.date | None] = mapped_column(Date)
    deadline_label: Mapped[str | None] = mapped_column(String(128))
    is_asset_frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    costs_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    referred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ClosureRecord(Base):
    """结清证明 data: what was owed, paid and waived, and when the debt was resolved."""

    __tablename__ = "closure_records"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    resolved_on: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    paid_minor: Mapped[int] = mapped_column(BigInteger)
    waived_minor: Mapped[int] = mapped_column(BigInteger)
    remaining_minor: Mapped[int] = mapped_column(BigInteger)
    accounts: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


def case_tables() -> list[str]:
    """The names of the tables migration 0005 creates."""
    return [
        "cases", "case_accounts", "case_holds", "case_contacts", "identity_checks", "debt_itemisations",
        "disputes", "promises", "plans", "concessions", "legal_matters", "closure_records",
    ]  # fmt: skip
