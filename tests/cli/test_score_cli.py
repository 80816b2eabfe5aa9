from __future__ import annotations

import gzip
import json

import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from arrears.cli.score import app

runner = CliRunner()
# mounted the way the arrears command mounts it: `arrears score cv ...`
root = typer.Typer()
root.add_typer(app, name="score")


def _book(n: int = 300, seed: int = 11) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    kind = rng.choice(["a", "b"], n)
    y = rng.random(n) < 1 / (1 + np.exp(-(1.5 * x + (kind == "b"))))
    return pl.DataFrame({"id": np.arange(n), "x": x, "kind": kind, "status": np.where(y, "bad", "good")})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cv")
    frame = _book()
    frame.write_csv(folder / "book.csv")
    (folder / "book.csv.gz").write_bytes(gzip.compress((folder / "book.csv").read_bytes()))
    frame.write_parquet(folder / "book.parquet")
    return folder


def _run(*args: str):
    return runner.invoke(root, ["score", "cv", *args])


@pytest.mark.parametrize("name", ["book.csv", "book.csv.gz", "book.parquet"])
def test_json_output_has_the_documented_shape_for_every_format(files, name):
    result = _run(
        "--data", str(files / name), "--target", "status", "--positive", "bad", "--model", "scorecard",
        "--folds", "3", "--repeats", "1", "--drop", "id", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc) == ["models"]
    assert list(doc["models"]) == ["scorecard"]
    assert list(doc["models"]["scorecard"]) == ["auc_mean", "auc_sd", "ks_mean", "gini_mean", "brier_mean"]
    assert doc["models"]["scorecard"]["auc_mean"] > 0.7


def test_formats_give_identical_figures(files):
    outs = [
        _run(
            "--data",
            str(files / n),
            "--target",
            "status",
            "--positive",
            "bad",
            "--model",
            "scorecard",
            "--folds",
            "3",
            "--repeats",
            "1",
            "--drop",
            "id",
            "--json",
        ).stdout
        for n in ("book.csv", "book.parquet")
    ]
    assert outs[0] == outs[1]


def test_table_output_lists_the_model_and_every_metric(files):
    # the table path is the same for every model; gradient boosting is covered by the JSON tests of
    # cross_validate with a fast configuration, the default one is too slow for a unit test
    result = _run(
        "--data", str(files / "book.csv"), "--target", "status", "--positive", "bad", "--model", "scorecard",
        "--folds", "2", "--repeats", "1", "--drop", "id",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for word in ("book.csv", "300 rows", "scorecard", "AUC", "KS", "Gini", "Brier", "±"):
        assert word in result.stdout
    assert "gbm" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "{d}/absent.csv", "--target", "status"], "no such file"),
        (["--data", "{d}/book.csv", "--target", "nope"], "unknown target column"),
        (
            [
                "--data",
                "{d}/book.csv",
                "--target",
                "kind",
                "--positive",
                "a",
                "--drop",
                "status",
                "--drop",
                "x",
                "--drop",
                "id",
            ],
            "no feature",
        ),
        (
            ["--data", "{d}/book.csv", "--target", "status", "--positive", "bad", "--repeats", "0"],
            "at least 1",
        ),
        (["--data", "{d}/book.csv", "--target", "x"], "exactly two classes"),
        (["--data", "{d}/book.csv", "--target", "status"], "--positive"),
        (
            ["--data", "{d}/book.csv", "--target", "status", "--positive", "bad", "--model", "svm"],
            "unknown model",
        ),
        (["--data", "{d}/book.csv", "--target", "status", "--positive", "bad", "--folds", "1"], "at least 2"),
        (
            ["--data", "{d}/book.csv", "--target", "status", "--positive", "bad", "--drop", "zzz"],
            "unknown columns",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(files, args, message):
    result = _run(*[a.format(d=files) for a in args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
