"""Contractual schedules for many loans at once, in whole-column integer arithmetic.

The result is, row for row, what :func:`arrears.domain.schedules.build_schedule` gives for each loan
(a property test holds the two together); this form exists because an import of a million accounts
cannot afford a Decimal loop per instalment.

Exactness: money is in integer minor units and the annual rate is an exact fraction ``num / den``;
a period's interest ``balance × num / (12 × den)`` is computed in 128-bit integers and rounded with
integer arithmetic, so no float ever decides a cent. Only the level payment's power ``(1 + r)^n`` is
first estimated in floating point; where that estimate lies too close to a rounding boundary to be
trusted, the payment is recomputed exactly in Decimal.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from arrears.domain.money import RoundingMode, from_minor, quantize, to_minor
from arrears.domain.schedules import interest_rounding, level_payment

__all__ = ["round_ratio", "schedule_frame"]

_I128 = pl.Int128
_MODES = list(RoundingMode)


def _lit(value: int) -> pl.Expr:
    return pl.lit(value, dtype=_I128)


def round_ratio(num: pl.Expr, den: pl.Expr, mode: pl.Expr) -> pl.Expr:
    """``num / den`` rounded to an integer by the rounding-mode text in ``mode`` (num ≥ 0, den > 0)."""
    q = num // den
    r = num % den
    twice = r * _lit(2)
    half_up = q + (twice >= den).cast(_I128)
    half_even = q + ((twice > den) | ((twice == den) & (q % _lit(2) == _lit(1)))).cast(_I128)
    up = q + (r > _lit(0)).cast(_I128)
    return (
        pl.when(mode == RoundingMode.HALF_UP.value)
        .then(half_up)
        .when(mode == RoundingMode.HALF_EVEN.value)
        .then(half_even)
        .when(mode == RoundingMode.UP.value)
        .then(up)
        .otherwise(q)
    )


def _level_payments(frame: pl.DataFrame) -> pl.Series:
    """The rounded level payment (minor units) of each equal-installment loan."""
    r = pl.col("rate_num").cast(pl.Float64) / (pl.col("rate_den").cast(pl.Float64) * 12.0)
    growth = (1.0 + r).pow(pl.col("term").cast(pl.Float64))
    estimate = (
        pl.when(pl.col("rate_num") == 0)
        .then(pl.col("principal_minor").cast(pl.Float64) / pl.col("term").cast(pl.Float64))
        .otherwise(pl.col("principal_minor").cast(pl.Float64) * r * growth / (growth - 1.0))
    )
    value = pl.col("_estimate")
    frac = pl.col("_frac")
    # The float is within about 1e-12 relative of the exact value; near a rounding boundary (or not
    # finite) the payment is recomputed exactly. Same IEEE operations as a scalar loop would do.
    slack = value.abs() * 1e-11 + 1e-9
    halves = pl.col("rounding").is_in([RoundingMode.HALF_UP.value, RoundingMode.HALF_EVEN.value])
    near = pl.when(halves).then((frac - 0.5).abs() < slack).otherwise((frac < slack) | (frac > 1 - slack))
    rounded = (
        pl.when(pl.col("rounding") == RoundingMode.UP.value)
        .then(value.ceil())
        .when(pl.col("rounding") == RoundingMode.DOWN.value)
        .then(value.floor())
        .otherwise((value + 0.5).floor())
    )
    est = (
        frame.select(estimate.alias("_estimate"), "rounding")
        .with_columns((value - value.floor()).alias("_frac"))
        .select(
            (near | ~value.is_finite()).alias("exact"),
            pl.when(value.is_finite()).then(rounded).alias("payment"),
        )
    )
    payment = est["payment"].cast(pl.Int64)
    redo = est["exact"].arg_true().to_list()
    if not redo:
        return payment.alias("payment")
    out = payment.to_list()
    modes = frame["rounding"].to_list()
    for i in redo:
        out[i] = _exact_level_payment(frame, i, RoundingMode(modes[i]))
    return pl.Series("payment", out, dtype=pl.Int64)


def _exact_level_payment(frame: pl.DataFrame, i: int, mode: RoundingMode) -> int:
    row = frame.row(i, named=True)
    # Minor units are treated as a currency with two decimals only to reuse quantize; the payment is
    # rounded to a whole minor unit, which is 0.01 of that pseudo-unit.
    principal = from_minor(int(row["principal_minor"]), "USD")
    rate = Decimal(int(row["rate_num"])) / Decimal(int(row["rate_den"]))
    exact = level_payment(principal, rate, int(row["term"]))
    return to_minor(quantize(exact, "USD", mode), "USD")


def schedule_frame(loans: pl.DataFrame) -> pl.DataFrame:
    """Schedules for many loans.

    ``loans`` columns: ``key`` (any id), ``principal_minor``, ``rate_num``, ``rate_den`` (annual rate =
    num/den), ``term`` (months), ``method`` (a ScheduleMethod value), ``first_due_on`` (Date or null),
    ``start_on`` (Date; used for due dates when ``first_due_on`` is null), ``rounding`` (a RoundingMode
    value). Returns one row per instalment: ``key, number, due_on, principal_minor, interest_minor``.
    """
    schema = {"key": loans.schema.get("key", pl.Int64), "number": pl.Int32,
              "due_on": pl.Date, "principal_minor": pl.Int64, "interest_minor": pl.Int64}  # fmt: skip
    if loans.height == 0:
        return pl.DataFrame(schema=schema)
    loans = loans.with_columns(
        pl.col("rounding")
        .replace_strict({m.value: interest_rounding(m).value for m in RoundingMode}, return_dtype=pl.String)
        .alias("_irounding"),
    )
    parts: list[pl.DataFrame] = []

    bullet = loans.filter(pl.col("method") == "bullet")
    if bullet.height:
        interest = round_ratio(
            pl.col("principal_minor").cast(_I128)
            * pl.col("rate_num").cast(_I128)
            * pl.col("term").cast(_I128),
            pl.col("rate_den").cast(_I128) * _lit(12),
            pl.col("_irounding"),
        )
        parts.append(
            bullet.select(
                "key",
                pl.lit(1, dtype=pl.Int32).alias("number"),
                _due_on_of(pl.col("term")).alias("due_on"),
                pl.col("principal_minor").cast(pl.Int64),
                interest.cast(pl.Int64).alias("interest_minor"),
            )
        )

    amortising = loans.filter(pl.col("method") != "bullet")
    if amortising.height:
        parts.append(_amortise(amortising))
    return pl.concat([p.select(list(schema)).cast(schema) for p in parts]).sort("key", "number")  # type: ignore[arg-type]


def _due_on_of(number: pl.Expr) -> pl.Expr:
    anchored_first = pl.col("first_due_on").dt.offset_by(pl.format("{}mo", number - 1))
    anchored_start = pl.col("start_on").dt.offset_by(pl.format("{}mo", number))
    return pl.when(pl.col("first_due_on").is_not_null()).then(anchored_first).otherwise(anchored_start)


def _due_on(number: int) -> pl.Expr:
    anchored_first = pl.col("first_due_on").dt.offset_by(f"{number - 1}mo")
    anchored_start = pl.col("start_on").dt.offset_by(f"{number}mo")
    return pl.when(pl.col("first_due_on").is_not_null()).then(anchored_first).otherwise(anchored_start)


def _amortise(loans: pl.DataFrame) -> pl.DataFrame:
    level = loans.filter(pl.col("method") == "equal-installment")
    payments = pl.DataFrame({"key": level["key"], "_payment": _level_payments(level)})
    # Exact integer arithmetic either way: 64-bit when every product of the loop fits, else 128-bit.
    limit = 2**62
    largest = int(loans["principal_minor"].abs().max() or 0) * int(loans["rate_num"].abs().max() or 0)  # type: ignore[arg-type]
    wide = pl.Int64 if largest < limit and int(loans["rate_den"].max() or 0) * 48 < limit else _I128  # type: ignore[arg-type]
    state = loans.join(payments, on="key", how="left").select(
        "key",
        "term",
        "first_due_on",
        "start_on",
        # Level principal for equal-principal: P / n rounded with the product's mode.
        round_ratio(pl.col("principal_minor").cast(_I128), pl.col("term").cast(_I128), pl.col("rounding"))
        .cast(wide)
        .alias("_level_principal"),
        pl.col("_payment").cast(wide),
        pl.col("principal_minor").cast(wide).alias("_balance"),
        (pl.col("rate_den").cast(wide) * 12).alias("_den12"),
        pl.col("rate_num").cast(wide).alias("_num"),
        pl.col("_irounding")
        .replace_strict({m.value: n for n, m in enumerate(_MODES)}, return_dtype=pl.Int8)
        .alias("_mode"),
        pl.col("method")
        .replace_strict({"equal-installment": 0, "equal-principal": 1}, default=2, return_dtype=pl.Int8)
        .alias("_kind"),
    )
    q, r, den = pl.col("_q"), pl.col("_r"), pl.col("_den12")
    # round_ratio(balance × num, 12 × den, interest rounding), each intermediate computed once.
    interest = (
        pl.when(pl.col("_mode") == _MODES.index(RoundingMode.HALF_UP))
        .then(q + (r * 2 >= den).cast(wide))
        .when(pl.col("_mode") == _MODES.index(RoundingMode.HALF_EVEN))
        .then(q + ((r * 2 > den) | ((r * 2 == den) & (q % 2 == 1))).cast(wide))
        .when(pl.col("_mode") == _MODES.index(RoundingMode.UP))
        .then(q + (r > 0).cast(wide))
        .otherwise(q)
    )
    scheduled = (
        pl.when(pl.col("_kind") == 0)
        .then(pl.col("_payment") - pl.col("_interest"))
        .when(pl.col("_kind") == 1)
        .then(pl.col("_level_principal"))
        .otherwise(pl.lit(0, dtype=wide))
    )
    rows: list[pl.DataFrame] = []
    for number in range(1, int(state["term"].max()) + 1):  # type: ignore[arg-type]
        state = state.filter(pl.col("term") >= number)
        product = pl.col("_balance") * pl.col("_num")
        state = state.with_columns((product // den).alias("_q"), (product % den).alias("_r"))
        state = state.with_columns(interest.alias("_interest"))
        part = (
            pl.when(pl.col("term") == number)
            .then(pl.col("_balance"))
            .otherwise(pl.min_horizontal(scheduled, pl.col("_balance")))
        )
        state = state.with_columns(part.alias("_part"))
        rows.append(
            state.select(
                "key",
                pl.lit(number, dtype=pl.Int32).alias("number"),
                _due_on(number).alias("due_on"),
                pl.col("_part").cast(pl.Int64).alias("principal_minor"),
                pl.col("_interest").cast(pl.Int64).alias("interest_minor"),
            )
        )
        state = state.with_columns((pl.col("_balance") - pl.col("_part")).alias("_balance"))
    return pl.concat(rows)
