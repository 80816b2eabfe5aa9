"""The one way personal data enters and leaves the database.

Every personal field (names, national ID numbers, phone numbers, emails, addresses, employer, income)
is written through :func:`seal` / :func:`seal_column` and read through :func:`unseal`; exact-match
search goes through :func:`lookup_key`. Callers never touch the stored form, so encryption at rest
and blind indexes replace the codec here without any caller changing.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Protocol

import polars as pl

__all__ = [
    "PersonalCodec",
    "PersonalKind",
    "PlainCodec",
    "codec",
    "lookup_key",
    "lookup_key_column",
    "mask",
    "seal",
    "seal_column",
    "set_codec",
    "unseal",
]


class PersonalKind(StrEnum):
    NAME = "name"
    NATIONAL_ID = "national_id"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    EMPLOYER = "employer"
    INCOME = "income"


class PersonalCodec(Protocol):
    """How personal values are stored and how their search keys are derived."""

    def seal(self, kind: PersonalKind, value: str) -> str: ...

    def unseal(self, kind: PersonalKind, stored: str) -> str: ...

    def seal_column(self, kind: PersonalKind, column: pl.Series) -> pl.Series: ...

    def lookup_key(self, kind: PersonalKind, value: str) -> str: ...

    def lookup_key_column(self, kind: PersonalKind, column: pl.Series) -> pl.Series: ...


_NON_DIGITS = re.compile(r"[^0-9+]")


def _normalise(kind: PersonalKind, value: str) -> str:
    value = value.strip()
    if kind is PersonalKind.EMAIL:
        return value.lower()
    if kind is PersonalKind.NATIONAL_ID:
        return value.upper()
    if kind is PersonalKind.PHONE:
        return _NON_DIGITS.sub("", value)
    return value


class PlainCodec:
    """Stores values as given; the search key is the normalised value."""

    def seal(self, kind: PersonalKind, value: str) -> str:
        return value

    def unseal(self, kind: PersonalKind, stored: str) -> str:
        return stored

    def seal_column(self, kind: PersonalKind, column: pl.Series) -> pl.Series:
        return column

    def lookup_key(self, kind: PersonalKind, value: str) -> str:
        return _normalise(kind, value)

    def lookup_key_column(self, kind: PersonalKind, column: pl.Series) -> pl.Series:
        if kind is PersonalKind.EMAIL:
            return column.str.strip_chars().str.to_lowercase()
        if kind is PersonalKind.NATIONAL_ID:
            return column.str.strip_chars().str.to_uppercase()
        if kind is PersonalKind.PHONE:
            return column.str.replace_all(r"[^0-9+]", "")
        return column.str.strip_chars()


_codec: PersonalCodec = PlainCodec()


def codec() -> PersonalCodec:
    return _codec


def set_codec(new: PersonalCodec) -> None:
    """Install the codec for this process (done once by the composition root)."""
    global _codec
    _codec = new


def seal(kind: PersonalKind, value: str) -> str:
    return _codec.seal(kind, value)


def unseal(kind: PersonalKind, stored: str) -> str:
    return _codec.unseal(kind, stored)


def seal_column(kind: PersonalKind, column: pl.Series) -> pl.Series:
    return _codec.seal_column(kind, column)


def lookup_key(kind: PersonalKind, value: str) -> str:
    return _codec.lookup_key(kind, value)


def lookup_key_column(kind: PersonalKind, column: pl.Series) -> pl.Series:
    return _codec.lookup_key_column(kind, column)


def mask(kind: PersonalKind, value: str) -> str:
    """The masked form shown by default everywhere (CLI, API, web, logs, exports)."""
    from arrears.privacy import masking

    if kind is PersonalKind.NATIONAL_ID:
        return masking.mask_national_id(value)
    if kind is PersonalKind.PHONE:
        return masking.mask_phone(value)
    if kind is PersonalKind.EMAIL:
        return masking.mask_email(value)
    if kind is PersonalKind.NAME:
        return masking.mask_name(value)
    if kind is PersonalKind.ADDRESS:
        return masking.mask_address(value)
    return "***"
