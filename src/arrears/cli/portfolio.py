"""`arrears import ...`, `arrears account ...`, `arrears portfolio ...`, `arrears product ...`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from arrears import bootstrap
from arrears.access.permissions import Permission
from arrears.cli.common import console, err_console, handle_errors, print_json
from arrears.cli.users import ActAs, actor, check_permission, unit_of_work
from arrears.portfolio.accounts_import import import_accounts
from arrears.portfolio.payments_import import import_payments
from arrears.portfolio.products import add_products, ensure_builtin_products, product_catalogue
from arrears.portfolio.report import ImportReport
from arrears.portfolio.service import portfolio_summary
from arrears.privacy.service import view_account
from arrears.store.db import UnitOfWork, utcnow

import_app = typer.Typer(help="Load accounts and payments from the loan system.", no_args_is_help=True)
account_app = typer.Typer(help="Look at one account.", no_args_is_help=True)
portfolio_app = typer.Typer(help="The whole book.", no_args_is_help=True)
product_app = typer.Typer(
    help="Products: currency, rounding, interest, fees, waterfall.", no_args_is_help=True
)

AsOf = Annotated[
    str | None,
    typer.Option("--as-of", help="Date to look at (YYYY-MM-DD); default today (UTC).", show_default=False),
]


def _as_of(value: str | None) -> dt.date:
    if value is None:
        return utcnow().date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        err_console.print(f"[bold red]error[/] --as-of: {value!r} is not a date in the form YYYY-MM-DD")
        raise typer.Exit(2) from None


def _count_lines(path: Path) -> int | None:
    if not path.name.lower().endswith(".csv") or not path.is_file():
        return None
    with path.open("rb") as fh:
        return max(sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) - 1, 0)


def _run_import(kind: str, path: Path, as_json: bool, as_user: str | None) -> None:
    settings = bootstrap.settings()
    who = check_permission(Permission.IMPORT_DATA, as_user)
    total = _count_lines(path)
    runner = import_accounts if kind == "accounts" else import_payments
    with bootstrap.open_engine() as engine, Progress(
        SpinnerColumn(), TextColumn(f"importing {kind}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, disable=as_json or not err_console.is_terminal, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task(kind, total=total)
        report: ImportReport = runner(
            engine=engine, path=path, actor=who, now=utcnow(), batch_rows=settings.import_batch_rows,
            progress=lambda n: progress.advance(task, n),
        )  # fmt: skip
    if as_json:
        print_json(
            {**report.counts(), "rejects_file": str(report.rejects_path) if report.rejects_path else None}
        )
    else:
        console.print(
            f"{path.name}: {report.rows_read} rows read — {report.rows_inserted} added, {report.rows_updated} "
            f"updated, {report.rows_unchanged} unchanged, {report.rows_rejected} rejected"
        )
        if report.rejects_path:
            console.print(f"rejected rows, with the field and reason for each: {report.rejects_path}")
    raise typer.Exit(report.exit_code)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@import_app.command("accounts")
@handle_errors
def import_accounts_command(file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON Lines file")],
                            as_json: JsonFlag = False, as_user: ActAs = None) -> None:  # fmt: skip
    """Import accounts with their debtors, schedules and balances (exit 0 all taken, 3 some rejected,
    2 file unusable)."""
    _run_import("accounts", file, as_json, as_user)


@import_app.command("payments")
@handle_errors
def import_payments_command(file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON Lines file")],
                            as_json: JsonFlag = False, as_user: ActAs = None) -> None:  # fmt: skip
    """Import payments and allocate them by each product's waterfall (same exit statuses)."""
    _run_import("payments", file, as_json, as_user)


@account_app.command("show")
@handle_errors
def account_show(
    account_id: Annotated[str, typer.Argument(help="The account_id given at import")],
    as_of: AsOf = None,
    as_json: JsonFlag = False,
    reveal: Annotated[
        bool,
        typer.Option("--reveal", help="Show personal data unmasked (needs reveal_personal_data; audited)."),
    ] = False,
    as_user: ActAs = None,
) -> None:
    """Balances by component, days past due, bucket, schedule and ledger of one account.

    Personal data is masked unless --reveal is given by a user allowed to see it; a reveal is audited.
    """
    day = _as_of(as_of)
    with unit_of_work() as uow:
        view = view_account(uow.session, actor=actor(as_user), account_id=account_id, as_of=day, now=utcnow(),
                            reveal=reveal)  # fmt: skip
        uow.commit()  # the reveal's audit event, when there is one
    if as_json:
        print_json(view.__dict__)
        return
    console.print(
        f"[bold]{view.external_id}[/]  {view.product}  {view.currency}  status {view.status}  as of {view.as_of}"
    )
    d = view.debtor
    console.print(
        f"debtor {d['debtor_id']}: {d['name']}  ID {d['national_id'] or '-'}  ({d['jurisdiction']})"
    )
    for c in d["contacts"]:
        console.print(f"  {c['kind']} ({c['place']}): {c['value']}")
    console.print(
        f"days past due [bold]{view.dpd}[/]  bucket [bold]{view.bucket}[/] ({view.bucket_scheme})  "
        f"oldest unpaid due {view.oldest_unpaid_due_on or '-'}  overdue {view.overdue}"
    )
    balances = Table(title="balances")
    for name in [*view.balances, "total"]:
        balances.add_column(name, justify="right")
    balances.add_row(*[str(v) for v in view.balances.values()], str(view.total))
    console.print(balances)
    schedule = Table(title="schedule")
    for name in ("#", "due on", "principal", "interest", "state"):
        schedule.add_column(name, justify="right")
    for item in view.schedule:
        schedule.add_row(str(item["number"]), str(item["due_on"]), str(item["principal"]), str(item["interest"]),
                         item["state"])  # fmt: skip
    console.print(schedule)
    ledger = Table(title="ledger")
    for name in ("effective", "kind", "key", *view.balances):
        ledger.add_column(name, justify="right")
    for e in view.ledger:
        ledger.add_row(str(e["effective_on"]), e["kind"], e["key"], *[str(e[c]) for c in view.balances])
    console.print(ledger)


@portfolio_app.command("summary")
@handle_errors
def portfolio_summary_command(as_of: AsOf = None, as_json: JsonFlag = False, as_user: ActAs = None) -> None:
    """Accounts, balances and overdue amounts by delinquency bucket (needs view_all_accounts)."""
    day = _as_of(as_of)
    check_permission(Permission.VIEW_ALL_ACCOUNTS, as_user)
    with bootstrap.open_engine() as engine:
        rows = portfolio_summary(engine, as_of=day)
    if as_json:
        print_json({"buckets": [r.__dict__ for r in rows]})
        return
    table = Table(title="portfolio by bucket")
    for name in ("scheme", "bucket", "currency", "accounts", "balance", "overdue"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(r.scheme, r.bucket, r.currency, f"{r.accounts:,}", f"{r.balance:,}", f"{r.overdue:,}")
    console.print(table)


@product_app.command("list")
@handle_errors
def product_list(as_json: JsonFlag = False, as_user: ActAs = None) -> None:
    """The products accounts can be imported under."""
    check_permission(Permission.VIEW_ACCOUNTS, as_user)
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        ensure_builtin_products(uow.session, now=utcnow())
        products = product_catalogue(uow.session)
        uow.commit()
    if as_json:
        print_json({code: p.model_dump(mode="json") for code, p in products.items()})
        return
    table = Table(title="products")
    for name in ("code", "name", "currency", "rounding", "waterfall", "buckets"):
        table.add_column(name)
    for code, p in sorted(products.items()):
        table.add_row(code, p.name, p.currency, str(p.rounding), str(p.allocation), str(p.bucket_scheme))
    console.print(table)


@product_app.command("add")
@handle_errors
def product_add(file: Annotated[Path, typer.Argument(help="A TOML file of [[product]] tables")],
                as_user: ActAs = None) -> None:  # fmt: skip
    """Add or replace products from a file (all validated before any is written)."""
    check_permission(Permission.MANAGE_PRODUCTS, as_user)
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        written = add_products(uow.session, file, now=utcnow())
        uow.commit()
    console.print(f"products written: {', '.join(written) or 'none (no changes)'}")
