"""Keep personal data out of log lines: a :class:`logging.Filter` that masks what it recognises.

The filter rewrites a record's message (after ``%`` formatting), its exception text and its stack
text, replacing ID numbers, mobile and international phone numbers and email addresses by their masked
forms (:mod:`arrears.privacy.masking`). It is a safety net behind the rule that code logs ids, not
personal values. Attach it to handlers, not loggers: a filter on a logger does not see records that
propagate from child loggers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Final

from arrears.privacy.masking import mask_email, mask_national_id, mask_phone

__all__ = ["PersonalDataFilter", "find_personal_data", "install_redaction", "redact"]

# Boundaries: not inside a longer run of letters/digits, so order numbers and hashes are left alone
# unless they have exactly the shape of the data.
_NATIONAL_ID: Final = re.compile(
    r"(?<![0-9A-Za-z])[1-8]\d{5}(?:18|19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx](?![0-9A-Za-z])"
)
_CN_MOBILE: Final = re.compile(r"(?<![0-9A-Za-z+])(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?![0-9A-Za-z])")
_INTERNATIONAL: Final = re.compile(r"(?<![0-9A-Za-z])\+\d{1,3}(?:[ -]?\d){6,14}(?![0-9A-Za-z])")
_EMAIL: Final = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

_PATTERNS: Final = (
    ("email", _EMAIL, mask_email),
    ("national_id", _NATIONAL_ID, mask_national_id),
    ("phone", _CN_MOBILE, mask_phone),
    ("phone", _INTERNATIONAL, mask_phone),
)


def redact(text: str) -> str:
    """``text`` with every recognised ID number, phone number and email address masked."""
    for _kind, pattern, mask in _PATTERNS:
        text = pattern.sub(lambda match, mask=mask: mask(match.group(0)), text)  # type: ignore[misc]
    return text


def find_personal_data(text: str) -> list[tuple[str, str]]:
    """Every ``(kind, value)`` in ``text`` that looks like personal data; for tests that scan log output."""
    found: list[tuple[str, str]] = []
    for kind, pattern, _mask in _PATTERNS:
        found.extend((kind, match.group(0)) for match in pattern.finditer(text))
    return found


class PersonalDataFilter(logging.Filter):
    """A filter that masks personal data in every record it sees; it never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not leak its raw arguments either
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction(handlers: Iterable[logging.Handler] | None = None) -> PersonalDataFilter:
    """Attach one :class:`PersonalDataFilter` to ``handlers`` (default: the root logger's handlers)."""
    chosen = list(logging.getLogger().handlers if handlers is None else handlers)
    personal_data_filter = PersonalDataFilter()
    for handler in chosen:
        if not any(isinstance(existing, PersonalDataFilter) for existing in handler.filters):
            handler.addFilter(personal_data_filter)
    return personal_data_filter
