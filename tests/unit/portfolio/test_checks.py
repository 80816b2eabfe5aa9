"""Whole-column import checks agree with the exact scalar rules."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.identity import cn_national_id_check_digit, is_valid_cn_national_id
from arrears.portfolio.checks import (
    PROBLEMS,
    cn_national_id_problem,
    cn_national_id_problems,
    collect_problems,
    column_problems,
    money_minor,
    money_minor_columns,
    rate_parts,
    stripped,
    with_stripped,
)
from arrears.portfolio.schema import ACCOUNT_COLUMNS


def test_money_text_to_minor_units_exactly() -> None:
    frame = pl.DataFrame({"m": ["0", "1", "1.5", "1.05", "12,345.67", "0.001", "9999999999999.99", "1.234"],
                          "e": [2, 2, 2, 2, 2, 2, 2, 3]})  # fmt: skip
    out = frame.select(money_minor("m", pl.col("e")).alias("x"))["x"].to_list()
    assert out == [0, 100, 150, 105, 1_234_567, None, 999_999_999_999_999, 1234]


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**15), st.sampled_from([0, 2, 3]))
def test_money_round_trip(minor: int, exponent: int) -> None:
    text = str(minor) if exponent == 0 else f"{minor // 10**exponent}.{minor % 10**exponent:0{exponent}d}"
    frame = pl.DataFrame({"m": [text], "e": [exponent]})
    assert frame.select(money_minor("m", pl.col("e")).alias("x"))["x"].item() == minor


def test_rate_as_exact_fraction() -> None:
    num, den = rate_parts("r")
    out = pl.DataFrame({"r": ["0.049", "0", "1.5", "0.000000000001"]}).select(num.alias("n"), den.alias("d"))
    assert out.rows() == [(49, 1000), (0, 1), (15, 10), (1, 10**12)]


ids = st.builds(
    lambda region, birth, seq: f"{region}{birth:%Y%m%d}{seq:03d}",
    st.sampled_from(["110105", "310104", "440305", "510107"]),
    st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2005, 12, 31)),
    st.integers(min_value=0, max_value=999),
)


@settings(max_examples=200, deadline=None)
@given(ids, st.sampled_from("0123456789X"))
def test_vectorised_national_id_check_agrees_with_scalar(first17: str, last: str) -> None:
    value = first17 + last
    frame = pl.DataFrame({"id": [value]})
    problem = frame.select(cn_national_id_problem("id", latest_birth=pl.lit(dt.date(2026, 1, 1))).alias("p"))[
        "p"
    ].item()
    assert (problem is None) == is_valid_cn_national_id(value)
    if problem is not None:
        assert problem == f"check digit is wrong; expected {cn_national_id_check_digit(first17)}"


def test_national_id_reasons() -> None:
    frame = pl.DataFrame(
        {"id": ["11010519491231002X", "1101051949123100", "110105194913310021", "110105202601010029"]}
    )
    out = frame.select(cn_national_id_problem("id", latest_birth=pl.lit(dt.date(2025, 1, 1))).alias("p"))[
        "p"
    ].to_list()
    assert out == [
        None,
        "must be 18 characters: 17 digits and a check digit or X",
        "has no valid birth date in characters 7-14",
        "has a birth date after the loan was opened",
    ]


money_texts = st.one_of(
    st.from_regex(r"\A\s?\d{0,16}(,\d{3})*(\.\d{0,6})?\s?\Z", fullmatch=True),
    st.sampled_from(
        ["", " ", "1.2.3", "12abc", ".5", "5.", "1,,0", "abc", "-5", "99999999999999999999", "0.0"]
    ),
    st.text(alphabet="0123456789.,- x", max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), money_texts), st.sampled_from([0, 2, 3])), min_size=1))
def test_money_minor_columns_equal_the_expression_form(rows: list[tuple[str | None, int]]) -> None:
    frame = pl.DataFrame(rows, schema={"m": pl.String, "e": pl.Int32}, orient="row")
    expected = frame.select(money_minor("m", pl.col("e")).alias("x"))["x"]
    got = money_minor_columns(frame, {"x": "m"}, "e")
    assert got.columns == ["m", "e", "x"]
    assert got["x"].to_list() == expected.to_list()


id_texts = st.one_of(
    ids.flatmap(lambda first17: st.sampled_from([first17 + c for c in "0123456789Xx"])),
    st.sampled_from(
        ["", " 11010519491231002X ", "1101051949123100", "110105194913310021", "ABCDEFGHIJKLMNOPQR"]
    ),
    st.text(alphabet="0123456789X ", max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), id_texts), st.dates()), min_size=1))
def test_national_id_problems_equal_the_expression_form(rows: list[tuple[str | None, dt.date]]) -> None:
    frame = pl.DataFrame(rows, schema={"id": pl.String, "latest": pl.Date}, orient="row")
    expected = frame.select(cn_national_id_problem("id", latest_birth=pl.col("latest")).alias("p"))["p"]
    got = cn_national_id_problems(frame, "id", latest_birth="latest", out="p")
    assert got.columns == ["id", "latest", "p"]
    assert got["p"].to_list() == expected.to_list()


def test_column_problems_on_trimmed_copies_equal_the_plain_form() -> None:
    values = [None, "", "  ", " 12 ", "12.5", "x", "2026-02-30", " 2026-01-31 ", "zh", " en ", "fr", "a" * 70]
    frame = pl.DataFrame(
        {spec.name: values for spec in ACCOUNT_COLUMNS}, schema={s.name: pl.String for s in ACCOUNT_COLUMNS}
    )
    plain = collect_problems(frame, column_problems(ACCOUNT_COLUMNS, frame.columns))
    trimmed = with_stripped(frame, frame.columns)
    assert trimmed[stripped("debtor_id")].to_list()[3] == "12"
    fast = collect_problems(trimmed, column_problems(ACCOUNT_COLUMNS, frame.columns, use_stripped=True))
    assert fast[PROBLEMS].to_list() == plain[PROBLEMS].to_list()
    assert sum(len(p) for p in plain[PROBLEMS].to_list()) > len(values)
