"""Masked display of personal data: what the CLI, API, web console, logs and exports show by default.

Every function here is total: it accepts anything (``None``, numbers, malformed text) and never
raises, and it never shows more than its pattern. When a value does not fit the pattern, less is
shown, down to nothing but asterisks.

===============  ======================  ======================
kind             input                   shown
===============  ======================  ======================
ID number        110105194912310021      110***********0021
phone            13800000001             138****0001
email            zhang.wei@example.com   z***@example.com
name             张伟 / Zhang Wei         张* / Z*** Wei
address          北京市朝阳区建国路88号     北京市朝阳区****
===============  ======================  ======================
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import phonenumbers

__all__ = [
    "MASK",
    "mask_address",
    "mask_email",
    "mask_name",
    "mask_national_id",
    "mask_phone",
]

MASK: Final = "*"
_HIDDEN: Final = "****"  # fixed width where the length itself would say too much


def _text(value: object) -> str:
    if value is None:
        return ""
    try:
        return value if isinstance(value, str) else str(value)
    except Exception:  # a __str__ that fails must not break a log line or a listing
        return ""


def mask_national_id(value: object) -> str:
    """``110***********1234``: the first 3 and last 4 characters of a 15- or 18-character ID.

    Anything shorter than 15 characters (a passport, a typo) is shown as asterisks only.
    """
    text = "".join(_text(value).split())
    if len(text) < 15:
        return MASK * len(text)
    return text[:3] + MASK * (len(text) - 7) + text[-4:]


def mask_phone(value: object) -> str:
    """``138****0001``: the first 3 and last 4 digits of a number of 11 or more digits.

    An international number keeps its ``+`` and country code (``+86 138****0001``); 7-10 digits show
    only the last 4; anything shorter is asterisks only. Separators are dropped.
    """
    text = _text(value).strip()
    digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    prefix = ""
    if text.startswith("+"):
        # Peel the country code off so the 3 + 4 pattern applies to the national number.
        try:
            parsed = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            parsed = None
        national = str(parsed.national_number) if parsed is not None else ""
        if parsed is not None and parsed.country_code and digits.endswith(national):
            prefix, digits = f"+{parsed.country_code} ", national
    if len(digits) >= 11:
        return prefix + digits[:3] + MASK * (len(digits) - 7) + digits[-4:]
    if len(digits) >= 7:
        return prefix + MASK * (len(digits) - 4) + digits[-4:]
    return MASK * len(digits) if digits else (_HIDDEN if text else "")


def mask_email(value: object) -> str:
    """``z***@example.com``: the first character of the local part and the whole domain."""
    text = _text(value).strip()
    if not text:
        return ""
    local, at, domain = text.rpartition("@")
    if not at or not domain or not local:
        return _HIDDEN
    return local[0] + "***@" + domain


def _is_cjk(ch: str) -> bool:
    return unicodedata.category(ch) == "Lo" and not ch.isascii()


def mask_name(value: object) -> str:
    """``张*`` for 张伟, ``张**`` for 张三丰; ``Z*** Wei`` for Zhang Wei.

    A name in Chinese characters keeps its first character (the surname); a name in Latin letters keeps
    the initial of every word but the last, and the last word. A single word keeps only its initial.
    """
    text = " ".join(_text(value).split())
    if not text:
        return ""
    if any(_is_cjk(ch) for ch in text):
        compact = text.replace(" ", "").replace("·", "")
        return compact[0] + MASK * (len(compact) - 1) if len(compact) > 1 else MASK
    words = text.split(" ")
    if len(words) == 1:
        return words[0][0] + "***"
    return " ".join(word[0] + "***" for word in words[:-1]) + " " + words[-1]


_ADMINISTRATIVE_SUFFIXES: Final = re.compile(r"^.{1,12}?(?:[省市]|自治区|特别行政区).{0,8}?[市州盟区县旗]")
_HAS_DIGIT: Final = re.compile(r"\d")


def mask_address(value: object) -> str:
    """An address down to its city or district; the street and number are hidden.

    A Chinese address keeps its leading administrative divisions (``北京市朝阳区****``); of an address
    without them it shows at most the first three characters and never more than half. Any other
    address keeps only its last comma-separated part, without
    any word that contains a digit (``****, London``).
    """
    text = " ".join(_text(value).split())
    if not text:
        return ""
    if any(_is_cjk(ch) for ch in text):
        match = _ADMINISTRATIVE_SUFFIXES.match(text)
        kept = match.group(0) if match else ""
        if not kept or len(kept) >= len(text):
            kept = text[: min(len(text) // 2, 3)]
        return kept + _HIDDEN
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if len(parts) < 2:
        return _HIDDEN
    tail = " ".join(word for word in parts[-1].split(" ") if not _HAS_DIGIT.search(word))
    return _HIDDEN + (", " + tail if tail else "")
