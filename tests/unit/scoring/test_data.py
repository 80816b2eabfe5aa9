from __future__ import annotations

import gzip

import polars as pl
import pytest

from arrears.errors import FileFormatError, ValidationError
from arrears.scoring.data import FeatureKind, feature_kinds, load_table, numeric_values, prepare_target


def test_csv_gzip_and_parquet_read_the_same(tmp_path):
    frame = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "t": [0, 1, 0]})
    frame.write_csv(tmp_path / "f.csv")
    (tmp_path / "f.csv.gz").write_bytes(gzip.compress((tmp_path / "f.csv").read_bytes()))
    frame.write_parquet(tmp_path / "f.parquet")
    for name in ("f.csv", "f.csv.gz", "f.parquet"):
        assert load_table(tmp_path / name).equals(frame)


def test_unusable_files_are_refused(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        load_table(tmp_path / "missing.csv")
    (tmp_path / "x.xlsx").write_text("nope")
    with pytest.raises(FileFormatError, match="unsupported file type"):
        load_table(tmp_path / "x.xlsx")
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(FileFormatError, match="holds no data"):
        load_table(tmp_path / "empty.csv")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(FileFormatError, match="cannot read"):
        load_table(tmp_path / "bad.parquet")


def test_string_and_boolean_columns_are_categorical_dates_refused():
    frame = pl.DataFrame({"n": [1.0], "i": [1], "s": ["a"], "b": [True]})
    assert feature_kinds(frame) == {
        "n": FeatureKind.NUMERIC,
        "i": FeatureKind.NUMERIC,
        "s": FeatureKind.CATEGORICAL,
        "b": FeatureKind.CATEGORICAL,
    }
    with pytest.raises(ValidationError, match="no model can use"):
        feature_kinds(pl.DataFrame({"d": [pl.date(2024, 1, 1)]}).select(pl.col("d")))


def test_non_finite_numbers_are_missing():
    values = numeric_values(pl.Series([1.0, None, float("inf"), float("nan")]))
    assert values[0] == 1.0
    assert all(v != v for v in values[1:])  # NaN


def test_positive_value_matches_numbers_written_differently():
    frame = pl.DataFrame({"t": [0, 1, 1, 0]})
    assert prepare_target(frame, "t", None).tolist() == [0, 1, 1, 0]
    assert prepare_target(frame, "t", "1.0").tolist() == [0, 1, 1, 0]
    assert prepare_target(frame, "t", "0").tolist() == [1, 0, 0, 1]
    flags = pl.DataFrame({"t": [True, False]})
    assert prepare_target(flags, "t", None).tolist() == [1, 0]


def test_target_with_missing_values_is_refused():
    with pytest.raises(ValidationError, match="missing values"):
        prepare_target(pl.DataFrame({"t": [0, None, 1]}), "t", None)
