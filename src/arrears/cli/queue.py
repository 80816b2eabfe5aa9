"""`arrears queue build | show | reassign-idle | complete` and the collectors and teams behind them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from arrears import bootstrap
from arrears.allocation import service as svc
from arrears.allocation.agencies import resolve_accounts
from arrears.allocation.enums import WorkOutcome
from arrears.cli.common import console, handle_errors, print_json
from arrears.errors import FileFormatError, ValidationError
from arrears.portfolio.service import balances_frame
from arrears.store.db import UnitOfWork, utcnow

__all__ = ["app", "parse_day"]

app = typer.Typer(
    help="Collectors' work queues: build, show, complete, reassign idle work.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Date (YYYY-MM-DD); default today (UTC).")]
MethodOpt = Annotated[str, typer.Option("--method", help="round_robin, balanced or score.")]
_COMPONENTS = ("principal", "interest", "penalty", "compound", "fee", "cost")


def parse_day(value: str | None, field: str = "as_of") -> dt.date:
    """A YYYY-MM-DD date (today in UTC when absent), or a one-line :class:`ValidationError`."""
    if value is None:
        return utcnow().date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        flag = "--" + field.replace("_", "-")
        raise ValidationError(
            f"{flag}: {value!r} is not a date in the form YYYY-MM-DD", field=field
        ) from None


def _read_tasks(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise FileFormatError(f"no task file at {path}", field="tasks")
    try:
        if path.suffix.lower() == ".parquet":
            frame = pl.read_parquet(path).cast(pl.String)
        else:
            frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FileFormatError(f"{path} cannot be read as CSV or Parquet: {exc}", field="tasks") from None
    missing = [c for c in ("account", "pay_probability") if c not in frame.columns]
    if missing:
        raise FileFormatError(f"{path} lacks column(s) {', '.join(missing)}", field="tasks")
    return frame


def _work_from_file(session: Session, path: Path, as_of: dt.date) -> pl.DataFrame:
    """The task file as the work frame :func:`build_queues` takes (balances from the ledger if absent)."""
    frame = _read_tasks(path)
    ids = resolve_accounts(session, frame.get_column("account").to_list())
    lookup = pl.DataFrame(
        {
            "account": list(dict.fromkeys(e.strip() for e in frame["account"].to_list() if e.strip())),
            "account_id": ids,
        },
        schema={"account": pl.String, "account_id": pl.Int64},
    )
    frame = frame.with_columns(pl.col("account").str.strip_chars()).join(lookup, on="account", how="left")
    if "balance_minor" not in frame.columns:
        balances = balances_frame(session.connection(), as_of=as_of, account_ids=ids).select(
            "account_id",
            pl.sum_horizontal([f"{c}_minor" for c in _COMPONENTS]).cast(pl.String).alias("balance_minor"),
        )
        frame = frame.join(balances, on="account_id", how="left").with_columns(
            pl.col("balance_minor").fill_null("0")
        )
    if "urgency" not in frame.columns:
        frame = frame.with_columns(pl.lit("0").alias("urgency"))
    try:
        return frame.select(
            "account_id",
            pl.col("balance_minor").str.strip_chars().cast(pl.Int64),
            pl.col("pay_probability").str.strip_chars(),
            pl.col("urgency").str.strip_chars().cast(pl.Int64),
            *[pl.col(c) for c in ("language", "bucket", "product", "action_id") if c in frame.columns],
            *([pl.col("case_id").cast(pl.Int64)] if "case_id" in frame.columns else []),
        )
    except pl.exceptions.PolarsError:
        raise FileFormatError(
            f"{path}: balance_minor, urgency and case_id must be whole numbers", field="tasks"
        ) from None


@app.command()
@handle_errors
def build(
    tasks: Annotated[
        Path, typer.Option("--tasks", help="CSV or Parquet of call tasks (see docs/allocation.md).")
    ],
    as_of: AsOfOpt = None,
    method: MethodOpt = "round_robin",
    as_json: JsonOpt = False,
) -> None:
    """Queue a day's call tasks and assign them to collectors (rerunning the same day adds nothing)."""
    day = parse_day(as_of)
    chosen = svc.parse_method(method)
    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        work = _work_from_file(uow.session, tasks, day)
        report = svc.build_queues(
            uow.connection, as_of=day, work=work, method=chosen, now=utcnow(), actor=actor
        )
        uow.commit()
    result = {
        "as_of": report.as_of, "method": report.method, "queued": report.queued, "assigned": report.assigned,
        "unassigned": report.unassigned, "superseded": report.superseded, "by_collector": report.by_collector,
    }  # fmt: skip
    if as_json:
        print_json(result)
        return
    console.print(
        f"{day}: queued {report.queued}, assigned {report.assigned}, unassigned {report.unassigned}, "
        f"superseded {report.superseded} ({report.method})"
    )
    for code, n in report.by_collector.items():
        console.print(f"  {escape(code)}: {n}")


@app.command()
@handle_errors
def show(
    collector: Annotated[str, typer.Argument(help="Collector code.", show_default=False)],
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """COLLECTOR's open items queued on or before the date, in the order to work them."""
    day = parse_day(as_of)
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        items = svc.my_queue(uow.session, collector=collector, as_of=day)
    rows = [
        {
            "item": i.id, "account": i.account, "case_id": i.case_id, "action_id": i.action_id,
            "queued_on": i.queued_on, "balance_minor": i.balance_minor, "currency": i.currency,
            "pay_probability": i.pay_probability.normalize(), "expected_recovery_minor": i.expected_recovery_minor,
            "urgency": i.urgency, "language": i.language, "bucket": i.bucket, "product": i.product,
        }
        for i in items
    ]  # fmt: skip
    if as_json:
        print_json({"collector": collector, "as_of": day, "items": rows})
        return
    table = Table(title=f"{collector}'s queue on {day}: {len(rows)} open item(s)")
    columns = ("item", "account", "action_id", "queued_on", "expected_recovery_minor", "currency", "urgency")
    for column in columns:
        table.add_column(column)
    for r in rows:
        table.add_row(*[escape("" if r[c] is None else str(r[c])) for c in columns])
    console.print(table)


@app.command("reassign-idle")
@handle_errors
def reassign_idle(
    hours: Annotated[int, typer.Option("--hours", help="Move items untouched for this many hours.")],
    method: MethodOpt = "balanced",
    as_json: JsonOpt = False,
) -> None:
    """Move open items nobody has touched for HOURS (and items of deactivated collectors) to others."""
    chosen = svc.parse_method(method)
    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        report = svc.reassign_idle(uow.connection, now=utcnow(), idle_hours=hours, actor=actor, method=chosen)
        uow.commit()
    moves = [{"item": i, "from": f, "to": t} for i, f, t in report.moves]
    if as_json:
        print_json({"moved": report.moved, "stuck": report.stuck, "moves": moves})
        return
    console.print(f"moved {report.moved} item(s); {report.stuck} could not go to anyone else")


@app.command()
@handle_errors
def complete(
    item: Annotated[int, typer.Argument(help="Work item id.", show_default=False)],
    collector: Annotated[str, typer.Option("--collector", help="The collector whose item it is.")],
    outcome: Annotated[str, typer.Option("--outcome", help=", ".join(o.value for o in WorkOutcome))],
    as_json: JsonOpt = False,
) -> None:
    """Close an open item of COLLECTOR's queue with an outcome."""
    try:
        result = WorkOutcome(outcome)
    except ValueError:
        choices = ", ".join(o.value for o in WorkOutcome)
        raise ValidationError(
            f"unknown outcome {outcome!r}; choose one of {choices}", field="outcome"
        ) from None
    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        svc.complete_item(
            uow.session, item_id=item, collector=collector, outcome=result, actor=actor, now=utcnow()
        )
        uow.commit()
    if as_json:
        print_json({"item": item, "status": "done", "outcome": result})
    else:
        console.print(f"item {item} done: {result}")


@app.command("add-team")
@handle_errors
def add_team(
    code: Annotated[str, typer.Argument(help="Team code.", show_default=False)],
    name: Annotated[str, typer.Option("--name", help="Team name.")],
    as_json: JsonOpt = False,
) -> None:
    """Add a team of collectors."""
    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        team = svc.add_team(uow.session, code=code, name=name, actor=actor, now=utcnow())
        uow.commit()
    if as_json:
        print_json({"id": team.id, "code": team.code, "name": team.name})
    else:
        console.print(f"team {escape(team.code)} added")


def _collector_json(c: svc.CollectorView) -> dict[str, Any]:
    return {
        "code": c.code, "team": c.team, "languages": list(c.languages), "buckets": list(c.buckets),
        "products": list(c.products), "daily_capacity": c.daily_capacity, "score": c.score, "is_active": c.is_active,
    }  # fmt: skip


ListOpt = Annotated[list[str] | None, typer.Option(help="Repeat for several; none means any.")]


@app.command("add-collector")
@handle_errors
def add_collector(
    code: Annotated[str, typer.Argument(help="Collector code.", show_default=False)],
    team: Annotated[str, typer.Option("--team", help="Team code.")],
    capacity: Annotated[int, typer.Option("--capacity", help="Work items per day.")],
    language: ListOpt = None,
    bucket: ListOpt = None,
    product: ListOpt = None,
    score: Annotated[int, typer.Option("--score", help="Higher is filled first by the score method.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Add a collector with skills (language, bucket, product) and a daily capacity."""
    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        view = svc.add_collector(
            uow.session, code=code, team=team, daily_capacity=capacity, languages=language or (),
            buckets=bucket or (), products=product or (), score=score, actor=actor, now=utcnow(),
        )  # fmt: skip
        uow.commit()
    if as_json:
        print_json(_collector_json(view))
    else:
        console.print(f"collector {escape(view.code)} added to {escape(view.team)}")


@app.command("set-capacity")
@handle_errors
def set_capacity(
    code: Annotated[str, typer.Argument(help="Collector code.", show_default=False)],
    capacity: Annotated[int, typer.Argument(help="Work items per day.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Change a collector's daily capacity."""
    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        view = svc.set_capacity(
            uow.session, collector=code, daily_capacity=capacity, actor=actor, now=utcnow()
        )
        uow.commit()
    if as_json:
        print_json(_collector_json(view))
    else:
        console.print(f"{escape(view.code)}: {view.daily_capacity} items a day")


@app.command()
@handle_errors
def deactivate(
    code: Annotated[str, typer.Argument(help="Collector code.", show_default=False)], as_json: JsonOpt = False
) -> None:
    """Stop giving a collector work; their open items move at the next reassign-idle."""
    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        held = svc.deactivate_collector(uow.session, collector=code, actor=actor, now=utcnow())
        uow.commit()
    if as_json:
        print_json({"collector": code, "is_active": False, "open_items": held})
    else:
        console.print(f"{escape(code)} deactivated; {held} open item(s) to reassign")


@app.command()
@handle_errors
def collectors(as_json: JsonOpt = False) -> None:
    """Every collector with team, skills and capacity."""
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        views = svc.list_collectors(uow.session)
    if as_json:
        print_json([_collector_json(v) for v in views])
        return
    table = Table(title=f"{len(views)} collector(s)")
    for column in ("code", "team", "languages", "buckets", "products", "capacity", "score", "active"):
        table.add_column(column)
    for v in views:
        table.add_row(
            escape(v.code), escape(v.team), escape(",".join(v.languages) or "any"), escape(",".join(v.buckets) or "any"),
            escape(",".join(v.products) or "any"), str(v.daily_capacity), str(v.score), "yes" if v.is_active else "no",
        )  # fmt: skip
    console.print(table)
