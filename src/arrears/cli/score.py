"""``arrears score``: cross-validate, train and inspect scoring models."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.table import Table
from sqlalchemy.orm import Session

from arrears.cli.common import console, handle_errors, print_json
from arrears.errors import ValidationError
from arrears.store.db import UnitOfWork, utcnow

app = typer.Typer(
    help="Scoring: cross-validation, training, the model registry, drift and explanations.",
    no_args_is_help=True,
)


@app.command("cv")
@handle_errors
def cv(
    data: Annotated[Path, typer.Option("--data", help="CSV, .csv.gz or Parquet file")],
    target: Annotated[str, typer.Option("--target", help="outcome column")],
    positive: Annotated[
        str | None, typer.Option("--positive", help="value of the target that marks the event")
    ] = None,
    model: Annotated[str, typer.Option("--model", help="scorecard, gbm or all")] = "all",
    folds: Annotated[int, typer.Option("--folds", help="folds per repeat")] = 5,
    repeats: Annotated[int, typer.Option("--repeats", help="repeats of the k-fold split")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="random seed of the splits and models")] = 42,
    drop: Annotated[
        list[str] | None, typer.Option("--drop", help="column to leave out (repeatable), e.g. an id")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Repeated stratified cross-validation: mean and spread of AUC, KS, Gini and Brier per model."""
    from arrears.scoring import cross_validate, load_table

    frame = load_table(data)
    result = cross_validate(
        frame,
        target=target,
        positive=positive,
        models=model,
        folds=folds,
        repeats=repeats,
        seed=seed,
        drop=tuple(drop or ()),
    )
    if as_json:
        print_json(result.to_json())
        return
    table = Table(
        title=f"{data.name}: {result.rows} rows, event rate {result.event_rate:.3f}, "
        f"{folds} folds × {repeats} repeats, seed {seed}"
    )
    for column in ("model", "AUC", "KS", "Gini", "Brier"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, summary in result.models.items():
        table.add_row(
            name,
            f"{summary.auc_mean:.4f} ± {summary.auc_sd:.4f}",
            f"{summary.ks_mean:.4f} ± {summary.ks_sd:.4f}",
            f"{summary.gini_mean:.4f} ± {summary.gini_sd:.4f}",
            f"{summary.brier_mean:.4f} ± {summary.brier_sd:.4f}",
        )
    console.print(table)


# ---------------------------------------------------------------------------------------------------
# The model registry


def _in_transaction(action: Callable[[Session, dt.datetime, str], Any]) -> Any:
    """Run one service call in a unit of work as the configured actor; commit when it succeeds."""
    from arrears import bootstrap

    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        result = action(uow.session, utcnow(), actor)
        uow.commit()
        return result


def _reading(action: Callable[[Session], Any]) -> Any:
    """Run a read-only query in a unit of work that is rolled back."""
    from arrears import bootstrap

    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        return action(uow.session)


def _load(data: Path, drop: list[str] | None) -> pl.DataFrame:
    from arrears.scoring import load_table

    frame = load_table(data)
    unknown = [c for c in drop or () if c not in frame.columns]
    if unknown:
        raise ValidationError(f"--drop names unknown columns: {', '.join(unknown)}", columns=unknown)
    return frame.drop(drop or [])


def _metric_text(metrics: dict[str, Any]) -> str:
    auc = metrics.get("auc_mean")
    return "" if auc is None else f"{float(auc):.4f}"


@app.command("train")
@handle_errors
def train(
    data: Annotated[Path, typer.Option("--data", help="CSV, .csv.gz or Parquet file")],
    target: Annotated[str, typer.Option("--target", help="outcome column")],
    purpose: Annotated[str, typer.Option("--purpose", help="propensity_to_pay or roll_forward")],
    positive: Annotated[
        str | None,
        typer.Option("--positive", help="value of the target that marks the event (no payment; a roll)"),
    ] = None,
    model: Annotated[str, typer.Option("--model", help="scorecard or gbm")] = "scorecard",
    drop: Annotated[
        list[str] | None, typer.Option("--drop", help="column to leave out (repeatable), e.g. an id")
    ] = None,
    folds: Annotated[int, typer.Option("--folds", help="cross-validation folds for the stored metrics")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="random seed of the splits and models")] = 42,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Train a model on a file, cross-validate it, and register it (not yet promoted)."""
    from arrears.scoring import GBMConfig, ModelKind, train_model
    from arrears.scoring.service import register_model

    if model not in {k.value for k in ModelKind}:
        raise ValidationError(f"--model must be scorecard or gbm, not {model!r}", model=model)
    frame = _load(data, drop)
    if target not in frame.columns:
        raise ValidationError(f"no column {target!r} in {data.name}", target=target)
    trained = train_model(
        frame,
        target=target,
        positive=positive,
        purpose=purpose,
        kind=model,
        created_at=utcnow(),
        cv_folds=folds,
        seed=seed,
        # a registered model scores the whole book daily: fewer, deeper trees (GBMConfig.for_batch)
        gbm_config=GBMConfig.for_batch(seed=seed),
    )
    model_id = _in_transaction(lambda s, now, actor: register_model(s, model=trained, actor=actor, at=now))
    summary = {
        "model_id": model_id,
        "purpose": trained.purpose.value,
        "kind": trained.kind.value,
        "features": list(trained.features),
        "training_fingerprint": trained.training_fingerprint,
        "metrics": trained.metrics,
        "created_at": trained.created_at,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"registered {model_id} ({trained.kind.value}, {trained.purpose.value}), "
        f"cross-validated AUC {_metric_text(trained.metrics)}; promote it with "
        f"`arrears score promote {model_id}`",
        highlight=False,
    )


@app.command("models")
@handle_errors
def models(
    purpose: Annotated[str | None, typer.Option("--purpose", help="only models of this purpose")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the registered models, oldest first; the promoted one of each purpose is marked."""
    from arrears.scoring.service import list_models

    found = _reading(lambda s: list_models(s, purpose=purpose))
    if as_json:
        print_json({"models": found})
        return
    table = Table(title="models")
    for column in ("model_id", "purpose", "kind", "created_at", "AUC", "promoted"):
        table.add_column(column)
    for m in found:
        table.add_row(
            m["model_id"],
            m["purpose"],
            m["kind"],
            m["created_at"].isoformat(timespec="seconds"),
            _metric_text(m["metrics"]),
            "yes" if m["is_promoted"] else "",
        )
    console.print(table)


def _print_event(event: Any, as_json: bool) -> None:
    if as_json:
        print_json(event.to_dict())
        return
    before = f" (was {event.previous_model_id})" if event.previous_model_id else ""
    console.print(
        f"{event.purpose.value}: {event.model_id} now in force{before}; {event.action.value} by {event.actor}",
        highlight=False,
    )


@app.command("promote")
@handle_errors
def promote(
    model_id: Annotated[str, typer.Argument(help="id of a registered model")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Make a model the one that scores its purpose (audited)."""
    from arrears.scoring.service import promote_model

    event = _in_transaction(lambda s, now, actor: promote_model(s, model_id=model_id, actor=actor, at=now))
    _print_event(event, as_json)


@app.command("rollback")
@handle_errors
def rollback(
    purpose: Annotated[str, typer.Option("--purpose", help="propensity_to_pay or roll_forward")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Return a purpose to the model promoted before the current one (audited)."""
    from arrears.scoring.service import rollback_model

    event = _in_transaction(lambda s, now, actor: rollback_model(s, purpose=purpose, actor=actor, at=now))
    _print_event(event, as_json)


@app.command("psi")
@handle_errors
def psi(
    model_id: Annotated[str, typer.Option("--model", help="id of a registered model")],
    data: Annotated[Path, typer.Option("--data", help="current population: CSV, .csv.gz or Parquet")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Population stability of a file against the model's training data, per feature and for the score."""
    from arrears.scoring import PSI_WARNING
    from arrears.scoring.service import get_model

    trained = _reading(lambda s: get_model(s, model_id))
    results = trained.stability(_load(data, None))
    rows = [
        {"column": r.column, "kind": kind, "psi": round(r.psi, 6), "is_drifting": r.is_drifting}
        for kind, r in results
    ]
    warning = any(r["is_drifting"] for r in rows)
    if as_json:
        print_json({"model_id": model_id, "threshold": PSI_WARNING, "warning": warning, "columns": rows})
        return
    table = Table(title=f"PSI against the training data of {model_id} (warning above {PSI_WARNING})")
    for column in ("column", "kind", "PSI", ""):
        table.add_column(column, justify="right" if column == "PSI" else "left")
    for r in rows:
        table.add_row(r["column"], r["kind"], f"{r['psi']:.4f}", "WARNING" if r["is_drifting"] else "")
    console.print(table)
    if warning:
        console.print(f"warning: PSI above {PSI_WARNING}; review the model", highlight=False)


@app.command("explain")
@handle_errors
def explain(
    model_id: Annotated[str, typer.Argument(help="id of a registered model")],
    data: Annotated[Path, typer.Option("--data", help="CSV, .csv.gz or Parquet file with the row")],
    row: Annotated[int, typer.Option("--row", help="row number in the file, from 0")],
    top: Annotated[int, typer.Option("--top", help="how many reasons")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Why a model scored one row as it did: the reason codes (PIPL art. 24 explanation)."""
    from arrears.scoring.service import get_model

    trained = _reading(lambda s: get_model(s, model_id))
    frame = _load(data, None)
    if not 0 <= row < frame.height:
        raise ValidationError(f"--row must be between 0 and {frame.height - 1}", row=row, rows=frame.height)
    if top < 1:
        raise ValidationError("--top must be at least 1", top=top)
    scored = trained.score_frame(frame.slice(row, 1), top=top)
    probability = float(scored.get_column("probability")[0])
    reasons = [r for r in scored.select(f"reason_{i + 1}" for i in range(top)).row(0) if r is not None]
    # Reason codes may name derived features (shares, column-family summaries): computed as scored.
    values = trained.model().with_derived(frame.slice(row, 1)).row(0, named=True)
    doc = {
        "model_id": model_id,
        "purpose": trained.purpose.value,
        "row": row,
        "probability": round(probability, 6),
        "score": round(1000 * (1 - probability)),
        "reasons": [{"feature": r, "value": values[r]} for r in reasons],
    }
    if as_json:
        print_json(doc)
        return
    console.print(
        f"row {row}: score {doc['score']} (probability of the event {probability:.4f}) by model {model_id}",
        highlight=False,
    )
    for i, reason in enumerate(doc["reasons"], start=1):
        console.print(f"  {i}. {reason['feature']} = {reason['value']}", highlight=False)
    if not doc["reasons"]:
        console.print("  no feature pulled this score down", highlight=False)
