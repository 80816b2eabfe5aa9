"""Money: Decimal amounts in an ISO 4217 currency, quantised to the currency's minor unit.

There is one way to build a number (``Money.of`` from text, int or Decimal, never float) and one
way to store it (``minor``: an integer count of minor units). Arithmetic across two currencies
raises :class:`~arrears.errors.CurrencyMismatchError`. Rounding is always explicit: a product
names its mode (half-up for 四舍五入, half-even for banker's rounding, up for ceiling-style
instalments).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from arrears.errors import CurrencyMismatchError, ValidationError

__all__ = [
    "CURRENCY_EXPONENTS",
    "Money",
    "RoundingMode",
    "exponent",
    "from_minor",
    "parse_decimal",
    "quantize",
    "split_evenly",
    "to_minor",
]

# ISO 4217 minor-unit exponents of the currencies arrears is used with.
CURRENCY_EXPONENTS: Final[dict[str, int]] = {
    "CNY": 2,
    "HKD": 2,
    "USD": 2,
    "GBP": 2,
    "EUR": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "JPY": 0,
    "KRW": 0,
    "IDR": 2,
    "INR": 2,
    "PHP": 2,
    "MXN": 2,
    "BRL": 2,
    "KWD": 3,
    "BHD": 3,
}

# Wide enough for any balance a lender holds, with room for intermediate products of rates.
_CONTEXT: Final = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])


class RoundingMode(StrEnum):
    """How an amount is brought to the currency's minor unit."""

    HALF_UP = "half-up"  # 四舍五入; most bank statements
    HALF_EVEN = "half-even"  # banker's rounding; Python's default context
    UP = "up"  # away from zero: ceiling for positive amounts (Lending Club instalments)
    DOWN = "down"  # towards zero: truncation

    @property
    def decimal_rounding(self) -> str:
        return _DECIMAL_ROUNDING[self]


_DECIMAL_ROUNDING: Final[dict[RoundingMode, str]] = {
    RoundingMode.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingMode.UP: decimal.ROUND_UP,
    RoundingMode.DOWN: decimal.ROUND_DOWN,
}

_QUANTA: Final[dict[int, Decimal]] = {e: Decimal(1).scaleb(-e) for e in range(0, 5)}


def exponent(currency: str) -> int:
    """The number of minor-unit digits of ``currency`` (2 for CNY, 0 for JPY)."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise ValidationError(
            f"unknown currency {currency!r}; use an ISO 4217 code such as CNY, USD or GBP",
            field="currency",
            value=currency,
        ) from None


def parse_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Read a decimal from text, int or Decimal. Floats are refused: they cannot hold cents."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValidationError(f"{field}: expected a number, got a boolean", field=field)
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        try:
            result = Decimal(text)
        except decimal.InvalidOperation:
            raise ValidationError(f"{field}: {value!r} is not a number", field=field, value=value) from None
    elif isinstance(value, float):
        raise ValidationError(
            f"{field}: floats are not accepted for money; pass a string such as '12.34'", field=field
        )
    else:
        raise ValidationError(f"{field}: expected a number, got {type(value).__name__}", field=field)
    if not result.is_finite():
        raise ValidationError(f"{field}: {value!r} is not a finite number", field=field, value=str(value))
    return result


def quantize(amount: Decimal, currency: str, mode: RoundingMode = RoundingMode.HALF_UP) -> Decimal:
    """Round ``amount`` to the minor unit of ``currency`` with ``mode``."""
    return amount.quantize(_QUANTA[exponent(currency)], rounding=mode.decimal_rounding, context=_CONTEXT)


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact conversion to integer minor units; an amount with more digits than the currency has is refused."""
    scaled = amount.scaleb(exponent(currency), context=_CONTEXT)
    if scaled != scaled.to_integral_value():
        raise ValidationError(
            f"{amount} has more decimal places than {currency} allows ({exponent(currency)})",
            field="amount",
            value=str(amount),
        )
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Integer minor units back to a Decimal with the currency's exponent (1234 CNY -> 12.34)."""
    return Decimal(minor).scaleb(-exponent(currency), context=_CONTEXT)


def split_evenly(total_minor: int, parts: int) -> list[int]:
    """Split an integer amount into ``parts`` pieces; the last piece absorbs the remainder.

    ¥100.00 in 3 -> 33.33, 33.33, 33.34.
    """
    if parts <= 0:
        raise ValidationError("parts must be positive", field="parts", value=parts)
    base = total_minor // parts if total_minor >= 0 else -(-total_minor // parts)
    pieces = [base] * parts
    pieces[-1] = total_minor - base * (parts - 1)
    return pieces


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in one currency, always held at the currency's minor-unit precision."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        exp = exponent(self.currency)
        if self.amount.as_tuple().exponent != -exp:
            # Normalise the representation (12.3 -> 12.30) and refuse extra precision.
            object.__setattr__(
                self, "amount", from_minor(to_minor(self.amount, self.currency), self.currency)
            )

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def of(
        cls, value: object, currency: str, *, rounding: RoundingMode | None = None, field: str = "amount"
    ) -> Money:
        """Build from text/int/Decimal. Without ``rounding`` extra precision is an error."""
        amount = parse_decimal(value, field=field)
        if rounding is not None:
            amount = quantize(amount, currency, rounding)
        return cls(amount, currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        return cls(from_minor(minor, currency), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.from_minor(0, currency)

    # -- views --------------------------------------------------------------------------------
    @property
    def minor(self) -> int:
        return to_minor(self.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def is_zero(self) -> bool:
        return self.amount == 0

    # -- arithmetic ---------------------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self.currency} with {other.currency}",
                left=self.currency,
                right=other.currency,
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def times(self, factor: Decimal, rounding: RoundingMode) -> Money:
        """Multiply by a Decimal factor (a rate, a share) and round explicitly."""
        return Money(quantize(self.amount * factor, self.currency, rounding), self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount
