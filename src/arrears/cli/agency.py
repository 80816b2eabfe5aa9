"""`arrears agency add | evaluate | agreement | place | recall | results | list`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from arrears import bootstrap
from arrears.allocation import agencies as ag
from arrears.cli.common import console, handle_errors, print_json
from arrears.cli.queue import parse_day
from arrears.errors import FileFormatError, ValidationError
from arrears.store.db import UnitOfWork, utcnow

__all__ = ["app"]

app = typer.Typer(help="Outside collection agencies: terms, paperwork, placements, recalls, results.",
                  no_args_is_help=True)  # fmt: skip

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
CodeArg = Annotated[str, typer.Argument(help="Agency code.", show_default=False)]
AccountsOpt = Annotated[
    list[str] | None, typer.Option("--account", help="Account external id; repeat for several.")
]
FileOpt = Annotated[
    Path | None, typer.Option("--accounts-file", help="Text or CSV file: one external id a line.")
]


def _agency_json(a: ag.AgencyView) -> dict[str, Any]:
    return {
        "code": a.code, "name": a.name, "commission_rate": a.commission_rate, "placement_days": a.placement_days,
        "recall_idle_days": a.recall_idle_days, "compliance_evaluated_on": a.compliance_evaluated_on,
        "dpa_signed_on": a.dpa_signed_on, "dpa_reference": a.dpa_reference,
    }  # fmt: skip


def _external_ids(accounts: list[str] | None, file: Path | None) -> list[str]:
    ids = list(accounts or [])
    if file is not None:
        if not file.is_file():
            raise FileFormatError(f"no accounts file at {file}", field="accounts_file")
        lines = [line.split(",")[0].strip() for line in file.read_text(encoding="utf-8").splitlines()]
        ids.extend(line for line in lines if line and line not in ("account", "external_id"))
    if not ids:
        raise ValidationError("name the accounts with --account or --accounts-file", field="accounts")
    return ids


def _account_ids(session: Session, accounts: list[str] | None, file: Path | None) -> list[int]:
    return ag.resolve_accounts(session, _external_ids(accounts, file))


@app.command()
@handle_errors
def add(
    code: CodeArg,
    name: Annotated[str, typer.Option("--name", help="Agency name.")],
    commission: Annotated[str, typer.Option("--commission", help="Share of gross collections, e.g. 0.25.")],
    days: Annotated[int, typer.Option("--days", help="Placement term in days (automatic recall after).")],
    recall_idle_days: Annotated[
        int | None,
        typer.Option("--recall-idle-days", help="Recall a placement without payment for this long."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an agency with its commission and placement terms."""
    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        view = ag.add_agency(
            uow.session, code=code, name=name, commission_rate=commission, placement_days=days,
            recall_idle_days=recall_idle_days, actor=actor, now=utcnow(),
        )  # fmt: skip
        uow.commit()
    if as_json:
        print_json(_agency_json(view))
    else:
        console.print(
            f"agency {escape(view.code)} added: commission {view.commission_rate}, {view.placement_days} days"
        )


@app.command()
@handle_errors
def evaluate(
    code: CodeArg,
    on: Annotated[str, typer.Option("--on", help="Date of the compliance evaluation (YYYY-MM-DD).")],
    as_json: JsonOpt = False,
) -> None:
    """Record the agency's compliance evaluation (GB/T 45251—2025: placements need one within a year)."""
    day = parse_day(on, "on")
    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        view = ag.record_evaluation(uow.session, agency=code, evaluated_on=day, actor=actor, now=utcnow())
        uow.commit()
    if as_json:
        print_json(_agency_json(view))
    else:
        console.print(f"{escape(code)} evaluated on {day}")


@app.command()
@handle_errors
def agreement(
    code: CodeArg,
    signed_on: Annotated[
        str, typer.Option("--signed-on", help="Date the agreement was signed (YYYY-MM-DD).")
    ],
    reference: Annotated[str, typer.Option("--reference", help="The agreement's reference.")],
    as_json: JsonOpt = False,
) -> None:
    """Record the data-processing agreement with the agency (PIPL art. 21)."""
    day = parse_day(signed_on, "signed_on")
    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        view = ag.record_agreement(
            uow.session, agency=code, signed_on=day, reference=reference, actor=actor, now=utcnow()
        )
        uow.commit()
    if as_json:
        print_json(_agency_json(view))
    else:
        console.print(f"{escape(code)}: agreement {escape(reference)} signed on {day}")


@app.command()
@handle_errors
def place(
    code: CodeArg,
    on: Annotated[
        str | None, typer.Option("--on", help="Placement date (YYYY-MM-DD); default today.")
    ] = None,
    account: AccountsOpt = None,
    accounts_file: FileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Place accounts with an agency (refused without a current evaluation and agreement)."""
    day = parse_day(on, "on")
    actor = bootstrap.settings().actor
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        ids = _account_ids(uow.session, account, accounts_file)
        report = ag.place_accounts(
            uow.session, agency=code, account_ids=ids, on=day, actor=actor, now=utcnow()
        )
        uow.commit()
    if as_json:
        print_json({"agency": report.agency, "placed_on": report.on, "ends_on": report.ends_on,
                    "accounts": report.accounts, "balance_minor": report.balance_minor})  # fmt: skip
    else:
        console.print(f"placed {report.accounts} account(s) with {escape(code)} until {report.ends_on}")


@app.command()
@handle_errors
def recall(
    code: Annotated[
        str | None, typer.Argument(help="Agency code (not with --expired).", show_default=False)
    ] = None,
    on: Annotated[str | None, typer.Option("--on", help="Recall date (YYYY-MM-DD); default today.")] = None,
    account: AccountsOpt = None,
    accounts_file: FileOpt = None,
    reason: Annotated[str, typer.Option("--reason", help="Why the accounts are recalled.")] = "manual",
    expired: Annotated[
        bool,
        typer.Option("--expired", help="Recall every placement whose term or no-payment rule has run out."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Recall accounts from an agency, or (--expired) every placement whose term has run out."""
    day = parse_day(on, "on")
    actor = bootstrap.settings().actor
    if expired == (code is not None):
        raise ValidationError("give an agency code and accounts, or --expired alone", field="agency")
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        if expired:
            counts = ag.recall_expired(uow.connection, as_of=day, actor=actor, now=utcnow())
        else:
            assert code is not None
            ids = _account_ids(uow.session, account, accounts_file)
            n = ag.recall_accounts(
                uow.session, agency=code, account_ids=ids, on=day, reason=reason, actor=actor, now=utcnow()
            )
            counts = {reason: n}
        uow.commit()
    if as_json:
        print_json({"recalled_on": day, "recalled": counts})
    else:
        total = sum(counts.values())
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
        console.print(f"recalled {total} placement(s)" + (f" ({escape(detail)})" if detail else ""))


@app.command()
@handle_errors
def results(
    code: Annotated[str | None, typer.Argument(help="Agency code; all agencies when absent.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date (YYYY-MM-DD); default today.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Liquidation rate (gross collected / balance placed) by placement month and months since placement."""
    day = parse_day(as_of)
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        frame = ag.agency_results(uow.session, as_of=day, agency=code)
    rows = frame.to_dicts()
    if as_json:
        print_json({"as_of": day, "rows": rows})
        return
    table = Table(title=f"agency results on {day}")
    columns = list(frame.columns)
    for column in columns:
        table.add_column(column.replace("_", " "))
    for r in rows:
        table.add_row(*[escape(str(r[c])) for c in columns])
    console.print(table)


@app.command("list")
@handle_errors
def list_(as_json: JsonOpt = False) -> None:
    """Every agency with its terms and compliance paperwork."""
    with bootstrap.open_engine() as engine, UnitOfWork(engine) as uow:
        views = ag.list_agencies(uow.session)
    if as_json:
        print_json([_agency_json(v) for v in views])
        return
    for v in views:
        console.print(
            f"{escape(v.code)}: commission {v.commission_rate}, {v.placement_days} days, "
            f"evaluated {v.compliance_evaluated_on or 'never'}, agreement {v.dpa_signed_on or 'none'}"
        )
