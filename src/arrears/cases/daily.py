"""The case book's daily rules, set-based: payoffs, follow-ups, promises, plans and escalations.

Each function reads the cases it concerns, their accounts, positions, promises or plans as Polars
frames through joins (the cases a first read picked out by one bound id list, never by chunks of
literal ids: :func:`arrears.store.sql.in_ids`), decides on whole columns with the pure rules of
:mod:`arrears.domain.cases` — every move goes through the transition table in bulk
(:func:`~arrears.domain.cases.machine.fire_frame`, holds and guards included) — and writes only the
rows that change: one ``UPDATE ... FROM`` a staged temporary table per table, checked against the
versions read (optimistic locking), and the audit events in one :func:`record_events` call, one event
per change with the same actions and payloads as the one-case-at-a-time services
(:mod:`arrears.cases.per_case`, the reference these are tested against).

They work on a :class:`~sqlalchemy.Connection` in the caller's transaction and never commit.
``positions`` (account_id, total_minor, dpd), when given, is the day's snapshot (the cycle's
``daily_positions``); without it positions are computed from the ledger for every open account.
``snapshot=True`` (the cycle's choice) instead takes the day's ``daily_positions`` rows: payoffs join
and aggregate them per case in the database, so that only the paid-off cases come back; escalation
reads them as columns (:func:`book_positions`) and takes each case's highest DPD in memory. Without
rows for the day both fall back to the ledger as well.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any, Final

import polars as pl
from sqlalchemy import BigInteger, Connection, Date, Text, bindparam, cast, column, func, select, text
from sqlalchemy.orm import Session

from arrears.audit.log import record_events
from arrears.cases.policy import default_policy
from arrears.cases.service import (
    COMPONENTS,
    append_event_frame,
    insert_new_case_links,
    open_cases_for_overdue,
    positions_frame,
)
from arrears.cases.tables import Case, CaseAccount, CaseHold, Plan, Promise
from arrears.cycle.frames import read_frame
from arrears.cycle.tables import DailyPosition
from arrears.domain.cases import negotiation as rules
from arrears.domain.cases.enums import Event, PlanStatus, PromiseStatus, ResolutionReason, Stage
from arrears.domain.cases.escalation import escalation_frame
from arrears.domain.cases.machine import fire_frame
from arrears.domain.cases.policy import CasePolicy
from arrears.errors import ConflictError
from arrears.store import tables
from arrears.store.bulk import allocate_ids, insert_frame
from arrears.store.sql import in_ids
from arrears.store.tables import UtcDateTime

__all__ = [
    "AUTO_ESCALATE",
    "book_positions",
    "check_follow_ups",
    "detect_payoffs",
    "evaluate_escalations",
    "judge_promises_due",
    "monitor_plans_due",
    "open_cases_and_detect_payoffs",
    "open_overdue_cases",
]

# Stages the daily evaluation may escalate from: an arranged case is left to its plan or promise.
AUTO_ESCALATE: Final = (Stage.NEW, Stage.INITIAL_CONTACT, Stage.CONFIRMED, Stage.NEGOTIATING)
_OPEN: Final = tuple(s.value for s in Stage if s.is_open)
_ALL: Final = tuple(s.value for s in Stage)
_ACTIVE_PLAN: Final = (PlanStatus.ACTIVE.value, PlanStatus.SUSPENDED.value)
_CASE_SCHEMA: Final[dict[str, Any]] = {
    "case_id": pl.Int64,
    "stage": pl.String,
    "version": pl.Int64,
    "broken_promises": pl.Int64,
    "refusals": pl.Int64,
    "opened_at": pl.Datetime("us", "UTC"),
    "last_right_party_at": pl.Datetime("us", "UTC"),
    "follow_up_until_on": pl.Date,
    "currency": pl.String,
}


# -- reading ----------------------------------------------------------------------------------------


def book_positions(
    conn: Connection, as_of: dt.date, *, snapshot: bool = True, stages: Sequence[str] | None = None
) -> pl.DataFrame:
    """account_id, total_minor, dpd of every open account on ``as_of``.

    With ``snapshot``, the day's ``daily_positions`` rows when the cycle has written them (one read);
    otherwise (or without them) computed from the ledger. ``stages`` keeps the snapshot read to the
    accounts included in cases in those stages (the ledger path computes every open account).
    """
    if snapshot and _has_snapshot(conn, as_of):
        p = DailyPosition
        query = select(p.account_id, _snapshot_total(), p.dpd).where(p.as_of == as_of)
        if stages is not None:
            linked = (
                select(CaseAccount.account_id)
                .join(Case, Case.id == CaseAccount.case_id)
                .where(Case.stage.in_(list(stages)), CaseAccount.is_excluded.is_(False))
            )
            query = query.where(p.account_id.in_(linked))  # each account once, however many links
        return read_frame(conn, query, {"account_id": pl.Int64, "total_minor": pl.Int64, "dpd": pl.Int64})
    return positions_frame(conn, None, as_of).select(
        "account_id", pl.col("total_minor").cast(pl.Int64), pl.col("dpd").cast(pl.Int64)
    )


def _has_snapshot(conn: Connection, as_of: dt.date) -> bool:
    """Whether the cycle has written the day's ``daily_positions`` (one index probe)."""
    p = DailyPosition
    return conn.execute(select(p.account_id).where(p.as_of == as_of).limit(1)).first() is not None


def _snapshot_total() -> Any:
    """A snapshot row's balance: the sum of its components."""
    return sum((getattr(DailyPosition, f"{c}_minor") for c in COMPONENTS), start=0)


def _cases(conn: Connection, stages: Sequence[str], ids: pl.Series | None = None) -> pl.DataFrame:
    """The cases in ``stages`` (only those of ``ids`` when given), in id order."""
    c = Case
    query = select(
        c.id,
        c.stage,
        c.version,
        c.broken_promises,
        c.refusals,
        c.opened_at,
        c.last_right_party_at,
        c.follow_up_until_on,
        c.currency,
    ).where(c.stage.in_(list(stages)))
    if ids is not None:
        query = query.where(in_ids(conn, c.id, ids.to_list()))
    return read_frame(conn, query.order_by(c.id), _CASE_SCHEMA)


def _links(conn: Connection, stages: Sequence[str]) -> pl.DataFrame:
    """Included accounts of the cases in ``stages``."""
    return read_frame(
        conn,
        select(CaseAccount.case_id, CaseAccount.account_id)
        .join(Case, Case.id == CaseAccount.case_id)
        .where(Case.stage.in_(list(stages)), CaseAccount.is_excluded.is_(False)),
        {"case_id": pl.Int64, "account_id": pl.Int64},
    )


def _holds(conn: Connection, stages: Sequence[str], ids: pl.Series | None = None) -> pl.DataFrame:
    """case_id, holds (active hold kinds, sorted) of the cases in ``stages`` (of ``ids`` when given)
    that have any."""
    query = (
        select(CaseHold.case_id, CaseHold.kind)
        .join(Case, Case.id == CaseHold.case_id)
        .where(Case.stage.in_(list(stages)), CaseHold.released_at.is_(None))
    )
    if ids is not None:
        query = query.where(in_ids(conn, CaseHold.case_id, ids.to_list()))
    frame = read_frame(conn, query, {"case_id": pl.Int64, "kind": pl.String})
    return frame.group_by("case_id").agg(pl.col("kind").unique().sort().alias("holds"))


def _with_holds(frame: pl.DataFrame, holds: pl.DataFrame) -> pl.DataFrame:
    return frame.join(holds, on="case_id", how="left").with_columns(
        pl.col("holds").fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )


def _case_payments(conn: Connection, cases_of_interest: Any) -> pl.DataFrame:
    """Net money received per case and day for the cases the subquery selects (see case_payments)."""
    e = tables.LedgerEntry
    net = -sum((getattr(e, f"{c}_minor") for c in COMPONENTS), start=0)
    rows = conn.execute(
        select(CaseAccount.case_id, e.effective_on, func.sum(net))
        .join(CaseAccount, CaseAccount.account_id == e.account_id)
        .where(
            CaseAccount.case_id.in_(cases_of_interest),
            CaseAccount.is_excluded.is_(False),
            e.kind.in_(["payment", "reversal"]),
        )
        .group_by(CaseAccount.case_id, e.effective_on)
    ).all()
    return pl.DataFrame(
        rows, schema={"case_id": pl.Int64, "paid_on": pl.Date, "amount_minor": pl.Int64}, orient="row"
    ).sort("case_id", "paid_on")


# -- writing ----------------------------------------------------------------------------------------


def _staged_update(
    conn: Connection,
    table: str,
    frame: pl.DataFrame,
    *,
    columns: Mapping[str, str],
    assignments: str,
    params: Mapping[str, Any] | None = None,
) -> None:
    """UPDATE ``table`` from ``frame`` (``id``, ``version`` read, and ``columns``) staged in a temporary table.

    Only rows still at the version read are updated; any other is a ConflictError (someone changed it
    meanwhile), which rolls back the caller's transaction.
    """
    if frame.height == 0:
        return
    staging = f"_staged_{table}"
    ddl = ", ".join(
        f"{name} {kind}" for name, kind in {"id": "BIGINT", "version": "INTEGER", **columns}.items()
    )
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {staging}")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {staging} ({ddl})")
    insert_frame(conn, staging, frame.select("id", "version", *columns))
    statement = text(
        f"UPDATE {table} SET {assignments} FROM {staging} s WHERE {table}.id = s.id AND {table}.version = s.version"
    )
    values = dict(params or {})
    kinds: dict[str, Any] = {"at": UtcDateTime(), "on": Date()}
    statement = statement.bindparams(
        *[bindparam(name, type_=kinds[name]) for name in values if name in kinds]
    )
    updated = conn.execute(statement, values).rowcount
    conn.exec_driver_sql(f"DROP TABLE {staging}")
    if updated != frame.height:
        raise ConflictError(
            f"{frame.height - updated} of {frame.height} {table} rows were changed by someone else while the "
            "daily cycle ran; run the day again",
            table=table,
        )


_CASE_COLUMNS: Final = {
    "stage": "VARCHAR(24)",
    "bump": "INTEGER",
    "broken_add": "INTEGER",
    "moved": "INTEGER",
}


def _update_cases(
    conn: Connection,
    changes: pl.DataFrame,
    *,
    at: dt.datetime,
    extra: str = "",
    params: Mapping[str, Any] | None = None,
) -> None:
    """Write changed cases: ``case_id``, ``version`` read, new ``stage``, ``bump`` (version increments,
    one per flush the per-case path makes), ``broken_add`` and ``moved`` (the stage changed); ``extra``
    assignments may use ``:at`` and the names in ``params``."""
    _staged_update(
        conn,
        "cases",
        changes.rename({"case_id": "id"}).with_columns(pl.col("moved").cast(pl.Int64)),
        columns=_CASE_COLUMNS,
        assignments=(
            "stage = s.stage, version = cases.version + s.bump, "
            "broken_promises = cases.broken_promises + s.broken_add, updated_at = :at, "
            "stage_changed_at = CASE WHEN s.moved = 1 THEN :at ELSE cases.stage_changed_at END" + extra
        ),
        params={"at": at, **(params or {})},
    )


_EVENTS_PER_APPEND: Final = 50_000


def _append_events(conn: Connection, events: Iterable[dict[str, Any]]) -> None:
    """Bulk appends to the audit log in the caller's transaction, in order, a bounded batch at a time.

    ``events`` may be a generator: a whole book's events (a case opened for most accounts on the
    first day) are never all held at once.
    """
    pending = iter(events)
    while batch := list(islice(pending, _EVENTS_PER_APPEND)):
        with Session(bind=conn) as audit_session:
            record_events(audit_session, batch)


def _event(actor: str, at: dt.datetime, case_id: int, action: str, **parts: Any) -> dict[str, Any]:
    return {
        "actor": actor,
        "action": action,
        "subject_type": "case",
        "subject_id": str(case_id),
        "at": at,
        **parts,
    }


def _allowed(frame: pl.DataFrame, event: Event, holds: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``frame`` (case_id, stage) that the transition table lets ``event`` move, with target."""
    judged = fire_frame(_with_holds(frame, holds).with_columns(pl.lit(event.value).alias("event")))
    return judged.filter(pl.col("refusal").is_null())


# -- opening ----------------------------------------------------------------------------------------


def open_overdue_cases(
    conn: Connection, *, as_of: dt.date, actor: str, at: dt.datetime, creditor: str = "own"
) -> int:
    """Open one case per debtor and currency for every overdue account not already in an open case.

    The same cases, links and audit events as :func:`arrears.cases.service.open_cases_for_overdue`,
    with days past due taken from the day's ``daily_positions`` snapshot instead of folding the whole
    ledger again; without a snapshot for ``as_of`` it is that function. Two whole-column reads (the
    overdue accounts, the accounts in open cases) are joined in Polars, then only the accounts left
    (every overdue one on the first day, a few on the next) are read with their debtor and external
    id. Returns the cases opened.
    """
    if not _has_snapshot(conn, as_of):
        return open_cases_for_overdue(conn, as_of=as_of, actor=actor, at=at, creditor=creditor)
    return _open_from_snapshot(conn, as_of=as_of, actor=actor, at=at, creditor=creditor)["case_id"].n_unique()


def _open_from_snapshot(
    conn: Connection, *, as_of: dt.date, actor: str, at: dt.datetime, creditor: str
) -> pl.DataFrame:
    """:func:`open_overdue_cases` on the day's snapshot; returns the links written with each account's
    balance in the snapshot: case_id, account_id, total_minor."""
    p, a, ca, c = DailyPosition, tables.Account, CaseAccount, Case
    empty = pl.DataFrame(schema={"case_id": pl.Int64, "account_id": pl.Int64, "total_minor": pl.Int64})
    overdue = read_frame(
        conn,
        select(p.account_id, _snapshot_total()).where(p.as_of == as_of, p.dpd > 0),
        {"account_id": pl.Int64, "total_minor": pl.Int64},
    )
    if overdue.height == 0:
        return empty
    in_open_case = read_frame(
        conn,
        select(ca.account_id)
        .join(c, c.id == ca.case_id)
        .where(c.stage.not_in([Stage.RESOLVED.value, Stage.CLOSED.value])),
        {"account_id": pl.Int64},
    )
    fresh = overdue.join(in_open_case, on="account_id", how="anti")
    if fresh.height == 0:
        return empty
    named = read_frame(
        conn,
        select(a.id, a.debtor_id, a.currency, a.external_id).where(
            a.status == "open", in_ids(conn, a.id, fresh["account_id"].to_list())
        ),
        {"account_id": pl.Int64, "debtor_id": pl.Int64, "currency": pl.String, "external_id": pl.String},
    )
    if named.height == 0:
        return empty
    links = insert_new_case_links(conn, named, as_of=as_of, actor=actor, at=at, creditor=creditor)
    return links.join(fresh, on="account_id", how="left")


def open_cases_and_detect_payoffs(
    conn: Connection,
    *,
    as_of: dt.date,
    actor: str,
    at: dt.datetime,
    creditor: str = "own",
    policy: CasePolicy | None = None,
) -> tuple[int, list[int]]:
    """:func:`open_overdue_cases`, then :func:`detect_payoffs` on the day's snapshot, as the cycle runs
    them; returns the cases opened and the case ids resolved.

    The same writes and events as the two calls, but the cases just opened are judged from the
    snapshot rows read to open them, so the database sums only the cases opened before (none on the
    first day, when nearly every case is new). Without a snapshot for ``as_of`` it is the two calls.
    """
    if not _has_snapshot(conn, as_of):
        opened = open_overdue_cases(conn, as_of=as_of, actor=actor, at=at, creditor=creditor)
        paid = detect_payoffs(conn, as_of=as_of, actor=actor, at=at, policy=policy, snapshot=True)
        return opened, paid
    new = _open_from_snapshot(conn, as_of=as_of, actor=actor, at=at, creditor=creditor)
    ids = new["case_id"].unique().sort()
    # The new cases' ids are one range unless another writer drew ids meanwhile (PostgreSQL): only
    # then are they summed again in the database, with the others (the same answer either way).
    skip = None
    if ids.len() and ids[-1] - ids[0] + 1 == ids.len():
        skip = (int(ids[0]), int(ids[-1]))
    paid_new = (
        new.group_by("case_id").agg(pl.col("total_minor").sum()).filter(pl.col("total_minor") <= 0)
    ).select("case_id")
    paid_off = pl.concat([_paid_off_in_snapshot(conn, as_of, skip=skip), paid_new]).unique()
    paid = _resolve_paid_off(conn, paid_off, at=at, actor=actor, policy=policy or default_policy())
    return ids.len(), paid


# -- closure ----------------------------------------------------------------------------------------


def detect_payoffs(
    conn: Connection,
    *,
    as_of: dt.date,
    actor: str,
    at: dt.datetime,
    positions: pl.DataFrame | None = None,
    policy: CasePolicy | None = None,
    snapshot: bool = False,
) -> list[int]:
    """Resolve every open case whose included accounts owe nothing on ``as_of`` (paid in full).

    Writes the closure records (结清证明 data) and starts the follow-up period. Returns the case ids.
    With ``snapshot`` (and no ``positions``), balances are the day's ``daily_positions`` rows, summed
    per case in the database, so that only the paid-off cases are read (the ledger when there is no
    snapshot for ``as_of``).
    """
    policy = policy or default_policy()
    if positions is None and snapshot and _has_snapshot(conn, as_of):
        paid_off = _paid_off_in_snapshot(conn, as_of)
    else:
        links = _links(conn, _OPEN)
        if links.height == 0:
            return []
        pos = positions if positions is not None else book_positions(conn, as_of, snapshot=False)
        paid_off = (
            links.join(pos.select("account_id", "total_minor"), on="account_id", how="left")
            .group_by("case_id")
            .agg(pl.col("total_minor").fill_null(0).sum())
            .filter(pl.col("total_minor") <= 0)
            .select("case_id")
        )
    return _resolve_paid_off(conn, paid_off, at=at, actor=actor, policy=policy)


def _resolve_paid_off(
    conn: Connection, paid_off: pl.DataFrame, *, at: dt.datetime, actor: str, policy: CasePolicy
) -> list[int]:
    """Resolve the open cases of ``paid_off`` (case_id) as paid in full, as far as their holds allow;
    returns their ids in order."""
    if paid_off.height == 0:
        return []
    ids = paid_off["case_id"]
    cases = _cases(conn, _OPEN, ids)
    moving = _allowed(
        cases.select("case_id", "stage", "version", "currency"), Event.RESOLVE, _holds(conn, _OPEN, ids)
    ).sort("case_id")
    if moving.height == 0:
        return []
    reason = ResolutionReason.PAID_IN_FULL
    _write_closures(conn, moving.select("case_id", "currency"), reason=reason, at=at, actor=actor)
    _update_resolved(conn, moving, reason=reason, at=at, policy=policy)
    _append_events(
        conn,
        [
            _event(
                actor,
                at,
                case_id,
                f"case.{Event.RESOLVE.value}",
                before={"stage": before},
                after={"stage": target, "reason": reason.value},
                details=None,
            )
            for case_id, before, target in moving.select("case_id", "stage", "target").iter_rows()
        ],
    )
    return moving["case_id"].to_list()


def _paid_off_in_snapshot(
    conn: Connection, as_of: dt.date, *, skip: tuple[int, int] | None = None
) -> pl.DataFrame:
    """case_id of the open cases whose included accounts sum to no balance in the day's snapshot (an
    account missing from it owes nothing), leaving out the case ids in the range ``skip``."""
    p, ca, c = DailyPosition, CaseAccount, Case
    outside = [] if skip is None else [(c.id < skip[0]) | (c.id > skip[1])]
    return read_frame(
        conn,
        select(ca.case_id)
        .join(c, c.id == ca.case_id)
        .outerjoin(p, (p.as_of == as_of) & (p.account_id == ca.account_id))
        .where(c.stage.in_(list(_OPEN)), ca.is_excluded.is_(False), *outside)
        .group_by(ca.case_id)
        .having(func.sum(func.coalesce(_snapshot_total(), 0)) <= 0),
        {"case_id": pl.Int64},
    )


def _update_resolved(
    conn: Connection, moving: pl.DataFrame, *, reason: ResolutionReason, at: dt.datetime, policy: CasePolicy
) -> None:
    changes = moving.select(
        "case_id",
        "version",
        pl.col("target").alias("stage"),
        pl.lit(1).alias("bump"),
        pl.lit(0).alias("broken_add"),
        pl.lit(True).alias("moved"),
    )
    _update_cases(
        conn,
        changes,
        at=at,
        extra=", resolution_reason = :reason, resolved_at = :at, follow_up_until_on = :on",
        # effect start_follow_up: the follow-up period runs from the day of resolution.
        params={"reason": reason.value, "on": at.date() + dt.timedelta(days=policy.follow_up_days)},
    )


def _write_closures(
    conn: Connection, closing: pl.DataFrame, *, reason: ResolutionReason, at: dt.datetime, actor: str
) -> None:
    """Closure records (effect ``write_closure``) for ``closing`` (case_id, currency): paid, waived and
    remaining on the included accounts, by the ledger up to the day of resolution."""
    conn.exec_driver_sql("DROP TABLE IF EXISTS _closing_cases")
    conn.exec_driver_sql("CREATE TEMPORARY TABLE _closing_cases (case_id BIGINT)")
    insert_frame(conn, "_closing_cases", closing.select("case_id"))
    e, ca, a = tables.LedgerEntry, CaseAccount, tables.Account
    staged = text("SELECT case_id FROM _closing_cases").columns(column("case_id", BigInteger)).subquery()
    amount = sum((getattr(e, f"{c}_minor") for c in COMPONENTS), start=0)
    rows = conn.execute(
        select(ca.case_id, ca.account_id, a.external_id, e.kind, func.sum(amount))
        .join(staged, staged.c.case_id == ca.case_id)
        .join(a, a.id == ca.account_id)
        .outerjoin(e, (e.account_id == ca.account_id) & (e.effective_on <= at.date()))
        .where(ca.is_excluded.is_(False))
        .group_by(ca.case_id, ca.account_id, a.external_id, e.kind)
    ).all()
    conn.exec_driver_sql("DROP TABLE _closing_cases")
    sums = pl.DataFrame(
        rows,
        schema={
            "case_id": pl.Int64,
            "account_id": pl.Int64,
            "account": pl.String,
            "kind": pl.String,
            "amount_minor": pl.Int64,
        },
        orient="row",
    ).with_columns(pl.col("amount_minor").fill_null(0))
    per_account = (
        sums.group_by("case_id", "account_id", "account")
        .agg(pl.col("amount_minor").sum().alias("remaining_minor"))
        .sort("case_id", "account_id")
    )
    accounts_of: dict[int, list[dict[str, Any]]] = {}
    for case_id, account, remaining in per_account.select(
        "case_id", "account", "remaining_minor"
    ).iter_rows():
        accounts_of.setdefault(case_id, []).append({"account": account, "remaining_minor": remaining})
    totals = sums.group_by("case_id").agg(
        (-pl.col("amount_minor").filter(pl.col("kind").is_in(["payment", "reversal"])).sum()).alias(
            "paid_minor"
        ),
        (-pl.col("amount_minor").filter(pl.col("kind") == "waiver").sum()).alias("waived_minor"),
        pl.col("amount_minor").sum().alias("remaining_minor"),
    )
    records = (
        closing.join(totals, on="case_id", how="left")
        .with_columns(
            pl.col(c).fill_null(0).cast(pl.Int64) for c in ("paid_minor", "waived_minor", "remaining_minor")
        )
        .sort("case_id")
    )
    at_col = pl.lit(at).cast(pl.Datetime("us", "UTC"))
    insert_frame(
        conn,
        "closure_records",
        records.select(
            allocate_ids(conn, "closure_records", records.height).alias("id"),
            "case_id",
            pl.lit(reason.value).alias("reason"),
            pl.lit(at.date()).alias("resolved_on"),
            "currency",
            "paid_minor",
            "waived_minor",
            "remaining_minor",
            pl.col("case_id")
            .map_elements(lambda i: json.dumps(accounts_of.get(i, [])), return_dtype=pl.String)
            .alias("accounts"),
            at_col.alias("created_at"),
            pl.lit(actor).alias("created_by"),
        ),
    )


def check_follow_ups(
    conn: Connection,
    *,
    as_of: dt.date,
    actor: str,
    at: dt.datetime,
    positions: pl.DataFrame | None = None,
) -> dict[int, str]:
    """Resolved cases: re-default within the follow-up period reopens the case; after it, the case closes.

    Returns {case_id: "redefault" | "end_follow_up"} in case order. A hold that refuses the re-default
    (bankruptcy, deceased) leaves the case resolved.
    """
    resolved = [Stage.RESOLVED.value]
    cases = _cases(conn, resolved)
    if cases.height == 0:
        return {}
    ending = cases.filter(
        pl.col("follow_up_until_on").is_not_null() & (pl.lit(as_of) > pl.col("follow_up_until_on"))
    )
    watched = cases.join(ending, on="case_id", how="anti")
    pos = positions if positions is not None else book_positions(conn, as_of, snapshot=False)
    default = (
        _links(conn, resolved)
        .join(watched.select("case_id"), on="case_id", how="semi")
        .join(pos.select("account_id", "total_minor", "dpd"), on="account_id", how="inner")
        .group_by("case_id")
        .agg(pl.col("dpd").fill_null(0).max().alias("dpd"), pl.col("total_minor").sum())
        .filter((pl.col("dpd") > 0) & (pl.col("total_minor") > 0))
        .select("case_id")
    )
    holds = _holds(conn, resolved)
    ended = _allowed(ending.select("case_id", "stage", "version"), Event.END_FOLLOW_UP, holds)
    reopened = _allowed(
        watched.join(default, on="case_id", how="semi").select("case_id", "stage", "version"),
        Event.REDEFAULT,
        holds,
    )
    common = [pl.lit(1).alias("bump"), pl.lit(0).alias("broken_add"), pl.lit(True).alias("moved")]
    _update_cases(conn, ended.select("case_id", "version", pl.col("target").alias("stage"), *common), at=at)
    # effect reopen: the resolution and its follow-up period are cleared.
    _update_cases(
        conn,
        reopened.select("case_id", "version", pl.col("target").alias("stage"), *common),
        at=at,
        extra=", resolution_reason = NULL, resolved_at = NULL, follow_up_until_on = NULL",
    )
    moves = pl.concat(
        [
            ended.select("case_id", "stage", "target", pl.lit(Event.END_FOLLOW_UP.value).alias("event")),
            reopened.select("case_id", "stage", "target", pl.lit(Event.REDEFAULT.value).alias("event")),
        ]
    ).sort("case_id")
    _append_events(
        conn,
        [
            _event(
                actor,
                at,
                case_id,
                f"case.{event}",
                before={"stage": before},
                after={"stage": target},
                details={"as_of": as_of.isoformat()} if event == Event.REDEFAULT.value else None,
            )
            for case_id, before, target, event in moves.iter_rows()
        ],
    )
    return dict(moves.select("case_id", "event").iter_rows())


# -- promises and plans -----------------------------------------------------------------------------


def _promise_moves(
    conn: Connection, decided: pl.DataFrame, *, key: str, kept: pl.Expr, stages: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What judging ``decided`` (``key``, case_id, status) does to the cases, as the per-case path does it.

    Per case in ``key`` order: the first decided item of a case that is arranged (for promises: with no
    active plan) fires fulfil (kept) or break through the transition table; every other item that is
    not kept counts a broken promise. Returns (per item: fired event or null, per case: the changes).
    """
    ids = decided["case_id"].unique().sort()
    cases = _cases(conn, stages, ids)
    ordered = decided.sort(key).with_columns(pl.col(key).rank("ordinal").over("case_id").alias("_nth"))
    candidates = ordered.filter(pl.col("_nth") == 1).join(
        cases.select("case_id", "stage", "version"), on="case_id"
    )
    if "has_active_plan" in candidates.columns:
        candidates = candidates.filter(~pl.col("has_active_plan"))
    candidates = candidates.filter(pl.col("stage") == Stage.ARRANGED.value).with_columns(
        pl.when(kept).then(pl.lit(Event.FULFIL.value)).otherwise(pl.lit(Event.BREAK.value)).alias("event")
    )
    judged = fire_frame(
        _with_holds(candidates.select(key, "case_id", "stage", "event"), _holds(conn, stages, ids))
    )
    fired = judged.filter(pl.col("refusal").is_null()).select(key, "event", "target", "stage", "effects")
    items = ordered.join(fired, on=key, how="left").with_columns(
        (
            pl.when(pl.col("event").is_not_null())
            .then(pl.col("effects").list.contains("count_broken").cast(pl.Int64))
            .when(~kept)
            .then(pl.lit(1))
            .otherwise(pl.lit(0))
        ).alias("broken_add"),
        # One version step for the item's own event, one more when the case moved or counted a break.
        (1 + (pl.col("event").is_not_null() | ~kept).cast(pl.Int64)).alias("bump"),
    )
    changes = (
        items.group_by("case_id")
        .agg(
            pl.col("bump").sum(),
            pl.col("broken_add").sum(),
            pl.col("target").drop_nulls().first().alias("target"),
        )
        .join(cases.select("case_id", "version", pl.col("stage").alias("current")), on="case_id")
        .select(
            "case_id",
            "version",
            pl.coalesce("target", "current").alias("stage"),
            "bump",
            "broken_add",
            pl.col("target").is_not_null().alias("moved"),
        )
        .sort("case_id")
    )
    return items.sort(key), changes


def judge_promises_due(
    conn: Connection, *, as_of: dt.date, actor: str, at: dt.datetime, policy: CasePolicy | None = None
) -> dict[int, str]:
    """Judge every pending promise from the ledger; returns {promise_id: new status} for those decided.

    A broken or partially kept promise is a broken-promise event on the case (arranged → negotiating,
    counted for escalation); a kept one returns the case to negotiating unless a plan is active.
    """
    policy = policy or default_policy()
    p = Promise
    rows = conn.execute(
        select(p.id, p.case_id, p.amount_minor, p.made_on, p.due_on, p.version)
        .where(p.status == PromiseStatus.PENDING.value)
        .order_by(p.id)
    ).all()
    if not rows:
        return {}
    pending = pl.DataFrame(
        rows,
        schema={
            "promise_id": pl.Int64,
            "case_id": pl.Int64,
            "amount_minor": pl.Int64,
            "made_on": pl.Date,
            "due_on": pl.Date,
            "version": pl.Int64,
        },
        orient="row",
    )
    with_pending = select(p.case_id).where(p.status == PromiseStatus.PENDING.value)
    judged = rules.judge_promises(
        pending.drop("version"),
        _case_payments(conn, with_pending),
        as_of=as_of,
        grace_days=policy.promise_grace_days,
    )
    decided = judged.filter(pl.col("status") != PromiseStatus.PENDING.value).join(
        pending.select("promise_id", "case_id", "version"), on="promise_id"
    )
    if decided.height == 0:
        return {}
    active = conn.execute(
        select(Plan.case_id).where(Plan.status.in_(list(_ACTIVE_PLAN)), Plan.case_id.in_(with_pending))
    ).scalars()
    decided = decided.with_columns(
        pl.col("case_id").is_in(pl.Series(list(active), dtype=pl.Int64).implode()).alias("has_active_plan")
    )
    items, changes = _promise_moves(
        conn, decided, key="promise_id", kept=pl.col("status") == PromiseStatus.KEPT.value, stages=_ALL
    )
    _staged_update(
        conn,
        "promises",
        items.select(pl.col("promise_id").alias("id"), "version", "status", "paid_minor"),
        columns={"status": "VARCHAR(16)", "paid_minor": "BIGINT"},
        assignments="status = s.status, paid_minor = s.paid_minor, judged_on = :on, version = promises.version + 1",
        params={"on": as_of},
    )
    _update_cases(conn, changes, at=at)
    events: list[dict[str, Any]] = []
    for row in items.iter_rows(named=True):
        events.append(
            _event(actor, at, row["case_id"], f"case.promise_{row['status']}",
                   details={"promise_id": row["promise_id"], "paid_minor": row["paid_minor"]})
        )  # fmt: skip
        if row["event"] is not None:
            events.append(
                _event(actor, at, row["case_id"], f"case.{row['event']}", before={"stage": row["stage"]},
                       after={"stage": row["target"]}, details={"promise_id": row["promise_id"]})
            )  # fmt: skip
    _append_events(conn, events)
    return dict(items.select("promise_id", "status").iter_rows())


_INSTALMENTS: Final = pl.Struct({"due_on": pl.List(pl.String), "amount": pl.List(pl.Int64)})


def monitor_plans_due(
    conn: Connection, *, as_of: dt.date, actor: str, at: dt.datetime, policy: CasePolicy | None = None
) -> dict[int, str]:
    """The daily check of every active plan: a missed instalment beyond grace breaks it; paid ends it.

    Suspended plans are skipped until their suspension ends, then are active again. Returns
    {plan_id: new status}.
    """
    policy = policy or default_policy()
    p = Plan
    running = p.status.in_(list(_ACTIVE_PLAN))
    rows = conn.execute(
        select(
            p.id, p.case_id, p.status, p.starts_on, p.suspended_until_on, cast(p.instalments, Text), p.version
        )
        .where(running)
        .order_by(p.id)
    ).all()
    plans = pl.DataFrame(
        rows,
        schema={
            "plan_id": pl.Int64,
            "case_id": pl.Int64,
            "status": pl.String,
            "starts_on": pl.Date,
            "suspended_until_on": pl.Date,
            "instalments": pl.String,
            "version": pl.Int64,
        },
        orient="row",
    ).filter(pl.col("suspended_until_on").is_null() | (pl.col("suspended_until_on") < as_of))
    if plans.height == 0:
        return {}
    instalments = (
        plans.select("plan_id", pl.col("instalments").str.json_decode(_INSTALMENTS).struct.unnest())
        .explode("due_on", "amount")
        .select(
            "plan_id",
            (pl.int_range(pl.len()).over("plan_id") + 1).cast(pl.Int64).alias("number"),
            pl.col("due_on").str.to_date(),
            pl.col("amount").alias("amount_minor"),
        )
    )
    payments = _case_payments(conn, select(p.case_id).where(running))
    paid = (
        plans.select("plan_id", "case_id", "starts_on")
        .join(payments, on="case_id", how="inner")
        .filter((pl.col("paid_on") >= pl.col("starts_on")) & (pl.col("paid_on") <= as_of))
        .group_by("plan_id")
        .agg(pl.col("amount_minor").sum().alias("paid_minor"))
    )
    judged = rules.monitor_plans(instalments, paid, as_of=as_of, grace_days=policy.plan.grace_days)
    ended = judged.filter(pl.col("status") != PlanStatus.ACTIVE.value).join(
        plans.select("plan_id", "case_id", "version"), on="plan_id"
    )
    resumed = plans.filter(pl.col("status") == PlanStatus.SUSPENDED.value).join(
        ended, on="plan_id", how="anti"
    )
    plan_rows = pl.concat(
        [
            ended.select(pl.col("plan_id").alias("id"), "version", "status", pl.lit(as_of).alias("ended_on")),
            resumed.select(
                pl.col("plan_id").alias("id"), "version", pl.lit(PlanStatus.ACTIVE.value).alias("status"),
                pl.lit(None, dtype=pl.Date).alias("ended_on"),
            ),
        ]
    )  # fmt: skip
    _staged_update(
        conn,
        "plans",
        plan_rows,
        columns={"status": "VARCHAR(16)", "ended_on": "DATE"},
        assignments="status = s.status, ended_on = COALESCE(s.ended_on, plans.ended_on), version = plans.version + 1",
    )
    if ended.height == 0:
        return {}
    items, changes = _promise_moves(
        conn,
        ended.select("plan_id", "case_id", "status"),
        key="plan_id",
        kept=pl.col("status") == PlanStatus.COMPLETED.value,
        stages=_ALL,
    )
    # A broken plan counts a broken promise only through the break event (never on its own).
    items = items.join(ended.select("plan_id", "paid_minor", "missed_number", "missed_due_on"), on="plan_id")
    changes = changes.drop("broken_add", "bump").join(
        items.group_by("case_id").agg(
            (pl.lit(1) + pl.col("event").is_not_null().cast(pl.Int64)).sum().alias("bump"),
            (pl.col("event") == Event.BREAK.value).fill_null(False).cast(pl.Int64).sum().alias("broken_add"),
        ),
        on="case_id",
    )
    _update_cases(conn, changes.select("case_id", "version", "stage", "bump", "broken_add", "moved"), at=at)
    events: list[dict[str, Any]] = []
    for row in items.iter_rows(named=True):
        missed_due = row["missed_due_on"]
        events.append(
            _event(actor, at, row["case_id"], f"case.plan_{row['status']}",
                   details={"plan_id": row["plan_id"], "paid_minor": row["paid_minor"],
                            "missed_number": row["missed_number"],
                            "missed_due_on": missed_due and missed_due.isoformat()})
        )  # fmt: skip
        if row["event"] is not None:
            events.append(
                _event(actor, at, row["case_id"], f"case.{row['event']}", before={"stage": row["stage"]},
                       after={"stage": row["target"]}, details={"plan_id": row["plan_id"]})
            )  # fmt: skip
    _append_events(conn, events)
    return dict(items.select("plan_id", "status").iter_rows())


# -- escalation -------------------------------------------------------------------------------------


def evaluate_escalations(
    conn: Connection,
    *,
    as_of: dt.date,
    actor: str,
    at: dt.datetime,
    positions: pl.DataFrame | None = None,
    policy: CasePolicy | None = None,
    snapshot: bool = False,
) -> dict[int, list[str]]:
    """Apply the policy's escalation rules to every open case at once; returns {case_id: fired rule ids}.

    Signals: broken promises, refusals, the case's highest DPD and days since the last right-party
    conversation (or since opening). Cases whose holds refuse escalation are left alone. With
    ``snapshot`` (and no ``positions``), the highest DPD per case is taken from the day's
    ``daily_positions`` in the database (the ledger when there is no snapshot for ``as_of``).
    """
    policy = policy or default_policy()
    stages = [s.value for s in AUTO_ESCALATE]
    c = Case
    cases = read_frame(
        conn,
        select(
            c.id,
            c.stage,
            c.version,
            c.broken_promises,
            c.refusals,
            func.coalesce(c.last_right_party_at, c.opened_at),
        ).where(c.stage.in_(stages)),
        {
            "case_id": pl.Int64,
            "stage": pl.String,
            "version": pl.Int64,
            "broken_promises": pl.Int64,
            "refusals": pl.Int64,
            "since": pl.Datetime("us", "UTC"),
        },
    )
    if cases.height == 0:
        return {}
    # Each case's highest DPD over its included accounts (0 for an account without a position): the
    # links and the positions read as columns and joined here, which on a whole book costs less than
    # joining and grouping them in SQL.
    pos = positions if positions is not None else book_positions(conn, as_of, snapshot=snapshot)
    dpd = (
        _links(conn, stages)
        .join(pos.select("account_id", "dpd"), on="account_id", how="left")
        .group_by("case_id")
        .agg(pl.col("dpd").max().fill_null(0))
    )
    signals = cases.select(
        "case_id",
        "broken_promises",
        "refusals",
        (pl.lit(as_of) - pl.col("since").dt.date())
        .dt.total_days()
        .cast(pl.Int64)
        .alias("days_without_right_party"),
    ).join(dpd, on="case_id", how="left")
    fired = escalation_frame(signals, policy.escalation).filter(pl.col("fired").list.len() > 0)
    if fired.height == 0:
        return {}
    candidates = cases.join(fired, on="case_id", how="semi").select("case_id", "stage", "version")
    moving = (
        _allowed(candidates, Event.ESCALATE, _holds(conn, stages, candidates["case_id"]))
        .join(fired, on="case_id")
        .sort("case_id")
    )
    _update_cases(
        conn,
        moving.select(
            "case_id", "version", pl.col("target").alias("stage"), pl.lit(1).alias("bump"),
            pl.lit(0).alias("broken_add"), pl.lit(True).alias("moved"),
        ),
        at=at,
    )  # fmt: skip
    # One case.escalate event per case moved, its documents built over whole columns
    # (record_event_frame writes the bytes record_events would).
    events = moving.select(
        pl.lit(actor).alias("actor"),
        pl.lit(f"case.{Event.ESCALATE.value}").alias("action"),
        pl.lit("case").alias("subject_type"),
        pl.col("case_id").cast(pl.String).alias("subject_id"),
        pl.struct(pl.col("stage")).alias("before"),
        pl.struct(pl.col("target").alias("stage")).alias("after"),
        pl.struct(pl.col("fired").alias("rules")).alias("details"),
    )
    append_event_frame(conn, events, at=at)
    case_ids, rules = moving["case_id"].to_list(), moving["fired"].to_list()
    return {case_id: list(rule_ids) for case_id, rule_ids in zip(case_ids, rules, strict=True)}
