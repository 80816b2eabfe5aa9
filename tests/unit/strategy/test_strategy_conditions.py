"""Conditions: parsing, feature and type checks, evaluation with defaults."""

from __future__ import annotations

import polars as pl
import pytest

from arrears.strategy.conditions import FEATURES, ConditionError, compile_condition, with_feature_defaults


def _eval(text: str, **columns: list[object]) -> list[bool]:
    frame = with_feature_defaults(pl.DataFrame(columns))
    return frame.select(compile_condition(text).expr).to_series().to_list()


def test_analyst_condition_evaluates_row_by_row() -> None:
    result = _eval(
        "dpd between 1 and 30 and score >= 600 and not hardship",
        dpd=[1, 30, 31, 15, 15],
        score=[600, 900, 700, 599, 650],
        hardship=[False, False, False, False, True],
    )
    assert result == [True, True, False, False, False]


def test_missing_supplied_feature_uses_default_and_null_is_not_met() -> None:
    # score has no default (unscored): "score >= 600" is not met; promises_broken defaults to 0.
    assert _eval("score >= 600", dpd=[5]) == [False]
    assert _eval("promises_broken = 0", dpd=[5]) == [True]
    assert _eval("score < 600", dpd=[5]) == [False]


def test_text_in_list_and_decimal_balance() -> None:
    frame = pl.DataFrame({"bucket": ["M1", "M2", "M4"], "balance_minor": [1, 2, 3]})
    frame = frame.with_columns(pl.Series("balance", ["5000.00", "5000.01", "1.00"]).cast(pl.Decimal(38, 4)))
    got = with_feature_defaults(frame).select(
        compile_condition("bucket in ('M2', 'M4') and balance > 5000").expr
    )
    assert got.to_series().to_list() == [False, True, False]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("dpd +", "unparsable"),
        ("", "unparsable"),
        ("dpd > 30 and colour = 'red'", "unknown_feature"),
        ("bucket > 5", "type_mismatch"),
        ("dpd > 'x'", "type_mismatch"),
        ("hardship > 3", "type_mismatch"),
        ("not dpd", "type_mismatch"),
        ("dpd", "type_mismatch"),
        ("dpd in ('a', 'b')", "type_mismatch"),
    ],
)
def test_bad_conditions_are_named(text: str, kind: str) -> None:
    with pytest.raises(ConditionError) as info:
        compile_condition(text)
    assert info.value.kind == kind


def test_unknown_feature_message_names_it() -> None:
    with pytest.raises(ConditionError, match="unknown feature colour"):
        compile_condition("colour = 'red'")


def test_features_used_are_reported() -> None:
    assert compile_condition("dpd > 3 or (dpd < 1 and dispute)").features == ("dpd", "dispute")


def test_every_feature_has_a_description() -> None:
    assert all(f.description for f in FEATURES.values())
    assert {"dpd", "bucket", "balance", "score", "promises_broken", "days_since_rpc", "hardship", "dispute",
            "stage", "language", "paid_last_30d", "first_payment_default"} <= set(FEATURES)  # fmt: skip
