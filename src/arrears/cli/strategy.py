"""`arrears strategy validate | simulate | publish | history`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from arrears import bootstrap
from arrears.cli.common import console, err_console, handle_errors, print_json
from arrears.domain.money import from_minor
from arrears.errors import ValidationError
from arrears.store.db import UnitOfWork, utcnow
from arrears.strategy.dsl import Strategy, StrategyReport, load_strategy
from arrears.strategy.service import publish_strategy, simulate_strategy, strategy_history

app = typer.Typer(help="Collection strategies: check, simulate, publish, history.", no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(help="Strategy file (.yaml, .yml or .toml).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _report_json(report: StrategyReport) -> dict[str, Any]:
    return {
        "valid": report.is_valid,
        "strategy": report.strategy.id if report.strategy else None,
        "problems": [
            {
                "severity": p.severity,
                "code": p.code,
                "message": p.message,
                "position": p.position,
                "segment": p.segment,
                "line": p.line,
                "file": p.file,
            }
            for p in report.problems
        ],
    }


def _print_problems(report: StrategyReport) -> None:
    for p in report.problems:
        colour = "red" if p.severity == "error" else "yellow"
        err_console.print(f"[{colour}]{escape(p.render())}[/]", highlight=False, soft_wrap=True)


def _checked(path: Path, as_json: bool) -> Strategy:
    report = load_strategy(path)
    if report.strategy is None:
        if as_json:
            print_json(_report_json(report))
        else:
            _print_problems(report)
            err_console.print(f"[bold red]error[/] {len(report.errors)} error(s) in {escape(str(path))}")
        raise typer.Exit(2)
    return report.strategy


@app.command()
@handle_errors
def validate(file: FileArg, as_json: JsonOpt = False) -> None:
    """Check a strategy file and report every problem with its segment and line; exit 2 when invalid."""
    report = load_strategy(file)
    if as_json:
        print_json(_report_json(report))
    else:
        _print_problems(report)
        if report.is_valid:
            strategy = report.strategy
            assert strategy is not None
            console.print(
                f"[green]ok[/] {escape(strategy.id)}: {len(strategy.segments)} segments, "
                f"{len(strategy.paths)} paths, {len(report.warnings)} warning(s)"
            )
        else:
            err_console.print(f"[bold red]error[/] {len(report.errors)} error(s) in {escape(str(file))}")
    if not report.is_valid:
        raise typer.Exit(2)


def _parse_date(value: str | None) -> dt.date:
    if value is None:
        return utcnow().date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"--as-of: {value!r} is not a date in the form YYYY-MM-DD", field="as_of"
        ) from None


@app.command()
@handle_errors
def simulate(
    file: FileArg,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date (YYYY-MM-DD); default today (UTC).")
    ] = None,
    first: Annotated[int, typer.Option("--first", help="How many of the first actions to show.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Show how today's accounts would be segmented and treated under FILE, without writing anything."""
    day = _parse_date(as_of)
    strategy = _checked(file, as_json)
    engine = bootstrap.engine()
    try:
        with UnitOfWork(engine) as uow:  # read-only: never committed
            plan = simulate_strategy(uow.session, engine, strategy=strategy, as_of=day)
    finally:
        engine.dispose()
    summary = plan.summary()
    actions = plan.actions.head(first)
    by_channel = plan.actions.group_by("kind", "channel").len().sort("kind", "channel", nulls_last=True)
    segments = [
        {
            "segment": r["segment"],
            "variant": r["variant"],
            "currency": r["currency"],
            "accounts": r["accounts"],
            "balance": from_minor(int(r["balance_minor"]), r["currency"]),
        }
        for r in summary.iter_rows(named=True)
    ]
    if as_json:
        print_json(
            {
                "strategy": strategy.id,
                "as_of": day,
                "accounts": plan.accounts.height,
                "segments": segments,
                "actions": plan.actions.height,
                "actions_by_channel": by_channel.to_dicts(),
                "first_actions": actions.to_dicts(),
            }
        )
        return
    table = Table(title=f"{strategy.id} on {day} — {plan.accounts.height} accounts segmented")
    for column in ("segment", "variant", "currency", "accounts", "balance"):
        table.add_column(column, justify="right" if column in ("accounts", "balance") else "left")
    for row in segments:
        table.add_row(
            row["segment"], row["variant"] or "", row["currency"], str(row["accounts"]), str(row["balance"])
        )
    console.print(table)
    columns = (
        "account_id",
        "segment",
        "variant",
        "kind",
        "channel",
        "template",
        "tone",
        "priority",
        "escalate_to",
    )
    shown = Table(title=f"first {actions.height} of {plan.actions.height} actions")
    for column in columns:
        shown.add_column(column)
    for r in actions.iter_rows(named=True):
        shown.add_row(*[escape("" if r[c] is None else str(r[c])) for c in columns])
    console.print(shown)


@app.command()
@handle_errors
def publish(file: FileArg, as_json: JsonOpt = False) -> None:
    """Check FILE and store it as the next version of its strategy (refused when it has any error)."""
    _checked(file, as_json)
    settings = bootstrap.settings()
    actor = settings.actor
    engine = bootstrap.engine()
    fmt = "toml" if file.suffix.lower() == ".toml" else "yaml"
    with UnitOfWork(engine) as uow:
        version = publish_strategy(
            uow.session,
            text=file.read_text(encoding="utf-8"),
            fmt=fmt,
            source=str(file),
            actor=actor,
            now=utcnow(),
        )
        uow.commit()
    if as_json:
        print_json(
            {
                "strategy": version.strategy_id,
                "number": version.number,
                "digest": version.digest,
                "published_by": version.published_by,
                "published_at": version.published_at,
                "is_new": version.is_new,
            }
        )
    elif version.is_new:
        console.print(f"published {escape(version.strategy_id)} version {version.number}")
    else:
        console.print(
            f"{escape(version.strategy_id)} version {version.number} already has this text; nothing added"
        )


@app.command()
@handle_errors
def history(
    strategy: Annotated[str | None, typer.Option("--strategy", help="Only this strategy id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every published version, newest first, with who published it and when."""
    engine = bootstrap.engine()
    try:
        with UnitOfWork(engine) as uow:
            versions = strategy_history(uow.session, strategy_id=strategy)
    finally:
        engine.dispose()
    rows: list[dict[str, Any]] = [
        {
            "strategy": v.strategy_id,
            "number": v.number,
            "digest": v.digest[:12],
            "published_by": v.published_by,
            "published_at": v.published_at,
        }
        for v in versions
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title="strategy versions")
    for column in ("strategy", "number", "digest", "published_by", "published_at"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *[escape(str(row[c])) for c in ("strategy", "number", "digest", "published_by")],
            row["published_at"].isoformat(),
        )
    console.print(table)
