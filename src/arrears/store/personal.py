"""The one way personal data enters and leaves the database.

Every personal field (names, national ID numbers, phone numbers, emails, addresses, employer, income)
is written through :func:`seal` / :func:`seal_column` and read through :func:`unseal`; exact-match
search goes through :func:`lookup_key`. Callers never touch the stored form.

Three codecs, chosen once per process by :func:`arrears.bootstrap.install_personal_codec`:

* :class:`EncryptingCodec` — AES-256-GCM tokens under the key ring (the field kind is the associated
  data), and keyed HMAC-SHA-256 blind indexes of the normalised value as lookup keys. Used whenever
  keys are configured (``ARREARS_FIELD_KEYS`` or ``ARREARS_FIELD_KEYS_FILE``).
* :class:`RefusingCodec` — no keys and no development setting: every read or write of personal data
  raises :class:`~arrears.errors.ConfigurationError` saying how to configure keys.
* :class:`PlainCodec` — plaintext, allowed only with ``ARREARS_ALLOW_PLAINTEXT_PERSONAL_DATA=1`` (a
  development machine) and as the default of a bare library import that never went through bootstrap.

Lookup keys are derived from one normalisation for every codec: phone → E.164, ID number → upper-case
without spaces, email → lower-case, anything else → trimmed.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Protocol

import polars as pl

from arrears.errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from arrears.privacy.crypto import KeyRing

__all__ = [
    "EncryptingCodec",
    "PersonalCodec",
    "PersonalKind",
    "PlainCodec",
    "RefusingCodec",
    "codec",
    "is_sealed",
    "lookup_key",
    "lookup_key_column",
    "mask",
    "normalise",
    "normalise_column",
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


_SEPARATORS: Final = r"[\s\-().]"
_E164: Final = r"^\+[1-9]\d{6,14}$"
_CN_MOBILE: Final = r"^(?:0086|86)?1[3-9]\d{9}$"
_TOKEN_PREFIX: Final = "v1."  # noqa: S105 - a format tag, not a secret
PLAINTEXT_SETTING: Final = "ARREARS_ALLOW_PLAINTEXT_PERSONAL_DATA"


def normalise(kind: PersonalKind, value: str, *, region: str = "CN") -> str:
    """The form a lookup key is derived from (phone → E.164, ID → upper-case, email → lower-case).

    A phone number that cannot be read raises :class:`ValidationError`, so a search for one fails
    plainly instead of finding nothing.
    """
    from arrears.domain.identity import normalise_phone

    text = value.strip()
    if not text:
        raise ValidationError(f"an empty {kind.value} cannot be looked up", field=kind.value)
    if kind is PersonalKind.PHONE:
        compact = re.sub(_SEPARATORS, "", text)
        if re.fullmatch(_E164, compact):
            return compact
        return normalise_phone(text, region)
    if kind is PersonalKind.NATIONAL_ID:
        return "".join(text.split()).upper()
    if kind is PersonalKind.EMAIL:
        return text.lower()
    return " ".join(text.split())


def normalise_column(kind: PersonalKind, column: pl.Series, *, region: str = "CN") -> pl.Series:
    """:func:`normalise` over a column; nulls stay null.

    Phones already in E.164 and Chinese mobile numbers are handled as whole columns; only other
    forms go through ``phonenumbers`` one by one, and one that cannot be read keeps its digits (the
    import has rejected such rows already, so this is a last resort, not a path data takes).
    """
    from arrears.domain.identity import normalise_phone

    text = column.cast(pl.String).str.strip_chars()
    if kind is PersonalKind.NATIONAL_ID:
        return text.str.replace_all(r"\s", "").str.to_uppercase()
    if kind is PersonalKind.EMAIL:
        return text.str.to_lowercase()
    if kind is not PersonalKind.PHONE:
        return text.str.replace_all(r"\s+", " ")
    compact = text.str.replace_all(_SEPARATORS, "")
    fast = pl.select(
        pl.when(compact.str.contains(_E164))
        .then(compact)
        .when(compact.str.contains(_CN_MOBILE))
        .then(pl.lit("+86") + compact.str.slice(-11))
        .otherwise(None)
    ).to_series()
    slow = (fast.is_null() & compact.is_not_null() & (compact != "")).arg_true().to_list()
    if not slow:
        return fast.alias(column.name)
    values = fast.to_list()
    for i in slow:
        try:
            values[i] = normalise_phone(text[i], region)
        except ValidationError:
            values[i] = re.sub(r"[^0-9+]", "", text[i])
    return pl.Series(column.name, values, dtype=pl.String)


def is_sealed(stored: str) -> bool:
    """Whether a stored value is an encryption token (rather than plaintext from a development run)."""
    return stored.startswith(_TOKEN_PREFIX) and stored.count(".") == 3


def _context(kind: PersonalKind) -> str:
    # The field kind is the associated data: a token moved into a field of another kind does not open.
    return f"personal:{kind.value}"


class PlainCodec:
    """Stores values as given; the search key is the normalised value. Development only."""

    name = "plaintext"

    def seal(self, kind: PersonalKind, value: str) -> str:
        return value

    def unseal(self, kind: PersonalKind, stored: str) -> str:
        return stored

    def seal_column(self, kind: PersonalKind, column: pl.Series) -> pl.Series:
        return column

    def lookup_key(self, kind: PersonalKind, value: str) -> str:
        return normalise(kind, value)

    def lookup_key_column(self, kind: PersonalKind, column: pl.Series) -> pl.Series:
        return normalise_column(kind, column)


class EncryptingCodec:
    """AES-256-GCM tokens under a :class:`~arrears.privacy.crypto.KeyRing`; HMAC blind indexes.

    A stored value that is not a token (written by a development run in plaintext) is read as it is;
    ``arrears privacy rotate-keys`` seals such values and replaces their lookup keys.
    """

    name = "aes-256-gcm"

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def seal(self, kind: PersonalKind, value: str) -> str:
        return self.ring.encrypt(value, context=_context(kind))

    def unseal(self, kind: PersonalKind, stored: str) -> str:
        if not is_sealed(stored):
            return stored
        return self.ring.decrypt(stored, context=_context(kind))

    def seal_column(self, kind: PersonalKind, column: pl.Series) -> pl.Series:
        return self.ring.encrypt_column(column, context=_context(kind))

    def lookup_key(self, kind: PersonalKind, value: str) -> str:
        return self.lookup_key_column(kind, pl.Series([normalise(kind, value)]))[0]  # type: ignore[no-any-return]

    def lookup_key_column(self, kind: PersonalKind, column: pl.Series) -> pl.Series:
        return self.ring.keyed_digest_column(normalise_column(kind, column), purpose=kind.value)


class RefusingCodec:
    """No keys configured in production: every read and write of personal data is refused."""

    name = "refusing"

    def _refuse(self) -> ConfigurationError:
        return ConfigurationError(
            "personal data cannot be stored or read: no field-encryption keys are configured. Set "
            "ARREARS_FIELD_KEYS_FILE (create a key file with `arrears privacy keygen`) or ARREARS_FIELD_KEYS; "
            f"on a development machine only, {PLAINTEXT_SETTING}=1 stores it in plaintext",
            setting="field_keys_file",
        )

    def seal(self, kind: PersonalKind, value: str) -> str:
        raise self._refuse()

    def unseal(self, kind: PersonalKind, stored: str) -> str:
        raise self._refuse()

    def seal_column(self, kind: PersonalKind, column: pl.Series) -> pl.Series:
        if column.null_count() == column.len():
            return column
        raise self._refuse()

    def lookup_key(self, kind: PersonalKind, value: str) -> str:
        raise self._refuse()

    def lookup_key_column(self, kind: PersonalKind, column: pl.Series) -> pl.Series:
        if column.null_count() == column.len():
            return column
        raise self._refuse()


_codec: PersonalCodec = PlainCodec()


def codec() -> PersonalCodec:
    """The codec installed for this process."""
    return _codec


def set_codec(new: PersonalCodec) -> None:
    """Install the codec for this process (done once by the composition root)."""
    global _codec
    _codec = new


def seal(kind: PersonalKind, value: str) -> str:
    """The stored form of a personal value."""
    return _codec.seal(kind, value)


def unseal(kind: PersonalKind, stored: str) -> str:
    """The personal value behind a stored form (callers mask it unless revealing is allowed)."""
    return _codec.unseal(kind, stored)


def seal_column(kind: PersonalKind, column: pl.Series) -> pl.Series:
    """:func:`seal` over a whole column (nulls stay null)."""
    return _codec.seal_column(kind, column)


def lookup_key(kind: PersonalKind, value: str) -> str:
    """The exact-match search key of a value (a blind index when encryption is on)."""
    return _codec.lookup_key(kind, value)


def lookup_key_column(kind: PersonalKind, column: pl.Series) -> pl.Series:
    """:func:`lookup_key` over a whole column (nulls stay null)."""
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
