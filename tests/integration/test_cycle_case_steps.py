"""The cycle's case steps, which read the day's positions snapshot in the database (payoffs and the
highest days past due summed per case there, only resolved cases' accounts read for follow-ups, only
new overdue accounts read for opening), change the book exactly as the daily rules do from positions
computed from the ledger (both databases).

A generated book (promises kept, partly kept and broken, plans completed and missed, payoffs, holds,
refusals, settlements, excluded and closed accounts, overdue accounts without a case) is committed
once; then each path runs the same days in its own transaction, rolled back, each day starting from
the same snapshot, and every row the steps can write and every audit event are compared.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.orm import Session

from arrears.audit.entry import decode_entry
from arrears.cases import contacts, daily, negotiation, service
from arrears.cases.closure import complete_settlements
from arrears.cases.tables import Case, CaseAccount, ClosureRecord, Concession, Plan, Promise
from arrears.cycle.case_steps import step_cases, step_promises
from arrears.cycle.ledger_steps import CycleContext
from arrears.cycle.tables import DailyPosition
from arrears.domain.cases.enums import Stage
from arrears.store import tables
from arrears.store.bulk import insert_frame

from .test_cases_daily_bulk import DAYS, _build
from .test_cases_flow import TOTAL, at, pay, seed_debtor, to_negotiating

COMPONENTS = ("principal", "interest", "penalty", "compound", "fee", "cost")


def _account(session: Session, external: str) -> tables.Account:
    return session.scalars(select(tables.Account).where(tables.Account.external_id == external)).one()


def _extend(engine: Engine) -> None:
    """What the generated book lacks: settlements, reversed payoffs, two-account cases with an excluded
    or a closed account, cases whose accounts are all closed, a case whose accounts are past due by
    different days, cases spoken to after they were opened, overdue accounts that no case holds yet,
    among them some that owe nothing in all."""
    with Session(engine, expire_on_commit=False, autoflush=False) as s:
        for i in range(6):
            seed_debtor(s, f"S{i}", accounts=(f"S{i}",))
            case = service.open_case(s, debtor_external_id=f"S{i}", actor="alice", at=at(0))
            to_negotiating(s, case)
            negotiation.offer_settlement(s, case_id=case.id, settlement_minor=TOTAL // 2, pay_by_on=dt.date(2026, 5, 20),
                                         reason="hardship", as_of=dt.date(2026, 4, 20), actor="boss",
                                         actor_role="administrator", at=at(0))  # fmt: skip
            if i % 2 == 0:  # half of them paid in time (settled), the others lapse
                pay(s, f"S{i}", TOTAL // 2, dt.date(2026, 4, 25), f"s{i}")
        for i in range(4):
            seed_debtor(s, f"X{i}", accounts=(f"X{i}a", f"X{i}b"))
            case = service.open_case(s, debtor_external_id=f"X{i}", actor="alice", at=at(0))
            if i < 2:  # the rest paid: the case is paid off without the excluded account
                service.exclude_account(s, case_id=case.id, account_external_id=f"X{i}a", reason="sold",
                                        actor="alice", at=at(0))  # fmt: skip
            else:  # a closed account has no position: it owes nothing to the case
                _account(s, f"X{i}a").status = "closed"
            pay(s, f"X{i}b", TOTAL, dt.date(2026, 4, 22), f"x{i}")
        for i in range(2):  # every account closed: no position at all, so nothing owed
            seed_debtor(s, f"Z{i}", accounts=(f"Z{i}",))
            service.open_case(s, debtor_external_id=f"Z{i}", actor="alice", at=at(0))
            _account(s, f"Z{i}").status = "closed"
        for i in range(3):  # paid off, then the payment reversed within the follow-up period
            seed_debtor(s, f"R{i}", accounts=(f"R{i}",))
            service.open_case(s, debtor_external_id=f"R{i}", actor="alice", at=at(0))
            pay(s, f"R{i}", TOTAL, dt.date(2026, 4, 22), f"r{i}")
            s.add(tables.LedgerEntry(account_id=_account(s, f"R{i}").id, key=f"r{i}-back", kind="reversal", effective_on=dt.date(2026, 5, 2),
                                     posted_at=at(0), principal_minor=TOTAL - 7_000, interest_minor=0, penalty_minor=5_000,
                                     compound_minor=0, fee_minor=2_000, cost_minor=0, reverses_key=f"r{i}"))  # fmt: skip
        for i in range(2):  # one account 106 days past due, the other 75: the case's DPD is the higher
            seed_debtor(s, f"M{i}", accounts=(f"M{i}a", f"M{i}b"), first_due=dt.date(2025, 12, 10))
            service.open_case(s, debtor_external_id=f"M{i}", actor="alice", at=at(0))
            pay(s, f"M{i}b", 200_000, dt.date(2026, 4, 21), f"m{i}")
        for i in range(2):  # 37 days past due on 2026-06-16, spoken to 17 days before: no rule fires
            seed_debtor(s, f"C{i}", accounts=(f"C{i}",))
            case = service.open_case(s, debtor_external_id=f"C{i}", actor="alice", at=at(0))
            pay(s, f"C{i}", 300_000, dt.date(2026, 4, 21), f"c{i}")
            contacts.log_contact(s, case_id=case.id, channel="call", outcome="right_party_conversation",
                                 duration_seconds=60, actor="alice", at=at(40))  # fmt: skip
        for i in range(2):  # overpaid principal, interest still owed: past due, yet owing nothing in all
            seed_debtor(s, f"P{i}", accounts=(f"P{i}",))
            for key, kind, principal, interest in ((f"p{i}", "payment", -(TOTAL + 100_000), 0),
                                                   (f"p{i}-interest", "interest", 0, 3_000)):  # fmt: skip
                s.add(tables.LedgerEntry(account_id=_account(s, f"P{i}").id, key=key, kind=kind, effective_on=dt.date(2026, 4, 21),
                                         posted_at=at(0), principal_minor=principal, interest_minor=interest, penalty_minor=0,
                                         compound_minor=0, fee_minor=0, cost_minor=0))  # fmt: skip
        for i in range(5):
            seed_debtor(s, f"N{i}", accounts=(f"N{i}a", f"N{i}b") if i % 2 else (f"N{i}",))
        s.commit()


def _write_snapshot(conn: Connection, day: dt.date) -> None:
    """The day's positions, from the ledger, as the positions step stores them."""
    conn.execute(delete(DailyPosition))
    frame = service.positions_frame(conn, None, day)
    insert_frame(
        conn,
        "daily_positions",
        frame.select(
            pl.lit(day).alias("as_of"),
            "account_id",
            "currency",
            pl.col("dpd").cast(pl.Int64),
            pl.lit("M0").alias("bucket"),
            *[pl.col(f"{c}_minor").cast(pl.Int64) for c in COMPONENTS],
            pl.col("overdue_minor").cast(pl.Int64),
            "oldest_unpaid_due_on",
        ).sort("account_id"),
    )


def _state(conn: Connection, first_seq: int, first_entry: int) -> dict[str, Any]:
    e, le = tables.AuditEvent, tables.LedgerEntry
    return {
        "cases": conn.execute(select(Case).order_by(Case.id)).all(),
        "links": conn.execute(select(CaseAccount).order_by(CaseAccount.id)).all(),
        "promises": conn.execute(select(Promise).order_by(Promise.id)).all(),
        "plans": conn.execute(select(Plan).order_by(Plan.id)).all(),
        "concessions": conn.execute(select(Concession).order_by(Concession.id)).all(),
        "closures": conn.execute(select(ClosureRecord).order_by(ClosureRecord.id)).all(),
        "entries": conn.execute(select(le).where(le.id >= first_entry).order_by(le.id)).all(),
        "events": conn.execute(
            select(e.seq, e.at, e.actor, e.subject_id, e.action, e.entry, e.leaf_hash)
            .where(e.seq >= first_seq)
            .order_by(e.seq)
        ).all(),
    }


def _document(entry: bytes) -> dict[str, Any]:
    return decode_entry(entry).event()


def _by_the_rules(conn: Connection, day: dt.date, moment: dt.datetime) -> dict[str, Any]:
    """The day by the daily rules, every position computed from the ledger when it is needed."""
    kw: dict[str, Any] = {"as_of": day, "actor": "cycle", "at": moment}
    opened = service.open_cases_for_overdue(conn, **kw)
    paid = daily.detect_payoffs(conn, **kw)
    with Session(bind=conn, autoflush=False) as session:
        settled = complete_settlements(session, **kw)
        session.flush()
    follow = daily.check_follow_ups(conn, **kw)
    promises = daily.judge_promises_due(conn, **kw)
    plans = daily.monitor_plans_due(conn, **kw)
    escalated = daily.evaluate_escalations(conn, **kw)
    by_status: dict[str, int] = {}
    for kind, decided in (("promise", promises), ("plan", plans)):
        for status in decided.values():
            by_status[f"{kind}_{status}"] = by_status.get(f"{kind}_{status}", 0) + 1
    return {
        "cases": {
            "opened": opened,
            "paid_off": len(paid),
            "settled": len(settled),
            "follow_ups": len(follow),
        },
        "promises": {**by_status, "escalated": len(escalated)},
    }


def _restart_ids(conn: Connection) -> None:
    """PostgreSQL: every id sequence back to just after the committed rows (a rollback leaves the ids
    the other path drew used up), so that both paths number their new rows alike."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables.Base.metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key and table.c.id.autoincrement is not False:
            sequence = conn.exec_driver_sql("SELECT pg_get_serial_sequence(%s, 'id')", (table.name,)).scalar()
            if sequence is not None:
                conn.exec_driver_sql(
                    f"SELECT setval(%s, COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)",
                    (sequence,),
                )
    conn.commit()


def _run(engine: Engine, *, steps: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with engine.connect() as conn:
        _restart_ids(conn)
        last_seq = conn.execute(select(func.max(tables.AuditEvent.seq))).scalar()
        last_entry = conn.execute(select(func.max(tables.LedgerEntry.id))).scalar()
        counts: list[dict[str, Any]] = []
        for n, day in enumerate(DAYS):
            moment = at(0) + dt.timedelta(days=(day - dt.date(2026, 4, 20)).days, hours=n)
            _write_snapshot(conn, day)
            if steps:
                ctx = CycleContext(as_of=day, now=moment, actor="cycle", products={})
                counts.append({"cases": step_cases(conn, ctx), "promises": step_promises(conn, ctx)})
            else:
                counts.append(_by_the_rules(conn, day, moment))
        state = _state(conn, (last_seq or 0) + 1, (last_entry or 0) + 1)
        conn.rollback()  # both paths start from the same committed book
    return counts, state


def test_case_steps_on_the_snapshot_agree_with_the_rules_on_the_ledger(engine: Engine) -> None:
    kinds = _build(engine)
    assert min(kinds.values()) >= 10
    _extend(engine)
    reference_counts, reference = _run(engine, steps=False)
    counts, state = _run(engine, steps=True)
    assert counts == reference_counts
    for name in reference:
        assert state[name] == reference[name], name
    # Every path of the steps was taken.
    totals = {
        f"{step}.{key}": sum(day[step].get(key, 0) for day in counts)
        for step in ("cases", "promises")
        for key in {k for day in counts for k in day[step]}
    }
    assert all(
        totals[key] > 0
        for key in ("cases.opened", "cases.paid_off", "cases.settled", "cases.follow_ups", "promises.escalated",
                    "promises.promise_kept", "promises.promise_broken", "promises.plan_completed",
                    "promises.plan_broken")
    ), totals  # fmt: skip
    actions = {r.action for r in state["events"]}
    assert {"case.open", "case.resolve", "case.redefault", "case.end_follow_up", "case.settlement_completed",
            "case.settlement_lapsed", "case.escalate", "case.break", "case.fulfil"} <= actions, actions  # fmt: skip
    # The cases made for the snapshot's corner cases went where the rules send them, on the day expected.
    with engine.connect() as conn:
        debtor_of = {
            int(i): str(e) for i, e in conn.execute(select(tables.Debtor.id, tables.Debtor.external_id))
        }
    case_of: dict[str, int] = {}
    for c in state["cases"]:  # each debtor's first case
        case_of.setdefault(debtor_of[c.debtor_id], c.id)
    moves: dict[tuple[str, str], tuple[dt.datetime, dict[str, Any]]] = {}
    for r in state["events"]:  # each case's first event of each kind
        moves.setdefault((r.subject_id, r.action), (r.at, _document(r.entry)))
    first, last = (at(0) + dt.timedelta(days=(d - dt.date(2026, 4, 20)).days, hours=n)
                   for n, d in ((0, DAYS[0]), (len(DAYS) - 1, DAYS[-1])))  # fmt: skip
    for debtor in ("Z0", "Z1"):  # nothing owed where no account has a position
        assert moves[(str(case_of[debtor]), "case.resolve")][0] == first
    for debtor in ("P0", "P1"):  # opened for being past due, resolved the same day for owing nothing
        case = str(case_of[debtor])
        assert moves[(case, "case.open")][0] == moves[(case, "case.resolve")][0] == first
    for debtor in ("M0", "M1"):  # the higher of the accounts' days past due counts
        when, payload = moves[(str(case_of[debtor]), "case.escalate")]
        assert (when, payload["details"]["rules"]) == (first, ["dpd-90"])
    for debtor in ("C0", "C1"):  # days without a right-party contact count from the last one
        when, payload = moves[(str(case_of[debtor]), "case.escalate")]
        assert (when, payload["details"]["rules"]) == (last, ["dpd-90", "no-right-party-30-days"])
    stages = {c.stage for c in state["cases"]}
    assert {Stage.CLOSED.value, Stage.ESCALATED.value, Stage.INITIAL_CONTACT.value} <= stages
