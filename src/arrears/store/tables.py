"""SQLAlchemy tables of arrears.

Conventions: money is an integer count of minor units (``*_minor``) next to an ISO currency; times are
aware UTC (``*_at``, stored through :class:`UtcDateTime`); dates are ``*_on``; rates are exact decimal
text (:class:`DecimalText`) because SQLite's NUMERIC would turn them into floats. Mutable rows carry a
``version`` column used for optimistic locking. Personal fields (names, ID numbers, phones, emails,
addresses, employer, income) are only ever written and read through :mod:`arrears.store.personal`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from arrears.domain.schedule_codec import pack_one, unpack_one

__all__ = [
    "Account",
    "AuditEvent",
    "Base",
    "ContactPoint",
    "Debtor",
    "DecimalText",
    "ImportRun",
    "LedgerEntry",
    "PackedSchedule",
    "Payment",
    "Person",
    "Product",
    "UtcDateTime",
    "metadata",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused; pass an aware datetime")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal kept as text on every database (rates, factors)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return str(Decimal(value))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class PackedSchedule(TypeDecorator[dict[str, list[Any]]]):
    """A contractual schedule stored packed (:mod:`arrears.domain.schedule_codec`), read as a mapping.

    Python sees ``{"due_on": [ISO text, ...], "principal": [...], "interest": [...]}``; bulk paths
    write and read the packed bytes directly (a ``bytes`` value is stored as given).
    """

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None or isinstance(value, bytes | bytearray | memoryview):
            return None if value is None else bytes(value)
        return pack_one(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, list[Any]] | None:
        return None if value is None else unpack_one(bytes(value))


class Base(DeclarativeBase):
    metadata = metadata


class Product(Base):
    """A product definition (currency, rounding, interest and fee rules, waterfall) as versioned data."""

    __tablename__ = "products"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Debtor(Base):
    __tablename__ = "debtors"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    jurisdiction: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    # Personal fields: sealed by arrears.store.personal; *_lookup is the exact-match search key.
    name: Mapped[str] = mapped_column(Text)
    national_id: Mapped[str | None] = mapped_column(Text)
    national_id_lookup: Mapped[str | None] = mapped_column(String(128), index=True)
    employer: Mapped[str | None] = mapped_column(Text)
    monthly_income: Mapped[str | None] = mapped_column(Text)
    address_country: Mapped[str | None] = mapped_column(String(2))
    address_region: Mapped[str | None] = mapped_column(String(64))
    address_city: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Person(Base):
    """Someone on file besides the debtor: spouse, guarantor, emergency contact, attorney."""

    __tablename__ = "persons"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    relation: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ContactPoint(Base):
    __tablename__ = "contact_points"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    kind: Mapped[str] = mapped_column(String(16))  # phone | email | address
    place: Mapped[str] = mapped_column(String(16))  # mobile | home | work | other
    value: Mapped[str] = mapped_column(Text)
    lookup: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"))
    currency: Mapped[str] = mapped_column(String(3))
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    annual_rate: Mapped[Decimal] = mapped_column(DecimalText)
    term_months: Mapped[int] = mapped_column(Integer)
    schedule_method: Mapped[str] = mapped_column(String(24))
    opened_on: Mapped[dt.date] = mapped_column(Date)
    first_due_on: Mapped[dt.date] = mapped_column(Date)
    # The contractual due schedule, in due order: {"due_on": [...], "principal": [...], "interest": [...]}
    # (ISO dates; amounts in minor units), stored packed (PackedSchedule). A value of the account.
    schedule: Mapped[dict[str, list[Any]]] = mapped_column(PackedSchedule)
    # Balances in the ledger include scheduled interest falling due up to this date.
    charged_through_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    row_hash: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class LedgerEntry(Base):
    """One posting: the amounts by component it adds (+) to or removes (−) from the debt.

    Entries are never updated or deleted; a correction is a reversing entry. ``key`` makes every
    posting idempotent per account (an import row, a payment id, an accrual day).
    """

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    key: Mapped[str] = mapped_column(String(96))
    kind: Mapped[str] = mapped_column(String(16))
    effective_on: Mapped[dt.date] = mapped_column(Date)
    posted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    principal_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    interest_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    penalty_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    compound_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    reverses_key: Mapped[str | None] = mapped_column(String(96))
    memo: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        UniqueConstraint("account_id", "key", name="uq_ledger_entries_account_key"),
        Index("ix_ledger_entries_account_effective", "account_id", "effective_on"),
    )


class Payment(Base):
    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    received_on: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[str | None] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(128))
    unapplied_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="posted")  # posted | reversed
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ImportRun(Base):
    __tablename__ = "import_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rejects_path: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """An append-only record of who did what; the Merkle chain over these rows proves the history.

    ``seq`` is the event's leaf index (gap-free, from 0); ``entry`` the exact bytes hashed as its leaf
    (see :mod:`arrears.audit.entry`), the event's canonical JSON document included, and ``leaf_hash``
    their RFC 6962 leaf hash. ``at``, ``actor``, ``action`` and the subject repeat what the entry says
    so the log can be searched; only ``entry`` is authoritative. The view ``audit_event_documents``
    shows each event's document as JSON (migration 0014). Rows are written only by
    :mod:`arrears.audit.log`.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_subject", "subject_type", "subject_id"),
        Index("ix_audit_events_actor", "actor"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
