"""Money: parsing, rounding (collections-math §2.3 and T8), minor units, splitting, arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.domain.money import (
    Money,
    RoundingMode,
    exponent,
    from_minor,
    parse_decimal,
    quantize,
    split_evenly,
    to_minor,
)
from arrears.errors import CurrencyMismatchError, ValidationError

D = Decimal

# -- rounding (T8) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "half_up", "half_even", "up", "down"),
    [
        ("0.125", "0.13", "0.12", "0.13", "0.12"),
        ("2.665", "2.67", "2.66", "2.67", "2.66"),
        ("1.005", "1.01", "1.00", "1.01", "1.00"),
        ("2.675", "2.68", "2.68", "2.68", "2.67"),
        ("1.001", "1.00", "1.00", "1.01", "1.00"),
        ("-0.125", "-0.13", "-0.12", "-0.13", "-0.12"),
    ],
)
def test_quantize_modes(value: str, half_up: str, half_even: str, up: str, down: str) -> None:
    amount = D(value)
    assert str(quantize(amount, "CNY", RoundingMode.HALF_UP)) == half_up
    assert str(quantize(amount, "CNY", RoundingMode.HALF_EVEN)) == half_even
    assert str(quantize(amount, "CNY", RoundingMode.UP)) == up
    assert str(quantize(amount, "CNY", RoundingMode.DOWN)) == down


def test_quantize_default_is_half_up_and_follows_the_currency() -> None:
    assert str(quantize(D("0.125"), "USD")) == "0.13"
    assert str(quantize(D("1234.5"), "JPY")) == "1235"
    assert str(quantize(D("1.23456"), "KWD")) == "1.235"


def test_daily_penalty_interest_accrue_exact_vs_round_daily() -> None:
    # T8: ¥10,000 at 4.9 % x 1.5 / 360 a day = 2.041666...; 30 days.
    daily = D("10000") * D("0.049") * D("1.5") / D("360")
    assert quantize(daily, "CNY") == D("2.04")
    assert quantize(daily * 30, "CNY") == D("61.25")
    assert quantize(daily, "CNY") * 30 == D("61.20")


def test_rounding_mode_values_are_stable() -> None:
    assert [m.value for m in RoundingMode] == ["half-up", "half-even", "up", "down"]
    assert RoundingMode("up") is RoundingMode.UP


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12.34", "12.34"), (" 1,234.50 ", "1234.50"), ("1_000", "1000"), (7, "7"), (D("0.10"), "0.10")],
)
def test_parse_decimal_accepts_text_int_decimal(raw: object, expected: str) -> None:
    assert str(parse_decimal(raw)) == expected


@pytest.mark.parametrize("raw", [1.5, True, "abc", "NaN", "Infinity", None, [1]])
def test_parse_decimal_refuses_floats_and_junk(raw: object) -> None:
    with pytest.raises(ValidationError) as info:
        parse_decimal(raw, field="principal")
    assert info.value.fields["field"] == "principal"


# -- minor units --------------------------------------------------------------------------------


def test_exponents() -> None:
    assert (exponent("CNY"), exponent("JPY"), exponent("KWD")) == (2, 0, 3)
    with pytest.raises(ValidationError) as info:
        exponent("XYZ")
    assert info.value.fields == {"field": "currency", "value": "XYZ"}


def test_to_and_from_minor() -> None:
    assert to_minor(D("12.34"), "CNY") == 1234
    assert to_minor(D("12.3"), "CNY") == 1230
    assert to_minor(D("1235"), "JPY") == 1235
    assert str(from_minor(1234, "CNY")) == "12.34"
    assert str(from_minor(-5, "KWD")) == "-0.005"
    with pytest.raises(ValidationError):
        to_minor(D("12.345"), "CNY")


@given(st.integers(min_value=-(10**18), max_value=10**18), st.sampled_from(["CNY", "JPY", "KWD"]))
def test_minor_round_trip(minor: int, currency: str) -> None:
    assert to_minor(from_minor(minor, currency), currency) == minor


# -- splitting ----------------------------------------------------------------------------------


def test_split_evenly_t8() -> None:
    assert split_evenly(10000, 3) == [3333, 3333, 3334]
    assert split_evenly(-10000, 3) == [-3333, -3333, -3334]
    assert split_evenly(2, 3) == [0, 0, 2]
    with pytest.raises(ValidationError) as info:
        split_evenly(100, 0)
    assert info.value.fields["field"] == "parts"


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=1, max_value=600))
def test_split_evenly_properties(total: int, parts: int) -> None:
    pieces = split_evenly(total, parts)
    assert len(pieces) == parts
    assert sum(pieces) == total
    assert len(set(pieces[:-1])) <= 1
    assert 0 <= pieces[-1] - pieces[0] < parts


def test_split_evenly_exact_for_huge_totals() -> None:
    assert split_evenly(10**17 + 1, 3) == [33333333333333333, 33333333333333333, 33333333333333335]


# -- Money --------------------------------------------------------------------------------------


def test_money_normalises_and_refuses_extra_precision() -> None:
    assert Money.of("12.3", "CNY").amount.as_tuple().exponent == -2
    assert str(Money.of("12.3", "CNY")) == "12.30 CNY"
    assert Money.of("12.345", "CNY", rounding=RoundingMode.HALF_UP).amount == D("12.35")
    assert Money.of("12.345", "CNY", rounding=RoundingMode.HALF_EVEN).amount == D("12.34")
    with pytest.raises(ValidationError):
        Money.of("12.345", "CNY")
    with pytest.raises(ValidationError):
        Money.of(12.5, "CNY")


def test_money_minor_and_zero() -> None:
    assert Money.of("12.34", "CNY").minor == 1234
    assert Money.from_minor(1234, "CNY") == Money.of("12.34", "CNY")
    assert Money.zero("JPY").is_zero()
    assert not Money.of("0.01", "USD").is_zero()


def test_money_arithmetic_and_comparison() -> None:
    a, b = Money.of("10.00", "CNY"), Money.of("2.50", "CNY")
    assert a + b == Money.of("12.50", "CNY")
    assert a - b == Money.of("7.50", "CNY")
    assert -b == Money.of("-2.50", "CNY")
    assert abs(-b) == b
    assert b < a and a > b and a >= a and b <= b
    assert a.times(D("0.049") / 12, RoundingMode.HALF_UP) == Money.of("0.04", "CNY")
    assert Money.of("100.00", "CNY").times(D("0.005"), RoundingMode.UP) == Money.of("0.50", "CNY")


def test_money_refuses_mixed_currencies() -> None:
    with pytest.raises(CurrencyMismatchError) as info:
        Money.of("1", "CNY") + Money.of("1", "USD")
    assert info.value.fields == {"left": "CNY", "right": "USD"}
    with pytest.raises(CurrencyMismatchError):
        _ = Money.of("1", "CNY") < Money.of("1", "USD")
    assert Money.of("1", "CNY") != Money.of("1", "USD")


def test_money_is_frozen() -> None:
    money = Money.of("1", "CNY")
    with pytest.raises(AttributeError):
        money.amount = D("2")  # type: ignore[misc]


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.integers(min_value=-(10**12), max_value=10**12),
)
def test_money_addition_matches_minor_units(x: int, y: int) -> None:
    total = Money.from_minor(x, "CNY") + Money.from_minor(y, "CNY")
    assert total.minor == x + y
    assert (Money.from_minor(x, "CNY") - Money.from_minor(y, "CNY")).minor == x - y
