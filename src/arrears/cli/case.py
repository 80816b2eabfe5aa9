"""``arrears case``: the collection case from the command line.

Each command opens a unit of work, calls one service function, commits, and prints a line (or JSON
with ``--json``). Amounts are typed as decimals in the case's currency; dates as YYYY-MM-DD. Bad input
gets a one-line error naming the option and exit status 2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from arrears import bootstrap
from arrears.cases import closure, confirmation, contacts, legal, listing, negotiation, service
from arrears.cli.common import console, handle_errors, print_json
from arrears.domain.money import from_minor, parse_decimal, to_minor
from arrears.errors import ValidationError
from arrears.store.db import UnitOfWork, utcnow

__all__ = ["app"]

app = typer.Typer(
    help="Collection cases: contact, confirmation, negotiation, escalation, legal, closure.",
    no_args_is_help=True,
)

JSON = typer.Option(False, "--json", help="Print JSON.")
AS_OF = typer.Option(None, "--as-of", metavar="DATE", help="Balances on this date (default: today, UTC).")
ROLE = typer.Option(
    "collector", "--role", help="The acting role (collector, supervisor, administrator, ...)."
)


def _date(value: str | None, option: str, *, default_today: bool = True) -> dt.date:
    if value is None:
        if default_today:
            return utcnow().date()
        raise ValidationError(f"{option} is required", field=option)
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            f"{option}: {value!r} is not a date in YYYY-MM-DD form", field=option, value=value
        ) from None


def _minor(value: str, option: str, currency: str) -> int:
    try:
        amount = parse_decimal(value, field=option)
        return to_minor(amount, currency)
    except ValidationError as exc:
        raise ValidationError(f"{option}: {exc.message}", field=option, value=value) from None


def _run(action: Callable[[Session, dt.datetime, str], Any]) -> Any:
    """Run one service call in a unit of work as the configured actor; commit when it succeeds."""
    actor = bootstrap.settings().actor
    engine = bootstrap.engine()
    try:
        with UnitOfWork(engine) as uow:
            result = action(uow.session, utcnow(), actor)
            uow.commit()
            return result
    finally:
        engine.dispose()


def _currency(session: Session, case_id: int) -> str:
    return service.get_case(session, case_id).currency


def _done(as_json: bool, data: dict[str, Any], message: str) -> None:
    if as_json:
        print_json(data)
    else:
        console.print(message, highlight=False)


@app.command()
@handle_errors
def show(case_id: int, as_of: str | None = AS_OF, as_json: bool = JSON) -> None:
    """Stage, holds, owner, accounts with balances and DPD, promises, plans, concessions, legal."""
    day = _date(as_of, "--as-of")
    view = _run(lambda s, now, actor: service.case_view(s, case_id, as_of=day))
    if as_json:
        print_json(view)
        return
    cur = view["currency"]
    console.print(
        f"Case {view['case_id']} · {view['stage']} · debtor {view['debtor_id']} · {view['creditor']}",
        highlight=False,
    )
    for row in view["accounts"]:
        console.print(
            f"  {row['account']}: {from_minor(row['total_minor'], cur)} {cur}, DPD {row['dpd']}",
            highlight=False,
        )
    console.print(f"  holds: {', '.join(h['kind'] for h in view['holds']) or 'none'}", highlight=False)


@app.command("list")
@handle_errors
def list_(
    stage: Annotated[
        list[str] | None,
        typer.Option("--stage", help="Only this stage (repeatable; default: every open stage)."),
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Only cases owned by this code.")] = None,
    held: Annotated[
        bool | None, typer.Option("--held/--not-held", help="Only cases with (without) an active hold.")
    ] = None,
    min_dpd: Annotated[
        int | None, typer.Option("--min-dpd", help="Only cases at least this far past due.")
    ] = None,
    order: Annotated[str, typer.Option("--order", help="balance | dpd | opened | id.")] = "balance",
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows (1-10000).")] = 50,
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """The cases you may see, largest balance first: stage, owner, balance, DPD, holds."""
    day = _date(as_of, "--as-of")
    rows = _run(
        lambda s, now, actor: listing.list_cases(
            s, actor=actor, as_of=day, stages=stage, owner=owner, held=held, min_dpd=min_dpd,
            order=order, limit=limit,
        )
    )  # fmt: skip
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    table = Table(title=f"{len(rows)} case(s) on {day}")
    for column in ("case", "stage", "debtor", "owner", "accounts", "balance", "overdue", "DPD", "holds"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.case_id), r.stage, escape(r.debtor_id), escape(r.owner or "-"), str(r.accounts),
            f"{from_minor(r.total_minor, r.currency)} {r.currency}", f"{from_minor(r.overdue_minor, r.currency)}",
            str(r.dpd), escape(", ".join(r.holds) or "-"),
        )  # fmt: skip
    console.print(table)


@app.command()
@handle_errors
def timeline(case_id: int, as_json: bool = JSON) -> None:
    """Everything that happened to the case, oldest first."""
    items = _run(lambda s, now, actor: service.case_timeline(s, case_id))
    if as_json:
        print_json(items)
        return
    for item in items:
        what = item.get("action") or f"{item['channel']} {item['outcome']}"
        console.print(f"{item['at'].isoformat()}  {item['actor']}  {what}", highlight=False)


@app.command("open")
@handle_errors
def open_(
    debtor_id: str,
    account: list[str] = typer.Option(
        [], "--account", help="Account to include (repeat; default: all open)."
    ),
    creditor: str = typer.Option("own", "--creditor"),
    owner: str | None = typer.Option(None, "--owner"),
    owner_kind: str = typer.Option("team", "--owner-kind", help="collector, team or agency."),
    as_json: bool = JSON,
) -> None:
    """Open a case for a debtor's accounts."""
    case = _run(
        lambda s, now, actor: service.open_case(
            s,
            debtor_external_id=debtor_id,
            account_external_ids=account or None,
            creditor=creditor,
            owner=owner,
            owner_kind=owner_kind,
            actor=actor,
            at=now,
        )
    )
    _done(as_json, {"case_id": case.id, "stage": case.stage}, f"opened case {case.id}")


@app.command("log-contact")
@handle_errors
def log_contact(
    case_id: int,
    channel: str = typer.Option(..., "--channel", help="call, sms, email, letter, visit, voicemail, chat."),
    outcome: str = typer.Option(
        ..., "--outcome", help="e.g. no_answer, right_party_conversation, promise_made."
    ),
    direction: str = typer.Option("outbound", "--direction"),
    recipient: str = typer.Option("debtor", "--recipient"),
    made_by: str = typer.Option("collector", "--made-by", help="collector, agency or ai_voice."),
    person: int | None = typer.Option(None, "--person", help="Person id for a third party."),
    duration: int | None = typer.Option(None, "--duration", help="Seconds."),
    recording: str | None = typer.Option(None, "--recording"),
    notes: str | None = typer.Option(None, "--notes"),
    as_json: bool = JSON,
) -> None:
    """Record a contact attempt or conversation."""
    record = _run(
        lambda s, now, actor: contacts.log_contact(
            s,
            case_id=case_id,
            channel=channel,
            outcome=outcome,
            direction=direction,
            recipient=recipient,
            made_by=made_by,
            person_id=person,
            duration_seconds=duration,
            recording_ref=recording,
            notes=notes,
            actor=actor,
            at=now,
        )
    )
    _done(as_json, {"contact_id": record.id, "outcome": record.outcome}, f"logged contact {record.id}")


@app.command("verify-identity")
@handle_errors
def verify_identity(
    case_id: int,
    method: str = typer.Option(..., "--method", help="knowledge_questions, one_time_code, id_document, ..."),
    failed: bool = typer.Option(False, "--failed", help="Record a failed check."),
    as_json: bool = JSON,
) -> None:
    """Record an identity verification (before debt details are disclosed)."""
    check = _run(
        lambda s, now, actor: contacts.verify_identity(
            s, case_id=case_id, method=method, is_passed=not failed, actor=actor, at=now
        )
    )
    _done(as_json, {"check_id": check.id, "passed": check.is_passed}, f"identity check {check.id} recorded")


@app.command()
@handle_errors
def confirm(case_id: int, as_json: bool = JSON) -> None:
    """Initial contact → confirmed."""
    _run(lambda s, now, actor: confirmation.confirm_case(s, case_id=case_id, actor=actor, at=now))
    _done(as_json, {"case_id": case_id, "stage": "confirmed"}, f"case {case_id} confirmed")


@app.command()
@handle_errors
def itemise(
    case_id: int,
    itemisation_date: str = typer.Option(..., "--itemisation-date"),
    notice_provided_on: str | None = typer.Option(None, "--notice-provided-on"),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """Itemise the debt since the itemisation date; with a notice date, the validation period."""
    item = _run(
        lambda s, now, actor: confirmation.itemise_debt(
            s,
            case_id=case_id,
            itemisation_on=_date(itemisation_date, "--itemisation-date"),
            as_of=_date(as_of, "--as-of"),
            notice_provided_on=None
            if notice_provided_on is None
            else _date(notice_provided_on, "--notice-provided-on"),
            actor=actor,
            at=now,
        )
    )
    cur = item.currency
    data = {
        "itemisation_on": item.itemisation_on,
        "itemisation": from_minor(item.itemisation_minor, cur),
        "interest": from_minor(item.interest_minor, cur),
        "fees": from_minor(item.fees_minor, cur),
        "payments": from_minor(item.payments_minor, cur),
        "credits": from_minor(item.credits_minor, cur),
        "current": from_minor(item.current_minor, cur),
        "currency": cur,
        "assumed_receipt_on": item.assumed_receipt_on,
        "validation_ends_on": item.validation_ends_on,
    }
    _done(
        as_json,
        data,
        f"current {data['current']} {cur}; validation period ends {item.validation_ends_on or '-'}",
    )


@app.command()
@handle_errors
def dispute(
    case_id: int,
    form: str = typer.Option(..., "--form", help="oral or written."),
    account: str | None = typer.Option(None, "--account"),
    notes: str | None = typer.Option(None, "--notes"),
    verification_sent: int | None = typer.Option(
        None, "--verification-sent", help="Dispute id: verification sent."
    ),
    as_json: bool = JSON,
) -> None:
    """Record a dispute (received now), or that verification of one was sent."""
    if verification_sent is not None:
        done = _run(
            lambda s, now, actor: confirmation.send_verification(
                s, dispute_id=verification_sent, actor=actor, at=now
            )
        )
        _done(
            as_json,
            {"dispute_id": done.id, "status": done.status},
            f"verification of dispute {done.id} recorded",
        )
        return
    record = _run(
        lambda s, now, actor: confirmation.record_dispute(
            s,
            case_id=case_id,
            form=form,
            received_at=now,
            account_external_id=account,
            notes=notes,
            actor=actor,
            at=now,
        )
    )
    _done(
        as_json,
        {"dispute_id": record.id, "pauses_collection": record.pauses_collection},
        f"dispute {record.id} recorded; collection {'paused' if record.pauses_collection else 'continues'}",
    )


@app.command()
@handle_errors
def promise(
    case_id: int,
    amount: str = typer.Option(..., "--amount"),
    due: str = typer.Option(..., "--due", metavar="DATE"),
    channel: str = typer.Option("call", "--channel"),
    as_json: bool = JSON,
) -> None:
    """Record a promise to pay."""
    made = _run(
        lambda s, now, actor: negotiation.make_promise(
            s,
            case_id=case_id,
            amount_minor=_minor(amount, "--amount", _currency(s, case_id)),
            due_on=_date(due, "--due"),
            channel=channel,
            actor=actor,
            at=now,
        )
    )
    _done(as_json, {"promise_id": made.id, "status": made.status}, f"promise {made.id} recorded")


@app.command()
@handle_errors
def plan(
    case_id: int,
    months: int = typer.Option(0, "--months", help="Number of instalments (1-60)."),
    first_due: str | None = typer.Option(None, "--first-due", metavar="DATE"),
    total: str | None = typer.Option(None, "--total", help="Amount to plan (default: the case balance)."),
    income: str | None = typer.Option(None, "--income"),
    expenses: str | None = typer.Option(None, "--expenses"),
    dependants: int = typer.Option(0, "--dependants"),
    reason: str | None = typer.Option(None, "--reason", help="Why a plan above affordability is proposed."),
    accept: int | None = typer.Option(None, "--accept", help="Plan id: the debtor accepted it."),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """Propose an instalment plan, or accept one with --accept PLAN_ID."""
    if accept is not None:
        done = _run(lambda s, now, actor: negotiation.accept_plan(s, plan_id=accept, actor=actor, at=now))
        _done(as_json, {"plan_id": done.id, "status": done.status}, f"plan {done.id} accepted")
        return

    def propose(s: Session, now: dt.datetime, actor: str) -> Any:
        cur = _currency(s, case_id)
        return negotiation.propose_plan(
            s,
            case_id=case_id,
            months=months,
            first_due_on=_date(first_due, "--first-due", default_today=False),
            as_of=_date(as_of, "--as-of"),
            total_minor=None if total is None else _minor(total, "--total", cur),
            income_minor=None if income is None else _minor(income, "--income", cur),
            expenses_minor=None if expenses is None else _minor(expenses, "--expenses", cur),
            dependants=dependants,
            override_reason=reason,
            actor=actor,
            at=now,
        )

    made = _run(propose)
    cur = made.currency
    data = {
        "plan_id": made.id,
        "status": made.status,
        "total": from_minor(made.total_minor, cur),
        "currency": cur,
        "above_affordability": made.is_above_affordability,
        "instalments": [
            {"due_on": d, "amount": from_minor(a, cur)}
            for d, a in zip(made.instalments["due_on"], made.instalments["amount"], strict=True)
        ],
    }
    _done(as_json, data, f"plan {made.id} proposed: {len(data['instalments'])} instalments")


def _concession_json(c: Any) -> dict[str, Any]:
    return {
        "concession_id": c.id,
        "kind": c.kind,
        "status": c.status,
        "concession": from_minor(c.concession_minor, c.currency),
        "currency": c.currency,
    }


@app.command()
@handle_errors
def settle(
    case_id: int,
    amount: str = typer.Option(..., "--amount", help="What the debtor pays; the rest is waived."),
    pay_by: str = typer.Option(..., "--pay-by", metavar="DATE"),
    reason: str = typer.Option(..., "--reason"),
    role: str = ROLE,
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """Offer a settlement; above your authority it waits for approval."""
    made = _run(
        lambda s, now, actor: negotiation.offer_settlement(
            s,
            case_id=case_id,
            settlement_minor=_minor(amount, "--amount", _currency(s, case_id)),
            pay_by_on=_date(pay_by, "--pay-by"),
            reason=reason,
            as_of=_date(as_of, "--as-of"),
            actor=actor,
            actor_role=role,
            at=now,
        )
    )
    _done(as_json, _concession_json(made), f"settlement {made.id}: {made.status}")


@app.command()
@handle_errors
def waive(
    case_id: int,
    account: str = typer.Option(..., "--account"),
    penalty: str | None = typer.Option(None, "--penalty"),
    compound: str | None = typer.Option(None, "--compound"),
    fee: str | None = typer.Option(None, "--fee"),
    reason: str = typer.Option(..., "--reason"),
    role: str = ROLE,
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """Waive (减免) penalty interest, compound interest or fees on one account."""

    def request(s: Session, now: dt.datetime, actor: str) -> Any:
        cur = _currency(s, case_id)
        amounts = {
            k: _minor(v, f"--{k}", cur)
            for k, v in (("penalty", penalty), ("compound", compound), ("fee", fee))
            if v is not None
        }
        return negotiation.request_waiver(
            s,
            case_id=case_id,
            account_external_id=account,
            amounts_minor=amounts,
            reason=reason,
            as_of=_date(as_of, "--as-of"),
            actor=actor,
            actor_role=role,
            at=now,
        )

    made = _run(request)
    _done(as_json, _concession_json(made), f"waiver {made.id}: {made.status}")


@app.command()
@handle_errors
def approve(
    concession_id: int,
    role: str = ROLE,
    reject: str | None = typer.Option(None, "--reject", metavar="REASON", help="Refuse it, with the reason."),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """Approve (or --reject) a waiver or settlement waiting for approval."""
    if reject is not None:
        done = _run(
            lambda s, now, actor: negotiation.reject_concession(
                s, concession_id=concession_id, reason=reject, actor=actor, actor_role=role, at=now
            )
        )
    else:
        done = _run(
            lambda s, now, actor: negotiation.approve_concession(
                s,
                concession_id=concession_id,
                as_of=_date(as_of, "--as-of"),
                actor=actor,
                actor_role=role,
                at=now,
            )
        )
    _done(as_json, _concession_json(done), f"concession {done.id}: {done.status}")


@app.command()
@handle_errors
def escalate(case_id: int, reason: str = typer.Option(..., "--reason"), as_json: bool = JSON) -> None:
    """Escalate the case (催收升级)."""
    _run(lambda s, now, actor: legal.escalate_case(s, case_id=case_id, reason=reason, actor=actor, at=now))
    _done(as_json, {"case_id": case_id, "stage": "escalated"}, f"case {case_id} escalated")


@app.command("refer-legal")
@handle_errors
def refer_legal(case_id: int, as_of: str | None = AS_OF, as_json: bool = JSON) -> None:
    """Refer an escalated case to legal when the criteria hold."""
    matter = _run(
        lambda s, now, actor: legal.refer_to_legal(
            s, case_id=case_id, as_of=_date(as_of, "--as-of"), actor=actor, at=now
        )
    )
    _done(
        as_json,
        {"case_id": case_id, "stage": "legal", "matter_id": matter.id},
        f"case {case_id} referred to legal",
    )


@app.command("legal")
@handle_errors
def legal_step(
    case_id: int,
    step: str = typer.Option(..., "--step", help="demand_letter, filing, hearing, judgment, enforcement."),
    court: str | None = typer.Option(None, "--court"),
    reference: str | None = typer.Option(None, "--reference"),
    deadline: str | None = typer.Option(None, "--deadline", metavar="DATE"),
    deadline_label: str | None = typer.Option(None, "--deadline-label"),
    asset_freeze: bool = typer.Option(False, "--asset-freeze"),
    cost: str | None = typer.Option(None, "--cost", help="A legal cost to post to the cost component."),
    account: str | None = typer.Option(None, "--account", help="Account the cost is posted to."),
    as_json: bool = JSON,
) -> None:
    """Advance the legal matter one step; optionally post a legal cost."""

    def act(s: Session, now: dt.datetime, actor: str) -> Any:
        matter = legal.advance_legal(
            s,
            case_id=case_id,
            step=step,
            court=court,
            reference_no=reference,
            deadline_on=None if deadline is None else _date(deadline, "--deadline"),
            deadline_label=deadline_label,
            is_asset_frozen=True if asset_freeze else None,
            actor=actor,
            at=now,
        )
        if cost is not None:
            if account is None:
                raise ValidationError("--account names the account a --cost is posted to", field="--account")
            legal.post_legal_cost(
                s,
                case_id=case_id,
                account_external_id=account,
                amount_minor=_minor(cost, "--cost", _currency(s, case_id)),
                memo=f"legal cost: {step}",
                effective_on=now.date(),
                actor=actor,
                at=now,
            )
        return matter

    matter = _run(act)
    _done(
        as_json,
        {"case_id": case_id, "step": matter.step, "costs_minor": matter.costs_minor},
        f"legal matter of case {case_id}: {matter.step}",
    )


@app.command()
@handle_errors
def hold(
    case_id: int,
    kind: str = typer.Option(
        ..., "--kind", help="dispute, cease_contact, attorney, bankruptcy, deceased, hardship, ..."
    ),
    reason: str | None = typer.Option(None, "--reason"),
    until: str | None = typer.Option(None, "--until", metavar="DATE"),
    as_json: bool = JSON,
) -> None:
    """Place a hold on the case."""
    made = _run(
        lambda s, now, actor: service.place_hold(
            s,
            case_id=case_id,
            kind=kind,
            reason=reason,
            until_on=None if until is None else _date(until, "--until"),
            actor=actor,
            at=now,
        )
    )
    _done(as_json, {"hold_id": made.id, "kind": made.kind}, f"hold {made.id} placed")


@app.command()
@handle_errors
def release(hold_id: int, reason: str | None = typer.Option(None, "--reason"), as_json: bool = JSON) -> None:
    """Release a hold."""
    done = _run(
        lambda s, now, actor: service.release_hold(s, hold_id=hold_id, reason=reason, actor=actor, at=now)
    )
    _done(as_json, {"hold_id": done.id, "released": True}, f"hold {done.id} released")


@app.command()
@handle_errors
def close(
    case_id: int,
    reason: str = typer.Option(
        ..., "--reason", help="paid_in_full, settled, cured, written_off, recalled, ..."
    ),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """Resolve the case with a reason; prints the closure record (结清证明 data)."""
    record = _run(
        lambda s, now, actor: closure.resolve_case(
            s, case_id=case_id, reason=reason, as_of=_date(as_of, "--as-of"), actor=actor, at=now
        )
    )
    cur = record.currency
    data = {
        "case_id": case_id,
        "reason": record.reason,
        "resolved_on": record.resolved_on,
        "currency": cur,
        "paid": from_minor(record.paid_minor, cur),
        "waived": from_minor(record.waived_minor, cur),
        "remaining": from_minor(record.remaining_minor, cur),
        "accounts": record.accounts,
    }
    _done(as_json, data, f"case {case_id} resolved: {record.reason}")
