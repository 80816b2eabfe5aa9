"""``arrears compliance``: check a proposed contact, store the decision, report on stored decisions."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import typer

from arrears import bootstrap
from arrears.cli.common import console, handle_errors, print_json
from arrears.compliance.service import (
    check,
    compliance_report,
    fingerprint,
    read_request_text,
    record_decision,
)
from arrears.domain.compliance.packs import load_overrides, load_packs
from arrears.errors import FileFormatError, ValidationError
from arrears.store.db import UnitOfWork, utcnow

app = typer.Typer(help="Compliance: allow, delay, block or review a proposed contact.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Compliance engine commands."""


@app.command("check")
@handle_errors
def check_command(
    json_file: str = typer.Option(..., "--json", help="Request file (JSON); '-' reads standard input."),
    overrides: Path | None = typer.Option(None, "--overrides", help="YAML file of tuned rule parameters."),
    record: bool = typer.Option(False, "--record", help="Store the decision (needs --subject)."),
    subject: str | None = typer.Option(None, "--subject", help="Account, debtor or case reference."),
) -> None:
    """Print the decision for one request. Exit 0 for any decision, 2 for a request that cannot be read.

    With ``--record --subject REF`` the decision is stored with the request's fingerprint (never
    the request itself) and an audit event, in one transaction.
    """
    if record and not (subject or "").strip():
        raise ValidationError("--subject: required with --record (the account, debtor or case reference)",
                              field="subject")  # fmt: skip
    if json_file == "-":
        text, source = sys.stdin.read(), "stdin"
    else:
        try:
            text = Path(json_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FileFormatError(f"cannot read {json_file}: {exc}", source=json_file) from None
        source = json_file
    request = read_request_text(text, source)
    packs = load_packs(load_overrides(overrides)) if overrides else load_packs()
    decision = check(request, packs=packs)
    output = decision.to_dict()
    if record:
        assert subject is not None
        settings = bootstrap.settings()
        engine = bootstrap.engine()
        try:
            with UnitOfWork(engine) as uow:
                row = record_decision(
                    uow.session,
                    decision=decision,
                    fingerprint=fingerprint(request),
                    actor=settings.actor,
                    subject=subject,
                    channel=request.proposed.channel,
                    at=utcnow(),
                    packs=packs,
                )
                uow.commit()
                output["recorded"] = {"id": row.id, "fingerprint": row.fingerprint}
        finally:
            engine.dispose()
    print_json(output)


def _day(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{option}: must be a date as YYYY-MM-DD, got {value!r}", field=option
        ) from None


@app.command("report")
@handle_errors
def report_command(
    start: str = typer.Option(..., "--from", help="First day (UTC), YYYY-MM-DD."),
    end: str = typer.Option(..., "--to", help="Last day (UTC, included), YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Stored decisions between two days (UTC, both included): counts by outcome and by rule."""
    first, last = _day(start, "--from"), _day(end, "--to")
    if last < first:
        raise ValidationError("--to: must not be earlier than --from", field="to")
    lower = dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC)
    upper = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    engine = bootstrap.engine()
    try:
        with UnitOfWork(engine) as uow:
            rows = compliance_report(uow.session, start=lower, end=upper)
    finally:
        engine.dispose()
    if as_json:
        print_json({"from": first, "to": last, "rows": [row.to_dict() for row in rows]})
        return
    console.print(f"[bold]Compliance decisions[/] {first} to {last}")
    if not rows:
        console.print("no decisions stored in this period")
        return
    for row in rows:
        label = f"outcome {row.key}" if row.kind == "outcome" else f"rule {row.key} ({row.outcome})"
        console.print(f"  {label:<60} {row.count:>8}")
