"""Identity data validation: Chinese resident ID numbers, phone numbers, email addresses.

Pure functions: they look only at the value (and, for a birth date in the future, at an ``as_of`` date
the caller passes in). Invalid input raises :class:`~arrears.errors.ValidationError` with a reason a
person can act on; the ``is_valid_*`` forms return a bool and never raise.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

import phonenumbers

from arrears.errors import ValidationError

__all__ = [
    "cn_national_id_check_digit",
    "is_valid_cn_national_id",
    "is_valid_email",
    "normalise_phone",
    "validate_cn_national_id",
]

# GB 11643—1999 §5: the check digit is ISO 7064 MOD 11-2 over the first 17 digits, with weights
# W_i = 2^(i-1) mod 11 counted from the right (position 18 is the check digit itself).
_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARACTERS: Final = "10X98765432"  # indexed by (sum of weighted digits) mod 11

# GB/T 2260 province-level codes (the first two digits of the address code), plus 81/82/83 for the
# residence permits of Hong Kong, Macao and Taiwan residents.
_PROVINCE_CODES: Final = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_EARLIEST_BIRTH_YEAR: Final = 1900
_FIELD_ID: Final = "national_id"

# A practical address check (RFC 5321 limits, dotted domain of letters, digits and hyphens), not the full
# RFC 5322 grammar: it accepts what mail systems deliver in practice and rejects obvious typing errors.
_EMAIL: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def cn_national_id_check_digit(first17: str) -> str:
    """The GB 11643 check character (``0``-``9`` or ``X``) for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValidationError(
            "the check digit is computed from exactly 17 digits", field=_FIELD_ID, length=len(first17)
        )
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def validate_cn_national_id(value: str, *, as_of: date | None = None) -> str:
    """A valid 18-character resident ID number (GB 11643), normalised: trimmed, ``x`` upper-cased.

    Checks the length, the province code (GB/T 2260), the birth date (a real calendar date from 1900 on,
    and not after ``as_of`` when given) and the check digit. Raises :class:`ValidationError` naming
    the first thing that is wrong.
    """
    if not isinstance(value, str):
        raise ValidationError("an ID number is text", field=_FIELD_ID)
    text = value.strip().upper()
    if len(text) == 15 and text.isascii() and text.isdigit():
        raise ValidationError(
            "this is a 15-digit first-generation ID number; enter the 18-digit number", field=_FIELD_ID
        )
    if len(text) != 18:
        raise ValidationError(
            f"an ID number has 18 characters, this one has {len(text)}", field=_FIELD_ID, length=len(text)
        )
    body, check = text[:17], text[17]
    if not body.isascii() or not body.isdigit() or not (check.isdigit() or check == "X"):
        raise ValidationError(
            "an ID number is 17 digits followed by a digit or X", field=_FIELD_ID, reason="characters"
        )
    if int(body[:2]) not in _PROVINCE_CODES:
        raise ValidationError(
            f"{body[:2]} is not a province code (GB/T 2260)", field=_FIELD_ID, reason="region"
        )
    year, month, day = int(body[6:10]), int(body[10:12]), int(body[12:14])
    try:
        born_on = date(year, month, day)
    except ValueError as exc:
        raise ValidationError(
            f"{body[6:14]} is not a real birth date", field=_FIELD_ID, reason="birth_date"
        ) from exc
    if year < _EARLIEST_BIRTH_YEAR or (as_of is not None and born_on > as_of):
        raise ValidationError(
            f"birth date {born_on.isoformat()} is not plausible", field=_FIELD_ID, reason="birth_date"
        )
    expected = cn_national_id_check_digit(body)
    if check != expected:
        raise ValidationError(
            "the check digit does not match; the number has a typing error",
            field=_FIELD_ID,
            reason="check_digit",
        )
    return text


def is_valid_cn_national_id(value: object, *, as_of: date | None = None) -> bool:
    """Whether ``value`` is a valid 18-character resident ID number; never raises."""
    if not isinstance(value, str):
        return False
    try:
        validate_cn_national_id(value, as_of=as_of)
    except ValidationError:
        return False
    return True


def normalise_phone(value: str, region: str = "CN") -> str:
    """The phone number in E.164 form (``+8613800000001``), read as dialled in ``region``.

    Uses the ``phonenumbers`` metadata, so a number must be valid for its country, not just well-formed.
    Raises :class:`ValidationError` otherwise.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("a phone number is needed", field="phone")
    try:
        parsed = phonenumbers.parse(value, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            "could not read a phone number from this text", field="phone", region=region
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError("not a valid phone number for its country", field="phone", region=region)
    formatted: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return formatted


def is_valid_email(value: object) -> bool:
    """Whether ``value`` looks like a deliverable email address (ASCII, RFC 5321 length limits)."""
    if not isinstance(value, str) or len(value) > 254:
        return False
    local, _, domain = value.rpartition("@")
    if not local or len(local) > 64 or not domain:
        return False
    return _EMAIL.fullmatch(value) is not None
