"""The set-based daily case rules give exactly what the one-case-at-a-time path gives (both databases).

A generated book of a few hundred cases — promises kept, partly kept and broken, plans completed and
missed, payoffs, refusals that trigger escalation, holds that refuse it — is committed once; then each
path runs the same days in its own transaction (rolled back), and stages, counters, statuses, closure
records, versions and the audit events (actions and hashed entries, in order) are compared.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from arrears.cases import contacts, daily, negotiation, per_case, service
from arrears.cases.tables import Case, ClosureRecord, Plan, Promise
from arrears.store import tables

from .test_cases_flow import T0, TOTAL, at, pay, seed_debtor, to_negotiating

DAYS = (dt.date(2026, 4, 26), dt.date(2026, 4, 29), dt.date(2026, 6, 16), dt.date(2026, 8, 20))
CASES = 200


def _build(engine: Engine) -> dict[str, int]:
    rng = random.Random(20260420)
    kinds: dict[str, int] = {}
    with Session(engine, expire_on_commit=False, autoflush=False) as s:
        for i in range(CASES):
            kind = rng.choice(
                ["new", "kept", "partly", "broken", "plan_missed", "plan_paid", "payoff", "refusal", "hold"]
            )
            kinds[kind] = kinds.get(kind, 0) + 1
            debtor, account = f"D{i}", f"A{i}"
            seed_debtor(s, debtor, accounts=(account,))
            case = service.open_case(s, debtor_external_id=debtor, actor="alice", at=T0)
            if kind in ("kept", "partly", "broken"):
                to_negotiating(s, case)
                negotiation.make_promise(s, case_id=case.id, amount_minor=30_000, due_on=dt.date(2026, 4, 25),
                                         channel="call", actor="alice", at=at(0))  # fmt: skip
                paid = {"kept": 30_000, "partly": 10_000, "broken": 0}[kind]
                if paid:
                    pay(s, account, paid, dt.date(2026, 4, 24 + rng.randint(0, 1)), f"p{i}")
            elif kind.startswith("plan"):
                to_negotiating(s, case)
                plan = negotiation.propose_plan(s, case_id=case.id, months=2, first_due_on=dt.date(2026, 5, 10),
                                                as_of=dt.date(2026, 4, 20), total_minor=200_000, actor="alice", at=at(0))  # fmt: skip
                negotiation.accept_plan(s, plan_id=plan.id, actor="alice", at=at(0))
                pay(s, account, 100_000 if kind == "plan_missed" else 200_000, dt.date(2026, 5, 9), f"p{i}")
            elif kind == "payoff":
                pay(s, account, TOTAL, dt.date(2026, 4, 22), f"p{i}")
            elif kind in ("refusal", "hold"):
                if kind == "hold":
                    service.place_hold(s, case_id=case.id, kind=rng.choice(["dispute", "breathing_space"]),
                                       actor="alice", at=T0)  # fmt: skip
                contacts.log_contact(s, case_id=case.id, channel="call", outcome="refused_to_pay", actor="alice",
                                     at=at(0))  # fmt: skip
        s.commit()
    return kinds


def _state(conn: Connection, first_seq: int) -> dict[str, Any]:
    e = tables.AuditEvent
    return {
        "cases": conn.execute(
            select(
                Case.id,
                Case.stage,
                Case.version,
                Case.broken_promises,
                Case.resolution_reason,
                Case.resolved_at,
                Case.follow_up_until_on,
                Case.stage_changed_at,
                Case.updated_at,
            ).order_by(Case.id)
        ).all(),
        "promises": conn.execute(
            select(
                Promise.id, Promise.status, Promise.paid_minor, Promise.judged_on, Promise.version
            ).order_by(Promise.id)
        ).all(),
        "plans": conn.execute(
            select(Plan.id, Plan.status, Plan.ended_on, Plan.version).order_by(Plan.id)
        ).all(),
        "closures": conn.execute(
            select(
                ClosureRecord.case_id,
                ClosureRecord.reason,
                ClosureRecord.resolved_on,
                ClosureRecord.currency,
                ClosureRecord.paid_minor,
                ClosureRecord.waived_minor,
                ClosureRecord.remaining_minor,
                ClosureRecord.accounts,
                ClosureRecord.created_by,
            ).order_by(ClosureRecord.case_id)
        ).all(),
        "events": conn.execute(
            select(e.subject_id, e.action, e.entry).where(e.seq >= first_seq).order_by(e.seq)
        ).all(),
    }


def _run(engine: Engine, *, bulk: bool) -> tuple[list[Any], dict[str, Any]]:
    with engine.connect() as conn:
        first_seq = (
            conn.execute(select(tables.AuditEvent.seq).order_by(tables.AuditEvent.seq.desc())).scalar() + 1
        )
        results: list[Any] = []
        with Session(bind=conn, autoflush=False) as session:
            for n, day in enumerate(DAYS):
                moment = at(0) + dt.timedelta(days=(day - dt.date(2026, 4, 20)).days, hours=n)
                kw: dict[str, Any] = {"as_of": day, "actor": "cycle", "at": moment}
                if bulk:
                    results += [daily.detect_payoffs(conn, **kw), daily.check_follow_ups(conn, **kw),
                                daily.judge_promises_due(conn, **kw), daily.monitor_plans_due(conn, **kw),
                                daily.evaluate_escalations(conn, **kw)]  # fmt: skip
                else:
                    results += [per_case.detect_payoffs(session, **kw), per_case.check_follow_ups(session, **kw),
                                per_case.judge_promises_due(session, **kw), per_case.monitor_plans_due(session, **kw),
                                per_case.evaluate_escalations(session, **kw)]  # fmt: skip
                    session.flush()
            state = _state(conn, first_seq)
        conn.rollback()  # both paths start from the same committed book
    return results, state


def test_bulk_and_per_case_paths_agree_on_a_generated_book(engine: Engine) -> None:
    kinds = _build(engine)
    assert min(kinds.values()) >= 10  # every kind of case is in the book
    reference_results, reference = _run(engine, bulk=False)
    results, state = _run(engine, bulk=True)
    assert results == reference_results
    for name in ("cases", "promises", "plans", "closures"):
        assert state[name] == reference[name], name
    assert [tuple(r[:2]) for r in state["events"]] == [tuple(r[:2]) for r in reference["events"]]
    assert state["events"] == reference["events"]
    # The book really moved: every decision the rules can take was taken by both paths.
    actions = {r[1] for r in state["events"]}
    assert {"case.resolve", "case.end_follow_up", "case.promise_kept", "case.promise_partially_kept",
            "case.promise_broken", "case.fulfil", "case.break", "case.plan_broken", "case.plan_completed",
            "case.escalate"} <= actions  # fmt: skip
