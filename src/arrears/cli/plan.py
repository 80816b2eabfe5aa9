"""``arrears plan``: repayment-plan quotes.

``arrears plan quote`` prints the schedule of a loan as a table, or as JSON with ``--json``.
Every option is read as text and checked here, so that a bad value gets a one-line message
naming the option (exit status 2), never a usage panel or a traceback.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import typer
from rich import box
from rich.table import Table

from arrears.cli.common import console, handle_errors, print_json
from arrears.domain.money import RoundingMode, parse_decimal
from arrears.domain.schedules import MAX_MONTHS, Schedule, ScheduleMethod, build_schedule
from arrears.errors import ValidationError

__all__ = ["app", "quote", "schedule_to_json"]

app = typer.Typer(help="Repayment plans: quotes of instalment schedules.", no_args_is_help=True)


@app.callback()
def _plan_group() -> None:
    """Repayment plans: quotes of instalment schedules."""
    # A callback keeps ``plan`` a command group even while ``quote`` is its only command.


# Domain field -> the option that feeds it, so that errors speak the user's language.
_OPTION_OF_FIELD = {
    "principal": "--principal",
    "annual_rate": "--annual-rate",
    "months": "--months",
    "method": "--method",
    "rounding": "--rounding",
    "currency": "--currency",
    "start_date": "--start-date",
}


def _required(value: str | None, option: str) -> str:
    if value is None or not value.strip():
        raise ValidationError(f"{option} is required", field=option)
    return value.strip()


def _decimal(value: str, option: str) -> Decimal:
    try:
        return parse_decimal(value, field=option)
    except ValidationError:
        raise ValidationError(f"{option}: {value!r} is not a number", field=option, value=value) from None


def _months(value: str) -> int:
    try:
        months = int(value)
    except ValueError:
        raise ValidationError(
            f"--months: {value!r} is not a whole number of months", field="--months", value=value
        ) from None
    if not 1 <= months <= MAX_MONTHS:
        raise ValidationError(
            f"--months must be between 1 and {MAX_MONTHS}, got {months}", field="--months", value=value
        )
    return months


def _choice(value: str, option: str, choices: list[str]) -> str:
    normalised = value.strip().lower().replace("_", "-")
    if normalised not in choices:
        raise ValidationError(
            f"{option}: {value!r} is not one of {', '.join(choices)}", field=option, value=value
        )
    return normalised


def _start_date(value: str | None) -> date:
    if value is None:
        # An entry point may read the clock; the schedule itself is given the date.
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            f"--start-date: {value!r} is not a date in YYYY-MM-DD form", field="--start-date", value=value
        ) from None


def _in_option_terms(exc: ValidationError) -> ValidationError:
    """The same error, naming the command-line option instead of the domain field."""
    field = exc.fields.get("field")
    if not isinstance(field, str) or field not in _OPTION_OF_FIELD:
        return exc
    option = _OPTION_OF_FIELD[field]
    message = exc.message if exc.message.startswith(field) else f"{field}: {exc.message}"
    return ValidationError(message.replace(field, option, 1), **{**exc.fields, "field": option})


def schedule_to_json(schedule: Schedule) -> dict[str, Any]:
    """The JSON shape of a quote: instalments with decimal-string amounts, ISO dates, and totals."""
    return {
        "installments": [
            {
                "number": row.number,
                "due_on": row.due_on.isoformat(),
                "payment": f"{row.payment:f}",
                "interest": f"{row.interest:f}",
                "principal": f"{row.principal:f}",
                "balance": f"{row.balance:f}",
            }
            for row in schedule.installments
        ],
        "total_interest": f"{schedule.total_interest:f}",
        "total_payment": f"{schedule.total_payment:f}",
    }


def _amount(value: Decimal) -> str:
    return f"{value:,f}"


def _render_table(schedule: Schedule, *, method: str, rounding: str) -> None:
    table = Table(
        title=f"{method} · {schedule.currency} · rounding {rounding}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("No.", justify="right", no_wrap=True)
    table.add_column("Due on", no_wrap=True)
    for heading in ("Payment", "Interest", "Principal", "Balance"):
        table.add_column(heading, justify="right", no_wrap=True)
    for row in schedule.installments:
        table.add_row(
            str(row.number),
            row.due_on.isoformat(),
            _amount(row.payment),
            _amount(row.interest),
            _amount(row.principal),
            _amount(row.balance),
        )
    console.print(table)
    # Totals on plain lines, so they survive any terminal width.
    console.print(f"Total interest: {_amount(schedule.total_interest)} {schedule.currency}", highlight=False)
    console.print(f"Total payment: {_amount(schedule.total_payment)} {schedule.currency}", highlight=False)
    console.print(
        f"Total principal: {_amount(schedule.total_principal)} {schedule.currency}", highlight=False
    )


@app.command()
@handle_errors
def quote(
    principal: str | None = typer.Option(
        None, "--principal", metavar="AMOUNT", help="Amount lent, e.g. 1000000 or 10000.00."
    ),
    annual_rate: str | None = typer.Option(
        None, "--annual-rate", metavar="RATE", help="Nominal annual rate as a fraction: 0.049 for 4.9 %."
    ),
    months: str | None = typer.Option(
        None, "--months", metavar="N", help=f"Number of monthly periods, 1-{MAX_MONTHS}."
    ),
    method: str | None = typer.Option(
        None,
        "--method",
        metavar="METHOD",
        help="equal-installment (等额本息), equal-principal (等额本金), interest-only, bullet.",
    ),
    rounding: str = typer.Option(
        "half-up", "--rounding", metavar="MODE", help="half-up, half-even, up or down."
    ),
    start_date: str | None = typer.Option(
        None,
        "--start-date",
        metavar="DATE",
        help="Date the loan is drawn, YYYY-MM-DD (default: today in UTC).",
    ),
    currency: str = typer.Option("CNY", "--currency", metavar="CODE", help="ISO 4217 currency code."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Quote the repayment schedule of a loan."""
    principal_value = _decimal(_required(principal, "--principal"), "--principal")
    rate_value = _decimal(_required(annual_rate, "--annual-rate"), "--annual-rate")
    months_value = _months(_required(months, "--months"))
    method_value = _choice(_required(method, "--method"), "--method", [m.value for m in ScheduleMethod])
    rounding_value = _choice(rounding, "--rounding", [m.value for m in RoundingMode])
    currency_value = currency.strip().upper()
    started = _start_date(start_date)
    try:
        schedule = build_schedule(
            principal=principal_value,
            annual_rate=rate_value,
            months=months_value,
            method=ScheduleMethod(method_value),
            start_date=started,
            currency=currency_value,
            rounding=RoundingMode(rounding_value),
        )
    except ValidationError as exc:
        raise _in_option_terms(exc) from None
    if as_json:
        print_json(schedule_to_json(schedule))
    else:
        _render_table(schedule, method=method_value, rounding=rounding_value)
