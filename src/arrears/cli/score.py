"""``arrears score``: cross-validate, train and inspect scoring models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from arrears.cli.common import console, handle_errors, print_json

app = typer.Typer(
    help="Scoring: cross-validation of the scorecard and gradient-boosting models.", no_args_is_help=True
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
