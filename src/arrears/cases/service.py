"""Collection cases: opening, the stage machine, holds, balances, and what a case shows.

Every state change is one keyword-only function with a required ``actor`` that writes its audit event
(``subject_type="case"``) in the caller's transaction; services never commit. A changed case bumps its
``version`` so that two collectors changing the same case cannot both win: the second gets a
:class:`~arrears.errors.ConflictError` naming the case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from arrears.audit.entry import decode_entry
from arrears.audit.log import record_event, record_event_frame
from arrears.cases.policy import default_policy
from arrears.cases.tables import (
    Case,
    CaseAccount,
    CaseHold,
    ClosureRecord,
    Concession,
    ContactRecord,
    LegalMatter,
    Plan,
    Promise,
)
from arrears.domain.cases.enums import Event, HoldKind, LegalStep, ResolutionReason, Stage
from arrears.domain.cases.machine import CaseFacts, Transition, fire
from arrears.domain.cases.policy import CasePolicy
from arrears.domain.ledger import Component
from arrears.domain.positions import explode_schedules, positions
from arrears.errors import ConflictError, NotFoundError, ValidationError
from arrears.portfolio.service import balances_frame
from arrears.store import tables
from arrears.store.bulk import allocate_ids, insert_frame
from arrears.store.sql import packed

__all__ = [
    "COMPONENTS",
    "active_holds",
    "append_event_frame",
    "audit_case",
    "case_accounts",
    "case_positions",
    "case_timeline",
    "case_view",
    "exclude_account",
    "facts_for",
    "fire_event",
    "flush_case",
    "get_case",
    "insert_new_case_links",
    "insert_new_cases",
    "open_case",
    "open_cases_for_overdue",
    "open_legal_matter",
    "parse_choice",
    "place_hold",
    "positions_frame",
    "release_hold",
]

COMPONENTS = tuple(c.value for c in Component)


# -- loading and saving -----------------------------------------------------------------------------


def get_case(session: Session, case_id: int, *, expected_version: int | None = None) -> Case:
    """The case ``case_id``; with ``expected_version``, refuse a case someone else has changed since."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError(f"no case {case_id}; list cases with `arrears case show`", case=case_id)
    if expected_version is not None and case.version != expected_version:
        raise ConflictError(
            f"case {case_id} was changed by someone else (version {case.version}, you had "
            f"{expected_version}); reload it and try again",
            case=case_id,
            version=case.version,
        )
    return case


def flush_case(session: Session, case: Case) -> None:
    """Write pending changes; a concurrent change to the case becomes a ConflictError naming it."""
    case_id = case.id  # read before the flush: a failed flush leaves the row unreadable
    try:
        session.flush()
    except StaleDataError:
        raise ConflictError(
            f"case {case_id} was changed by someone else at the same time; reload it and try again",
            case=case_id,
        ) from None


def audit_case(
    session: Session,
    case: Case,
    *,
    actor: str,
    action: str,
    at: dt.datetime,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Touch the case (bumping its version) and record the audit event of a change to it."""
    case.updated_at = at
    # Always an UPDATE of the case row, so that its version moves even when only child rows changed.
    flag_modified(case, "updated_at")
    flush_case(session, case)
    record_event(
        session,
        actor=actor,
        action=action,
        subject_type="case",
        subject_id=str(case.id),
        at=at,
        before=before,
        after=after,
        details=details,
    )


# -- accounts, balances, positions ------------------------------------------------------------------


def case_accounts(session: Session, case: Case, *, include_excluded: bool = False) -> list[tables.Account]:
    """The accounts of the case in id order (excluded ones only when asked)."""
    query = (
        select(tables.Account)
        .join(CaseAccount, CaseAccount.account_id == tables.Account.id)
        .where(CaseAccount.case_id == case.id)
        .order_by(tables.Account.id)
    )
    if not include_excluded:
        query = query.where(CaseAccount.is_excluded.is_(False))
    return list(session.scalars(query))


def positions_frame(conn: Connection, account_ids: list[int] | None, as_of: dt.date) -> pl.DataFrame:
    """Balances, overdue, DPD per open account (all of them when ``account_ids`` is None), as columns."""
    a = tables.Account
    query = select(a.id, a.debtor_id, a.currency, a.charged_through_on, packed(a.schedule)).where(
        a.status == "open"
    )
    if account_ids is not None:
        query = query.where(a.id.in_(account_ids))
    accounts = pl.DataFrame(
        conn.execute(query).all(),
        schema={
            "account_id": pl.Int64,
            "debtor_id": pl.Int64,
            "currency": pl.String,
            "charged_through_on": pl.Date,
            "schedule": pl.Binary,
        },
        orient="row",
    )
    balances = balances_frame(conn, as_of=as_of, account_ids=account_ids)
    frame = accounts.join(balances, on="account_id", how="left").with_columns(
        [pl.col(f"{c}_minor").fill_null(0) for c in COMPONENTS]
    )
    pos = positions(
        explode_schedules(accounts),
        frame.select("account_id", *[f"{c}_minor" for c in COMPONENTS], "charged_through_on"),
        as_of=as_of,
    )
    return (
        frame.drop("schedule")
        .join(pos, on="account_id", how="left")
        .with_columns(
            pl.sum_horizontal([f"{c}_minor" for c in COMPONENTS]).alias("total_minor"),
            pl.col("dpd").fill_null(0),
        )
    )


def case_positions(session: Session, case: Case, *, as_of: dt.date) -> pl.DataFrame:
    """Per included account: balances by component, total, overdue, DPD and oldest unpaid due date."""
    ids = [a.id for a in case_accounts(session, case)]
    if not ids:
        raise ValidationError(f"case {case.id} has no included account", case=case.id)
    return positions_frame(session.connection(), ids, as_of).sort("account_id")


# -- opening ----------------------------------------------------------------------------------------


def _open_case_account_ids(conn: Connection) -> pl.Series:
    rows = conn.execute(
        select(CaseAccount.account_id)
        .join(Case, Case.id == CaseAccount.case_id)
        .where(Case.stage.not_in([Stage.RESOLVED.value, Stage.CLOSED.value]))
    ).scalars()
    return pl.Series("account_id", list(rows), dtype=pl.Int64)


def open_case(
    session: Session,
    *,
    debtor_external_id: str,
    account_external_ids: Sequence[str] | None = None,
    creditor: str = "own",
    owner_kind: str = "team",
    owner: str | None = None,
    actor: str,
    at: dt.datetime,
) -> Case:
    """Open a case for one debtor's accounts (all their open accounts when none are named).

    The accounts must share one currency and may not already be in an open case.
    """
    debtor = session.scalar(select(tables.Debtor).where(tables.Debtor.external_id == debtor_external_id))
    if debtor is None:
        raise NotFoundError(f"no debtor {debtor_external_id!r}", debtor=debtor_external_id)
    query = select(tables.Account).where(
        tables.Account.debtor_id == debtor.id, tables.Account.status == "open"
    )
    if account_external_ids:
        query = query.where(tables.Account.external_id.in_(list(account_external_ids)))
    accounts = list(session.scalars(query.order_by(tables.Account.id)))
    found = {a.external_id for a in accounts}
    missing = sorted(set(account_external_ids or ()) - found)
    if missing:
        raise NotFoundError(
            f"debtor {debtor_external_id!r} has no open account {', '.join(missing)}", accounts=missing
        )
    if not accounts:
        raise ValidationError(f"debtor {debtor_external_id!r} has no open account", debtor=debtor_external_id)
    currencies = sorted({a.currency for a in accounts})
    if len(currencies) > 1:
        raise ValidationError(
            f"a case holds one currency; the accounts are in {', '.join(currencies)}: open one case per currency",
            currencies=currencies,
        )
    taken = set(_open_case_account_ids(session.connection()).to_list())
    busy = sorted(a.external_id for a in accounts if a.id in taken)
    if busy:
        raise ConflictError(f"account {', '.join(busy)} is already in an open case", accounts=busy)
    if owner_kind not in ("collector", "team", "agency"):
        raise ValidationError(
            "owner kind must be collector, team or agency", field="owner_kind", value=owner_kind
        )
    case = Case(
        debtor_id=debtor.id,
        creditor=creditor,
        currency=currencies[0],
        stage=Stage.NEW.value,
        owner_kind=owner_kind,
        owner=owner,
        opened_at=at,
        stage_changed_at=at,
        updated_at=at,
        broken_promises=0,
        refusals=0,
    )
    session.add(case)
    flush_case(session, case)
    session.add_all(
        [CaseAccount(case_id=case.id, account_id=a.id, is_excluded=False, added_at=at) for a in accounts]
    )
    audit_case(
        session,
        case,
        actor=actor,
        action="case.open",
        at=at,
        after={"stage": case.stage, "creditor": creditor, "owner": owner, "owner_kind": owner_kind},
        details={"accounts": [a.external_id for a in accounts]},
    )
    return case


def open_cases_for_overdue(
    conn: Connection, *, as_of: dt.date, actor: str, at: dt.datetime, creditor: str = "own"
) -> int:
    """Open one case per debtor and currency for every overdue account not already in an open case.

    Set-based: positions of every open account are computed as whole columns, new cases, their
    accounts and their audit events are written in three bulk inserts. Returns the cases opened.
    """
    frame = positions_frame(conn, None, as_of)
    overdue = frame.filter(pl.col("dpd") > 0).join(
        _open_case_account_ids(conn).to_frame(), on="account_id", how="anti"
    )
    if overdue.height == 0:
        return 0
    linked = overdue["account_id"].to_list()
    externals: list[tuple[int, str]] = []
    for start in range(0, len(linked), 20_000):  # bounded IN-lists (PostgreSQL takes 65,535 parameters)
        externals += conn.execute(
            select(tables.Account.id, tables.Account.external_id).where(
                tables.Account.id.in_(linked[start : start + 20_000])
            )
        ).all()
    named = overdue.join(
        pl.DataFrame(externals, schema={"account_id": pl.Int64, "external_id": pl.String}, orient="row"),
        on="account_id",
    )
    return insert_new_cases(conn, named, as_of=as_of, actor=actor, at=at, creditor=creditor)


_EVENTS_PER_APPEND = 50_000


def append_event_frame(conn: Connection, events: pl.DataFrame, *, at: dt.datetime) -> None:
    """Append one audit event per row of ``events`` (:func:`~arrears.audit.log.record_event_frame`'s
    columns) in the caller's transaction, in row order, a bounded slice at a time."""
    for batch in events.iter_slices(_EVENTS_PER_APPEND):
        with Session(bind=conn) as audit_session:
            record_event_frame(audit_session, batch, at=at)


def insert_new_cases(
    conn: Connection, overdue: pl.DataFrame, *, as_of: dt.date, actor: str, at: dt.datetime, creditor: str
) -> int:
    """Open one case per debtor and currency over ``overdue`` (``account_id``, ``debtor_id``,
    ``currency``, ``external_id``): the cases, their account links and one ``case.open`` audit event
    per case, in bulk (the events a bounded batch at a time). Returns the cases opened."""
    links = insert_new_case_links(conn, overdue, as_of=as_of, actor=actor, at=at, creditor=creditor)
    return links["case_id"].n_unique()


def insert_new_case_links(
    conn: Connection, overdue: pl.DataFrame, *, as_of: dt.date, actor: str, at: dt.datetime, creditor: str
) -> pl.DataFrame:
    """:func:`insert_new_cases`, returning the links written: case_id, account_id, in id order."""
    groups = (
        overdue.select("debtor_id", "currency", "account_id", "external_id")
        .sort("debtor_id", "currency", "account_id")
        .group_by("debtor_id", "currency", maintain_order=True)
        .agg(pl.col("account_id"), pl.col("external_id"))
    )
    cases = groups.with_columns(allocate_ids(conn, "cases", groups.height).alias("id"))
    at_col = pl.lit(at).cast(pl.Datetime("us", "UTC"))
    insert_frame(
        conn,
        "cases",
        cases.select(
            "id",
            "debtor_id",
            pl.lit(creditor).alias("creditor"),
            "currency",
            pl.lit(Stage.NEW.value).alias("stage"),
            pl.lit("team").alias("owner_kind"),
            at_col.alias("opened_at"),
            at_col.alias("stage_changed_at"),
            at_col.alias("updated_at"),
            pl.lit(0).alias("broken_promises"),
            pl.lit(0).alias("refusals"),
            pl.lit(1).alias("version"),
        ),
    )
    links = cases.select(pl.col("id").alias("case_id"), "account_id").explode("account_id")
    links = links.with_columns(
        allocate_ids(conn, "case_accounts", links.height).alias("id"),
        pl.lit(False).alias("is_excluded"),
        at_col.alias("added_at"),
    )
    # Ids follow the cases, and the rows go in in id order, which is also the order of the largest
    # index, (case_id, account_id): the table and its primary key, that index and the foreign-key
    # checks against the new cases all walk forward; only the account index and the checks against
    # accounts go out of order, as far as a debtor's accounts are apart. At a million accounts on
    # SQLite this takes a fifth less time than account order.
    insert_frame(conn, "case_accounts", links)
    # One case.open event per case, its documents built over whole columns (record_event_frame writes
    # the bytes record_events would), appended a bounded slice at a time in the caller's transaction.
    events = cases.select(
        pl.lit(actor).alias("actor"),
        pl.lit("case.open").alias("action"),
        pl.lit("case").alias("subject_type"),
        pl.col("id").cast(pl.String).alias("subject_id"),
        pl.struct(
            pl.lit(Stage.NEW.value).alias("stage"),
            pl.lit(creditor).alias("creditor"),
            pl.lit(None).alias("owner"),
            pl.lit("team").alias("owner_kind"),
        ).alias("after"),
        pl.struct(
            pl.col("external_id").alias("accounts"),
            pl.lit(as_of.isoformat()).alias("as_of"),
            pl.lit(True).alias("bulk"),
        ).alias("details"),
    )
    append_event_frame(conn, events, at=at)
    return links.select("case_id", "account_id")


def exclude_account(
    session: Session, *, case_id: int, account_external_id: str, reason: str, actor: str, at: dt.datetime
) -> None:
    """Take one account out of the case (it stays linked, marked excluded, with the reason)."""
    case = get_case(session, case_id)
    link = session.scalar(
        select(CaseAccount)
        .join(tables.Account, tables.Account.id == CaseAccount.account_id)
        .where(CaseAccount.case_id == case.id, tables.Account.external_id == account_external_id)
    )
    if link is None:
        raise NotFoundError(
            f"case {case.id} has no account {account_external_id!r}", account=account_external_id
        )
    if link.is_excluded:
        raise ValidationError(
            f"account {account_external_id!r} is already excluded", account=account_external_id
        )
    link.is_excluded = True
    link.excluded_reason = reason
    audit_case(
        session,
        case,
        actor=actor,
        action="case.exclude_account",
        at=at,
        details={"account": account_external_id, "reason": reason},
    )


# -- holds ------------------------------------------------------------------------------------------


def active_holds(session: Session, case: Case) -> list[CaseHold]:
    """Holds placed and not released, oldest first."""
    return list(
        session.scalars(
            select(CaseHold)
            .where(CaseHold.case_id == case.id, CaseHold.released_at.is_(None))
            .order_by(CaseHold.id)
        )
    )


def place_hold(
    session: Session,
    *,
    case_id: int,
    kind: HoldKind | str,
    reason: str | None = None,
    until_on: dt.date | None = None,
    actor: str,
    at: dt.datetime,
    expected_version: int | None = None,
) -> CaseHold:
    """Stop or restrict collection without changing the stage (see HOLD_BLOCKS)."""
    hold_kind: HoldKind = parse_choice(HoldKind, kind, "kind")
    case = get_case(session, case_id, expected_version=expected_version)
    if any(h.kind == hold_kind.value for h in active_holds(session, case)):
        raise ConflictError(
            f"case {case.id} already has an active {hold_kind.value} hold", case=case.id, hold=hold_kind.value
        )
    hold = CaseHold(
        case_id=case.id, kind=hold_kind.value, reason=reason, placed_at=at, placed_by=actor, until_on=until_on
    )
    session.add(hold)
    audit_case(
        session,
        case,
        actor=actor,
        action="case.hold",
        at=at,
        after={"hold": hold_kind.value},
        details={"reason": reason, "until_on": until_on and until_on.isoformat()},
    )
    return hold


def release_hold(
    session: Session, *, hold_id: int, actor: str, at: dt.datetime, reason: str | None = None
) -> CaseHold:
    """Lift a hold; collection resumes as far as the other holds allow."""
    hold = session.get(CaseHold, hold_id)
    if hold is None:
        raise NotFoundError(f"no hold {hold_id}", hold=hold_id)
    if hold.released_at is not None:
        raise ConflictError(f"hold {hold_id} was already released", hold=hold_id)
    case = get_case(session, hold.case_id)
    hold.released_at = at
    hold.released_by = actor
    audit_case(
        session,
        case,
        actor=actor,
        action="case.release",
        at=at,
        before={"hold": hold.kind},
        details={"hold_id": hold.id, "reason": reason},
    )
    return hold


# -- the stage machine ------------------------------------------------------------------------------


def parse_choice(kind: Any, value: Any, field: str) -> Any:
    """``value`` as a member of the enum ``kind``, or a ValidationError listing the choices."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise ValidationError(
            f"{field}: {value!r} is not one of {choices}", field=field, value=str(value)
        ) from None


def facts_for(session: Session, case: Case, **extra: Any) -> CaseFacts:
    """What the guards read: identity verification and active holds (plus legal facts when given)."""
    return CaseFacts(
        identity_verified=case.identity_verified_at is not None,
        holds=frozenset(HoldKind(h.kind) for h in active_holds(session, case)),
        **extra,
    )


def fire_event(
    session: Session,
    case: Case,
    event: Event,
    *,
    actor: str,
    at: dt.datetime,
    facts: CaseFacts | None = None,
    details: Mapping[str, Any] | None = None,
    reason: ResolutionReason | None = None,
    policy: CasePolicy | None = None,
) -> Transition:
    """Move ``case`` by ``event`` through the transition table, carry out its effects and audit it."""
    transition = fire(case.stage, event, facts or facts_for(session, case))
    before = case.stage
    policy = policy or default_policy()
    for effect in transition.effects:
        if effect == "count_broken":
            case.broken_promises += 1
        elif effect == "open_legal_matter":
            session.add(
                LegalMatter(
                    case_id=case.id,
                    step=LegalStep.REFERRED.value,
                    referred_at=at,
                    updated_at=at,
                    is_asset_frozen=False,
                    costs_minor=0,
                )
            )
        elif effect == "close_legal_matter":
            matter = open_legal_matter(session, case)
            if matter is not None:
                matter.step = LegalStep.CLOSED.value
                matter.updated_at = at
        elif effect == "write_closure":
            if reason is None:
                raise ValidationError("a resolution needs a reason", field="reason")
            case.resolution_reason = reason.value
            case.resolved_at = at
            _write_closure(session, case, reason=reason, at=at, actor=actor)
        elif effect == "start_follow_up":
            case.follow_up_until_on = at.date() + dt.timedelta(days=policy.follow_up_days)
        elif effect == "reopen":
            case.resolution_reason = None
            case.resolved_at = None
            case.follow_up_until_on = None
    case.stage = transition.target.value
    case.stage_changed_at = at
    audit_case(
        session,
        case,
        actor=actor,
        action=f"case.{event.value}",
        at=at,
        before={"stage": before},
        after={"stage": case.stage, **({"reason": reason.value} if reason else {})},
        details=details,
    )
    return transition


def open_legal_matter(session: Session, case: Case) -> LegalMatter | None:
    """The case's legal matter that is not closed, if any."""
    return session.scalar(
        select(LegalMatter)
        .where(LegalMatter.case_id == case.id, LegalMatter.step != LegalStep.CLOSED.value)
        .order_by(LegalMatter.id.desc())
    )


def _write_closure(
    session: Session, case: Case, *, reason: ResolutionReason, at: dt.datetime, actor: str
) -> None:
    accounts = case_accounts(session, case)
    ids = [a.id for a in accounts]
    e = tables.LedgerEntry
    rows = session.execute(
        select(e.account_id, e.kind, *[getattr(e, f"{c}_minor") for c in COMPONENTS]).where(
            e.account_id.in_(ids), e.effective_on <= at.date()
        )
    ).all()
    paid = -sum(sum(r[2:]) for r in rows if r.kind in ("payment", "reversal"))
    waived = -sum(sum(r[2:]) for r in rows if r.kind == "waiver")
    remaining = sum(sum(r[2:]) for r in rows)
    external = {a.id: a.external_id for a in accounts}
    per_account = [
        {"account": external[i], "remaining_minor": sum(sum(r[2:]) for r in rows if r.account_id == i)}
        for i in ids
    ]
    session.add(
        ClosureRecord(
            case_id=case.id,
            reason=reason.value,
            resolved_on=at.date(),
            currency=case.currency,
            paid_minor=paid,
            waived_minor=waived,
            remaining_minor=remaining,
            accounts=per_account,
            created_at=at,
            created_by=actor,
        )
    )


# -- reading ----------------------------------------------------------------------------------------


def case_view(session: Session, case_id: int, *, as_of: dt.date) -> dict[str, Any]:
    """The case as shown to a collector: stage, holds, owner, accounts with balances and DPD.

    Amounts are integer minor units; the debtor appears by external id only.
    """
    case = get_case(session, case_id)
    debtor = session.get_one(tables.Debtor, case.debtor_id)
    accounts = {a.id: a.external_id for a in case_accounts(session, case, include_excluded=True)}
    excluded = set(
        session.scalars(
            select(CaseAccount.account_id).where(CaseAccount.case_id == case.id, CaseAccount.is_excluded)
        )
    )
    pos = case_positions(session, case, as_of=as_of)
    matter = open_legal_matter(session, case)
    return {
        "case_id": case.id,
        "version": case.version,
        "debtor_id": debtor.external_id,
        "creditor": case.creditor,
        "currency": case.currency,
        "stage": case.stage,
        "owner": {"kind": case.owner_kind, "name": case.owner},
        "opened_at": case.opened_at,
        "identity_verified": case.identity_verified_at is not None,
        "broken_promises": case.broken_promises,
        "resolution_reason": case.resolution_reason,
        "follow_up_until_on": case.follow_up_until_on,
        "holds": [
            {"hold_id": h.id, "kind": h.kind, "placed_at": h.placed_at, "until_on": h.until_on}
            for h in active_holds(session, case)
        ],
        "accounts": [
            {
                "account": accounts[r["account_id"]],
                **{f"{c}_minor": r[f"{c}_minor"] for c in COMPONENTS},
                "total_minor": r["total_minor"],
                "overdue_minor": r["overdue_minor"],
                "dpd": r["dpd"],
            }
            for r in pos.iter_rows(named=True)
        ],
        "excluded_accounts": sorted(accounts[i] for i in excluded),
        "total_minor": int(pos["total_minor"].sum()),
        "promises": [
            {"promise_id": p.id, "amount_minor": p.amount_minor, "due_on": p.due_on, "status": p.status}
            for p in session.scalars(select(Promise).where(Promise.case_id == case.id).order_by(Promise.id))
        ],
        "plans": [
            {
                "plan_id": p.id,
                "status": p.status,
                "total_minor": p.total_minor,
                "instalments": len(p.instalments["due_on"]),
            }
            for p in session.scalars(select(Plan).where(Plan.case_id == case.id).order_by(Plan.id))
        ],
        "concessions": [
            {
                "concession_id": c.id,
                "kind": c.kind,
                "status": c.status,
                "concession_minor": c.concession_minor,
            }
            for c in session.scalars(
                select(Concession).where(Concession.case_id == case.id).order_by(Concession.id)
            )
        ],
        "legal": None
        if matter is None
        else {
            "step": matter.step,
            "court": matter.court,
            "reference_no": matter.reference_no,
            "deadline_on": matter.deadline_on,
            "is_asset_frozen": matter.is_asset_frozen,
            "costs_minor": matter.costs_minor,
        },
    }


def case_timeline(session: Session, case_id: int) -> list[dict[str, Any]]:
    """Everything that happened to the case, oldest first: its audit events and its contact log."""
    case = get_case(session, case_id)
    a = tables.AuditEvent
    items: list[dict[str, Any]] = []
    for ev in session.scalars(
        select(a).where(a.subject_type == "case", a.subject_id == str(case.id)).order_by(a.id)
    ):
        document = decode_entry(ev.entry).event()  # the hashed document, as the log holds it
        items.append(
            {
                "at": ev.at,
                "kind": "event",
                "action": ev.action,
                "actor": ev.actor,
                "before": document.get("before"),
                "after": document.get("after"),
                "details": document.get("details"),
            }
        )
    for c in session.scalars(
        select(ContactRecord).where(ContactRecord.case_id == case.id).order_by(ContactRecord.id)
    ):
        items.append(
            {
                "at": c.at,
                "kind": "contact",
                "channel": c.channel,
                "direction": c.direction,
                "recipient": c.recipient,
                "outcome": c.outcome,
                "actor": c.agent,
                "made_by": c.made_by,
                "duration_seconds": c.duration_seconds,
            }
        )
    items.sort(key=lambda item: (item["at"], 0 if item["kind"] == "contact" else 1))
    return items
