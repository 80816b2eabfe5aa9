"""Tables of users, their roles, API keys and account assignments (created by migration 0003)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from arrears.store.tables import Base, UtcDateTime

__all__ = ["AccountAssignment", "ApiKey", "User", "UserRole"]

_ID = BigInteger().with_variant(Integer, "sqlite")


class User(Base):
    """A person (or service) who signs in. Staff, not debtors: nothing here is debtor personal data."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(128))
    agency: Mapped[str | None] = mapped_column(String(64), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class UserRole(Base):
    __tablename__ = "user_roles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    granted_by: Mapped[str] = mapped_column(String(64))


class ApiKey(Base):
    """An API key: only a SHA-256 of its secret is kept; the key itself is shown once."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class AccountAssignment(Base):
    """Who works an account: a collector (``user_id``) or an agency placement (``agency``)."""

    __tablename__ = "account_assignments"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    agency: Mapped[str | None] = mapped_column(String(64), index=True)
    assigned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
