"""`arrears score train|models|promote|rollback|psi|explain` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from arrears.cli.score import app
from arrears.scoring.tables import RegisteredModel, RegistryEventRow, ScoringSlot
from arrears.store.db import make_engine, upgrade
from arrears.store.tables import AuditEvent

runner = CliRunner()
root = typer.Typer()
root.add_typer(app, name="score")


pytestmark = pytest.mark.usefixtures("cli_user")


def _book(n: int, seed: int, shift: float = 0.0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    dpd = rng.poisson(20 + shift, n).astype(float)
    channel = rng.choice(["app", "branch"], n)
    logit = -1.5 + 0.08 * (dpd - 20) + np.where(channel == "branch", 0.7, 0.0)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pl.DataFrame(
        {"id": np.arange(n), "dpd": dpd, "channel": channel, "no_payment": np.where(y, "yes", "no")}
    )


@pytest.fixture
def db(cli_env: str) -> str:
    engine = make_engine(cli_env)
    upgrade(engine)
    engine.dispose()
    return cli_env


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(root, ["score", *args])
    return result.exit_code, result.stdout, result.stderr


def _counts(url: str) -> tuple[int, ...]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(
                int(conn.scalar(select(func.count()).select_from(t)) or 0)
                for t in (RegisteredModel, ScoringSlot, RegistryEventRow, AuditEvent)
            )
    finally:
        engine.dispose()


def _train(path: Path, *extra: str) -> dict:
    code, out, err = _run(
        "train", "--data", str(path), "--target", "no_payment", "--positive", "yes",
        "--purpose", "propensity_to_pay", "--drop", "id", "--folds", "2", "--json", *extra,
    )  # fmt: skip
    assert code == 0, err
    return json.loads(out)


def test_train_promote_rollback_psi_explain(db: str, tmp_path: Path) -> None:
    _book(500, 1).write_csv(tmp_path / "train.csv")
    _book(500, 2).write_csv(tmp_path / "train2.csv")
    _book(500, 3).write_csv(tmp_path / "same.csv")
    _book(500, 4, shift=25.0).write_parquet(tmp_path / "shifted.parquet")

    first = _train(tmp_path / "train.csv")
    second = _train(tmp_path / "train2.csv", "--model", "scorecard")
    assert (first["purpose"], first["kind"], first["features"]) == (
        "propensity_to_pay",
        "scorecard",
        ["dpd", "channel"],
    )
    assert second["kind"] == "scorecard"
    assert first["metrics"]["rows"] == 500.0
    assert _counts(db)[:3] == (2, 0, 2)

    code, out, _ = _run("models", "--json")
    assert code == 0
    listed = json.loads(out)["models"]
    assert [m["model_id"] for m in listed] == [first["model_id"], second["model_id"]]
    assert [m["is_promoted"] for m in listed] == [False, False]

    code, out, _ = _run("promote", first["model_id"], "--json")
    assert code == 0
    assert json.loads(out) | {"at": None} == {
        "action": "promoted", "purpose": "propensity_to_pay", "model_id": first["model_id"],
        "previous_model_id": None, "actor": "tester", "at": None,
    }  # fmt: skip
    assert _run("promote", second["model_id"])[0] == 0
    code, out, _ = _run("rollback", "--purpose", "propensity_to_pay", "--json")
    assert code == 0
    event = json.loads(out)
    assert (event["action"], event["model_id"], event["previous_model_id"]) == (
        "rolled_back",
        first["model_id"],
        second["model_id"],
    )
    code, out, _ = _run("models", "--purpose", "propensity_to_pay", "--json")
    assert [m["is_promoted"] for m in json.loads(out)["models"]] == [True, False]
    assert _counts(db) == (2, 1, 5, 5)

    code, out, _ = _run("psi", "--model", first["model_id"], "--data", str(tmp_path / "same.csv"), "--json")
    assert code == 0
    same = json.loads(out)
    assert same["warning"] is False
    assert {c["column"] for c in same["columns"]} == {"dpd", "channel", "score"}
    code, out, _ = _run(
        "psi", "--model", first["model_id"], "--data", str(tmp_path / "shifted.parquet"), "--json"
    )
    shifted = json.loads(out)
    assert shifted["warning"] is True
    by_column = {c["column"]: c for c in shifted["columns"]}
    assert by_column["dpd"]["is_drifting"] is True and by_column["score"]["is_drifting"] is True
    assert by_column["channel"]["is_drifting"] is False
    assert shifted["columns"][0]["psi"] >= shifted["columns"][-1]["psi"]

    risky = _book(500, 3).with_row_index("row").filter((pl.col("channel") == "branch") & (pl.col("dpd") > 30))
    row = int(risky.get_column("row")[0])
    code, out, _ = _run(
        "explain", first["model_id"], "--data", str(tmp_path / "same.csv"), "--row", str(row), "--json"
    )
    assert code == 0
    explained = json.loads(out)
    assert explained["row"] == row and explained["model_id"] == first["model_id"]
    assert [r["feature"] for r in explained["reasons"]] == ["dpd", "channel"] or [
        r["feature"] for r in explained["reasons"]
    ] == ["channel", "dpd"]
    assert {r["feature"]: r["value"] for r in explained["reasons"]}["channel"] == "branch"
    assert explained["score"] == round(1000 * (1 - explained["probability"]))


def test_refusals_exit_2_with_one_line_and_change_nothing(db: str, tmp_path: Path) -> None:
    _book(300, 1).write_csv(tmp_path / "train.csv")
    trained = _train(tmp_path / "train.csv")
    before = _counts(db)
    attempts = [
        ("train", "--data", str(tmp_path / "nope.csv"), "--target", "no_payment", "--purpose", "propensity_to_pay"),
        ("train", "--data", str(tmp_path / "train.csv"), "--target", "no_payment", "--purpose", "luck"),
        ("train", "--data", str(tmp_path / "train.csv"), "--target", "no_payment", "--purpose",
         "propensity_to_pay", "--model", "forest"),
        ("train", "--data", str(tmp_path / "train.csv"), "--target", "missing", "--purpose", "roll_forward"),
        ("rollback", "--purpose", "luck"),
        ("promote", "not a model id"),
        ("explain", trained["model_id"], "--data", str(tmp_path / "train.csv"), "--row", "300"),
        ("psi", "--model", trained["model_id"], "--data", str(tmp_path / "nope.parquet")),
    ]  # fmt: skip
    for args in attempts:
        code, out, err = _run(*args)
        assert code == 2, (args, err)
        assert out == ""
        assert len(err.strip().splitlines()) == 1 and err.startswith("error"), err
    assert _run("promote", "feedfeedfeedfeed")[0] == 4
    assert _run("rollback", "--purpose", "roll_forward")[0] == 5
    assert _counts(db) == before
