"""Repayment schedules (等额本息, 等额本金, 先息后本, 一次性还本付息) in Decimal at the currency's precision.

The rules every schedule follows (see docs/schedules.md):

* Periods are calendar months; the periodic rate is ``annual_rate / 12`` (the Chinese bank
  convention for monthly instalments).
* Interest is rounded to the minor unit once per period with the product's rounding mode (half-up
  when the mode is ``UP``, see :func:`interest_rounding`); the principal of a period is
  ``payment - interest``.
* The last instalment absorbs the rounding residual, so the principal column sums exactly to the
  loan and the final balance is zero.
* An instalment never repays more principal than is outstanding. Rounding a level payment up by a
  fraction of a cent compounds at (1 + r) a month; when that dominates the loan (a small loan at a
  high rate over hundreds of months) the balance reaches zero early, the instalment that clears it
  is smaller and the ones after it are zero.

Nothing here reads the clock: the start date is always passed in.
"""

from __future__ import annotations

import calendar
import decimal
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final

from arrears.domain.money import (
    RoundingMode,
    exponent,
    from_minor,
    parse_decimal,
    quantize,
    split_evenly,
    to_minor,
)
from arrears.errors import ValidationError

__all__ = [
    "MAX_AMOUNT",
    "MAX_ANNUAL_RATE",
    "MAX_MONTHS",
    "Installment",
    "MinorRow",
    "Schedule",
    "ScheduleMethod",
    "add_months",
    "build_schedule",
    "interest_rounding",
    "level_payment",
    "payment_plan",
]

MAX_MONTHS: Final = 600
MAX_ANNUAL_RATE: Final = Decimal(10)
# Far above any single debt, and low enough that every intermediate product stays exact.
MAX_AMOUNT: Final = Decimal(10) ** 15
_MAX_EVERY_MONTHS: Final = 12

# The level payment is a ratio of large powers; 60 significant digits keep it exact to far below a
# minor unit even for 600 periods at 1000 % a year.
_LEVEL_CONTEXT: Final = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)
# Interest is B x annual / 12; B x annual is exact, and 60 digits leave the division no room to
# move a result across a rounding boundary.
_INTEREST_CONTEXT: Final = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)


class ScheduleMethod(StrEnum):
    """How a loan is repaid over its term."""

    EQUAL_INSTALLMENT = "equal-installment"  # 等额本息: level payment (French amortisation)
    EQUAL_PRINCIPAL = "equal-principal"  # 等额本金: level principal, falling payments
    INTEREST_ONLY = "interest-only"  # 先息后本: interest monthly, principal at maturity
    BULLET = "bullet"  # 一次性还本付息: principal and simple interest in one payment at maturity


@dataclass(frozen=True, slots=True)
class Installment:
    """One row of a schedule. Amounts are Decimals at the currency's precision.

    ``balance`` is the principal still outstanding after this instalment is paid.
    """

    number: int
    due_on: date
    payment: Decimal
    interest: Decimal
    principal: Decimal
    balance: Decimal


MinorRow = tuple[int, date, int, int, int, int]
"""(number, due_on, payment_minor, interest_minor, principal_minor, balance_minor)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """A complete repayment schedule and its column totals."""

    installments: tuple[Installment, ...]
    currency: str
    total_interest: Decimal
    total_payment: Decimal
    total_principal: Decimal

    def to_minor_rows(self) -> list[MinorRow]:
        """Plain tuples of ints and dates, in instalment order, ready for a bulk insert."""
        c = self.currency
        return [
            (
                row.number,
                row.due_on,
                to_minor(row.payment, c),
                to_minor(row.interest, c),
                to_minor(row.principal, c),
                to_minor(row.balance, c),
            )
            for row in self.installments
        ]


# -- dates --------------------------------------------------------------------------------------


def add_months(anchor: date, months: int) -> date:
    """``anchor`` moved by ``months`` calendar months, clamped to the end of a shorter month.

    The day of ``anchor`` is kept where the month has it: Jan 31 + 1 -> Feb 28 (29 in a leap
    year), Jan 31 + 2 -> Mar 31.
    """
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month0 = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValidationError(
            f"a due date {months} months from {anchor.isoformat()} is outside the calendar",
            field="months",
            value=months,
        )
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(anchor.day, last_day))


def _due_dates(start_date: date, first_due_on: date | None, count: int) -> list[date]:
    # Without an explicit first due date the contractual due day is the start day, so a loan
    # drawn on Jan 31 falls due on Feb 28, Mar 31, Apr 30 ... and never drifts to the 28th.
    if first_due_on is None:
        return [add_months(start_date, k) for k in range(1, count + 1)]
    return [add_months(first_due_on, k) for k in range(count)]


# -- validation ---------------------------------------------------------------------------------


def _check_amount(value: object, currency: str, field: str) -> Decimal:
    amount = parse_decimal(value, field=field)
    if amount <= 0:
        raise ValidationError(
            f"{field} must be greater than zero, got {amount}", field=field, value=str(amount)
        )
    if amount >= MAX_AMOUNT:
        raise ValidationError(
            f"{field} must be less than {MAX_AMOUNT:,f}, got {amount}", field=field, value=str(amount)
        )
    if quantize(amount, currency, RoundingMode.DOWN) != amount:
        raise ValidationError(
            f"{field} {amount} has more decimal places than {currency} allows ({exponent(currency)})",
            field=field,
            value=str(amount),
        )
    return quantize(amount, currency, RoundingMode.DOWN)


def _check_rate(value: object) -> Decimal:
    rate = parse_decimal(value, field="annual_rate")
    if rate < 0 or rate > MAX_ANNUAL_RATE:
        raise ValidationError(
            f"annual_rate must be a fraction between 0 and {MAX_ANNUAL_RATE} (0.049 for 4.9 %), got {rate}",
            field="annual_rate",
            value=str(rate),
        )
    return rate


def _check_count(value: object, field: str, upper: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field} must be a whole number", field=field, value=str(value))
    if not 1 <= value <= upper:
        raise ValidationError(f"{field} must be between 1 and {upper}, got {value}", field=field, value=value)
    return value


def _check_method(value: ScheduleMethod | str) -> ScheduleMethod:
    try:
        return ScheduleMethod(value)
    except ValueError:
        choices = ", ".join(m.value for m in ScheduleMethod)
        raise ValidationError(
            f"unknown method {value!r}; choose one of {choices}", field="method", value=str(value)
        ) from None


def _check_rounding(value: RoundingMode | str) -> RoundingMode:
    try:
        return RoundingMode(value)
    except ValueError:
        choices = ", ".join(m.value for m in RoundingMode)
        raise ValidationError(
            f"unknown rounding {value!r}; choose one of {choices}", field="rounding", value=str(value)
        ) from None


# -- arithmetic ---------------------------------------------------------------------------------


def level_payment(principal: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    """The unrounded 等额本息 payment A = P·r(1+r)^n / ((1+r)^n − 1), r = annual_rate / 12.

    Computed in Decimal at 60 significant digits; with a zero rate it is P / n.
    """
    ctx = _LEVEL_CONTEXT
    if annual_rate == 0:
        return ctx.divide(principal, Decimal(months))
    r = ctx.divide(annual_rate, Decimal(12))
    growth = ctx.power(ctx.add(Decimal(1), r), months)
    return ctx.divide(ctx.multiply(ctx.multiply(principal, r), growth), ctx.subtract(growth, Decimal(1)))


def interest_rounding(mode: RoundingMode) -> RoundingMode:
    """The rounding applied to each period's interest when a schedule is built with ``mode``.

    It is ``mode`` itself, except for ``UP``: that is the Lending Club convention of rounding the
    instalment up to the minor unit so that it never falls short, while interest is rounded half-up.
    Rounding interest up would bill interest that has not accrued.
    """
    return RoundingMode.HALF_UP if mode is RoundingMode.UP else mode


def _period_interest(
    balance: Decimal, annual_rate: Decimal, currency: str, rounding: RoundingMode
) -> Decimal:
    # balance x annual is exact; dividing by 12 last avoids rounding the periodic rate first.
    exact = _INTEREST_CONTEXT.divide(balance * annual_rate, Decimal(12))
    return quantize(exact, currency, rounding)


def _amortise(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    due_dates: list[date],
    currency: str,
    rounding: RoundingMode,
    scheduled_payment: Decimal | None,
    scheduled_principal: Decimal | None,
) -> list[Installment]:
    """Roll the balance forward one month at a time.

    Exactly one of ``scheduled_payment`` (level payment) and ``scheduled_principal`` (level
    principal, or zero for interest-only) is given. The last row takes whatever principal is left.
    """
    rows: list[Installment] = []
    balance = principal
    last = len(due_dates)
    for number, due_on in enumerate(due_dates, start=1):
        interest = _period_interest(balance, annual_rate, currency, interest_rounding(rounding))
        if number == last:
            part = balance
        elif scheduled_payment is not None:
            # Never negative: A > P·r and rounding is monotone, so round(A) >= round(P·r); the
            # balance never rises above P, so no period's rounded interest exceeds round(A).
            part = scheduled_payment - interest
        else:
            assert scheduled_principal is not None
            part = scheduled_principal
        # Rounding the instalment up many times over can repay the loan early; never repay more
        # than is outstanding.
        part = min(part, balance)
        balance = balance - part
        rows.append(
            Installment(
                number=number,
                due_on=due_on,
                payment=interest + part,
                interest=interest,
                principal=part,
                balance=balance,
            )
        )
    return rows


def _schedule(rows: list[Installment], currency: str) -> Schedule:
    zero = from_minor(0, currency)
    total_interest = sum((row.interest for row in rows), zero)
    total_principal = sum((row.principal for row in rows), zero)
    total_payment = sum((row.payment for row in rows), zero)
    return Schedule(
        installments=tuple(rows),
        currency=currency,
        total_interest=total_interest,
        total_payment=total_payment,
        total_principal=total_principal,
    )


# -- public builders ----------------------------------------------------------------------------


def build_schedule(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    months: int,
    method: ScheduleMethod | str,
    start_date: date,
    currency: str = "CNY",
    rounding: RoundingMode | str = RoundingMode.HALF_UP,
    first_due_on: date | None = None,
) -> Schedule:
    """Build the repayment schedule of a loan of ``principal`` drawn on ``start_date``.

    ``annual_rate`` is a fraction (0.049 for 4.9 %); the monthly rate is ``annual_rate / 12``.
    Instalments fall due monthly: on ``first_due_on`` and the same day of each later month, or,
    without it, on the start day of each month after ``start_date``; a day missing from a short
    month becomes that month's last day.

    * ``equal-installment`` (等额本息): a level payment ``A`` rounded with ``rounding``; each
      period's interest is the balance × r rounded with :func:`interest_rounding` and principal
      is ``A − interest``.
    * ``equal-principal`` (等额本金): principal ``P / n`` rounded with ``rounding`` each period,
      plus the period's interest.
    * ``interest-only`` (先息后本): the period's interest each month; the principal with the last.
    * ``bullet`` (一次性还本付息): one instalment at maturity (the ``months``-th due date) of the
      principal plus simple interest ``P × annual_rate / 12 × months``, rounded once.

    In every method the last instalment absorbs the rounding residual, so the principal column
    sums exactly to ``principal``. Invalid input raises :class:`ValidationError` naming the field.
    """
    exponent(currency)  # an unknown currency is reported before anything else
    amount = _check_amount(principal, currency, "principal")
    rate = _check_rate(annual_rate)
    n = _check_count(months, "months", MAX_MONTHS)
    chosen = _check_method(method)
    mode = _check_rounding(rounding)
    if first_due_on is not None and first_due_on <= start_date:
        raise ValidationError(
            f"first_due_on {first_due_on.isoformat()} must be after start_date {start_date.isoformat()}",
            field="first_due_on",
            value=first_due_on.isoformat(),
        )
    due_dates = _due_dates(start_date, first_due_on, n)

    if chosen is ScheduleMethod.BULLET:
        # 一次性还本付息: simple interest for the whole term, no compounding, paid with the principal.
        exact = _INTEREST_CONTEXT.divide(amount * rate * n, Decimal(12))
        interest = quantize(exact, currency, interest_rounding(mode))
        row = Installment(
            number=1,
            due_on=due_dates[-1],
            payment=interest + amount,
            interest=interest,
            principal=amount,
            balance=from_minor(0, currency),
        )
        return _schedule([row], currency)

    scheduled_payment: Decimal | None = None
    scheduled_principal: Decimal | None = None
    if chosen is ScheduleMethod.EQUAL_INSTALLMENT:
        scheduled_payment = quantize(level_payment(amount, rate, n), currency, mode)
    elif chosen is ScheduleMethod.EQUAL_PRINCIPAL:
        scheduled_principal = quantize(_LEVEL_CONTEXT.divide(amount, Decimal(n)), currency, mode)
    else:
        scheduled_principal = from_minor(0, currency)
    rows = _amortise(
        principal=amount,
        annual_rate=rate,
        due_dates=due_dates,
        currency=currency,
        rounding=mode,
        scheduled_payment=scheduled_payment,
        scheduled_principal=scheduled_principal,
    )
    return _schedule(rows, currency)


def payment_plan(
    total: Decimal,
    parts: int,
    first_due_on: date,
    currency: str,
    every_months: int = 1,
) -> Schedule:
    """Split an amount owed, without interest, into ``parts`` instalments.

    The first falls due on ``first_due_on`` and the rest every ``every_months`` months on the same
    day (clamped to a short month's end). Each instalment is the total divided evenly, truncated to
    the minor unit; the last takes the remainder: ¥100.00 in 3 -> 33.33, 33.33, 33.34.
    """
    exponent(currency)
    amount = _check_amount(total, currency, "total")
    count = _check_count(parts, "parts", MAX_MONTHS)
    step = _check_count(every_months, "every_months", _MAX_EVERY_MONTHS)
    pieces = split_evenly(to_minor(amount, currency), count)
    zero = from_minor(0, currency)
    rows: list[Installment] = []
    balance = amount
    for index, piece_minor in enumerate(pieces):
        piece = from_minor(piece_minor, currency)
        balance = balance - piece
        rows.append(
            Installment(
                number=index + 1,
                due_on=add_months(first_due_on, index * step),
                payment=piece,
                interest=zero,
                principal=piece,
                balance=balance,
            )
        )
    return _schedule(rows, currency)
