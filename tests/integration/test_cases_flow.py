"""The collection case on SQLite and PostgreSQL: every stage to settlement and to legal, refusals that
leave nothing behind, concurrent updates, plans, authority limits, validation periods and contacts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from arrears.audit.entry import decode_entry
from arrears.cases import closure, confirmation, contacts, legal, negotiation, service
from arrears.cases.tables import (
    Case,
    ClosureRecord,
    Concession,
    ContactRecord,
    Dispute,
    LegalMatter,
    Plan,
    Promise,
)
from arrears.domain.compliance.models import HistoryEvent
from arrears.errors import ConflictError, IllegalTransitionError, PermissionDeniedError, ValidationError
from arrears.portfolio.products import ensure_builtin_products
from arrears.store import personal, tables
from arrears.store.personal import PersonalKind

T0 = dt.datetime(2026, 4, 20, 2, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 4, 20)
# 12 instalments of 1,000.00 principal due on the 10th from February; the first paid. On 2026-04-20
# the instalments of March and April are unpaid: 2,000.00 overdue, 41 days past due.
PRINCIPAL = 1_100_000
PENALTY = 5_000
FEE = 2_000
TOTAL = PRINCIPAL + PENALTY + FEE


def at(days: int) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def seed_debtor(session: Session, external: str, *, jurisdiction: str = "CN", accounts: tuple[str, ...] = ("A1",),
                currency: str = "CNY", first_due: dt.date = dt.date(2026, 2, 10)) -> tables.Debtor:  # fmt: skip
    ensure_builtin_products(session, now=T0)
    debtor = tables.Debtor(
        external_id=external, jurisdiction=jurisdiction, language="zh", name="x", row_hash="h",
        created_at=T0, updated_at=T0,
    )  # fmt: skip
    session.add(debtor)
    session.flush()
    dues = [dt.date(first_due.year + (first_due.month - 1 + k) // 12, (first_due.month - 1 + k) % 12 + 1, 10)
            for k in range(12)]  # fmt: skip
    for account in accounts:
        row = tables.Account(
            external_id=account, debtor_id=debtor.id, product_code="cn-consumer-loan" if currency == "CNY" else "us-card",
            currency=currency, principal_minor=1_200_000, annual_rate=0, term_months=12,
            schedule_method="equal-principal", opened_on=dt.date(2026, 1, 10), first_due_on=dues[0],
            schedule={"due_on": [d.isoformat() for d in dues], "principal": [100_000] * 12, "interest": [0] * 12},
            charged_through_on=AS_OF, status="open", row_hash="h", created_at=T0, updated_at=T0,
        )  # fmt: skip
        session.add(row)
        session.flush()
        session.add(
            tables.LedgerEntry(
                account_id=row.id, key="opening", kind="opening", effective_on=dt.date(2026, 4, 1), posted_at=T0,
                principal_minor=PRINCIPAL, interest_minor=0, penalty_minor=PENALTY, compound_minor=0,
                fee_minor=FEE, cost_minor=0,
            )
        )  # fmt: skip
    session.flush()
    return debtor


def pay(session: Session, account: str, amount: int, on: dt.date, key: str) -> None:
    """A payment as the payment import posts it: negative components, here penalty, fee, then principal."""
    acc = session.scalars(select(tables.Account).where(tables.Account.external_id == account)).one()
    bal = {c: session.scalar(select(func.coalesce(func.sum(getattr(tables.LedgerEntry, f"{c}_minor")), 0))
                             .where(tables.LedgerEntry.account_id == acc.id)) for c in ("penalty", "fee", "principal")}  # fmt: skip
    parts, left = {}, amount
    for c in ("penalty", "fee", "principal"):
        take = min(left, int(bal[c] or 0))
        parts[f"{c}_minor"] = -take
        left -= take
    session.add(tables.LedgerEntry(account_id=acc.id, key=key, kind="payment", effective_on=on, posted_at=T0,
                                   interest_minor=0, compound_minor=0, cost_minor=0, **parts))  # fmt: skip
    session.flush()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False, autoflush=False) as s:
        yield s
        s.rollback()


def snapshot(session: Session) -> dict[str, Any]:
    """Everything a refused action must leave as it was."""
    session.expire_all()
    counts = {
        t.__tablename__: session.scalar(select(func.count()).select_from(t))
        for t in (
            tables.AuditEvent,
            tables.LedgerEntry,
            Promise,
            Plan,
            Concession,
            LegalMatter,
            Dispute,
            ClosureRecord,
        )
    }
    cases = [
        (c.id, c.stage, c.version, c.broken_promises) for c in session.scalars(select(Case).order_by(Case.id))
    ]
    ledger = session.execute(
        select(func.sum(tables.LedgerEntry.cost_minor), func.sum(tables.LedgerEntry.penalty_minor))
    ).one()
    return {"counts": counts, "cases": cases, "ledger": tuple(ledger)}


def new_case(session: Session, external: str = "D1", **kw: Any) -> Case:
    seed_debtor(session, external, **kw)
    return service.open_case(session, debtor_external_id=external, actor="alice", at=T0)


def to_negotiating(session: Session, case: Case) -> None:
    contacts.log_contact(session, case_id=case.id, channel="call", outcome="right_party_conversation",
                         duration_seconds=120, actor="alice", at=at(0))  # fmt: skip
    contacts.verify_identity(session, case_id=case.id, method="knowledge_questions", actor="alice", at=at(0))
    confirmation.confirm_case(session, case_id=case.id, actor="alice", at=at(0))
    confirmation.start_negotiation(session, case_id=case.id, actor="alice", at=at(0))


def test_open_case_shows_balances_and_dpd(session: Session) -> None:
    case = new_case(session)
    view = service.case_view(session, case.id, as_of=AS_OF)
    assert view["stage"] == "new"
    assert view["accounts"] == [
        {"account": "A1", "principal_minor": PRINCIPAL, "interest_minor": 0, "penalty_minor": PENALTY,
         "compound_minor": 0, "fee_minor": FEE, "cost_minor": 0, "total_minor": TOTAL, "overdue_minor": 200_000,
         "dpd": 41},
    ]  # fmt: skip
    timeline = service.case_timeline(session, case.id)
    assert [item["action"] for item in timeline] == ["case.open"]


def test_walk_from_first_contact_to_settlement_and_closure(session: Session) -> None:
    case = new_case(session)
    contacts.log_contact(
        session, case_id=case.id, channel="call", outcome="no_answer", actor="alice", at=at(0)
    )
    assert case.stage == "new"
    contacts.log_contact(
        session, case_id=case.id, channel="call", outcome="right_party_conversation", actor="alice", at=at(0)
    )
    assert case.stage == "initial_contact"
    before = snapshot(session)
    with pytest.raises(IllegalTransitionError) as refused:
        confirmation.confirm_case(session, case_id=case.id, actor="alice", at=at(0))
    assert refused.value.fields == {
        "stage": "initial_contact",
        "event": "confirm",
        "guard": "identity_verified",
    }
    assert snapshot(session) == before
    contacts.verify_identity(session, case_id=case.id, method="one_time_code", actor="alice", at=at(0))
    confirmation.confirm_case(session, case_id=case.id, actor="alice", at=at(0))
    confirmation.start_negotiation(session, case_id=case.id, actor="alice", at=at(0))
    assert case.stage == "negotiating"

    # A promise of 300.00 by 2026-04-25, 100.00 paid: partially kept once the 3 grace days have run.
    promise = negotiation.make_promise(session, case_id=case.id, amount_minor=30_000, due_on=dt.date(2026, 4, 25),
                                       channel="call", actor="alice", at=at(0))  # fmt: skip
    assert case.stage == "arranged"
    pay(session, "A1", 10_000, dt.date(2026, 4, 24), "pay-1")
    assert negotiation.judge_promises_due(session, as_of=dt.date(2026, 4, 28), actor="cycle", at=at(8)) == {}
    assert negotiation.judge_promises_due(session, as_of=dt.date(2026, 4, 29), actor="cycle", at=at(9)) == {
        promise.id: "partially_kept"
    }
    assert (promise.paid_minor, case.stage, case.broken_promises) == (10_000, "negotiating", 1)

    # Settle for 7,000.00: the concession (balance 10,970.00 less 7,000.00) is above a collector's limit.
    balance = TOTAL - 10_000
    offer = negotiation.offer_settlement(session, case_id=case.id, settlement_minor=700_000, pay_by_on=dt.date(2026, 5, 31),
                                         reason="lump sum", as_of=dt.date(2026, 4, 29), actor="alice",
                                         actor_role="collector", at=at(9))  # fmt: skip
    assert (offer.status, offer.concession_minor, offer.balance_minor) == (
        "pending_approval",
        balance - 700_000,
        balance,
    )
    before = snapshot(session)
    with pytest.raises(PermissionDeniedError):
        negotiation.approve_concession(session, concession_id=offer.id, as_of=dt.date(2026, 4, 29), actor="bob",
                                       actor_role="collector", at=at(9))  # fmt: skip
    with pytest.raises(PermissionDeniedError):
        negotiation.approve_concession(session, concession_id=offer.id, as_of=dt.date(2026, 4, 29), actor="alice",
                                       actor_role="supervisor", at=at(9))  # fmt: skip
    assert snapshot(session) == before
    negotiation.approve_concession(session, concession_id=offer.id, as_of=dt.date(2026, 4, 29), actor="sam",
                                   actor_role="supervisor", at=at(10))  # fmt: skip
    assert (offer.status, offer.decided_by, offer.decided_role) == ("approved", "sam", "supervisor")

    pay(session, "A1", 700_000, dt.date(2026, 5, 20), "pay-2")
    assert closure.complete_settlements(session, as_of=dt.date(2026, 5, 20), actor="cycle", at=at(30)) == {
        offer.id: "applied"
    }
    assert (case.stage, case.resolution_reason) == ("resolved", "settled")
    view = service.case_view(session, case.id, as_of=dt.date(2026, 5, 20))
    assert view["total_minor"] == 0
    record = closure.closure_record(session, case.id)
    assert record is not None
    assert (record.reason, record.paid_minor, record.waived_minor, record.remaining_minor) == (
        "settled", 710_000, TOTAL - 710_000, 0,
    )  # fmt: skip
    assert case.follow_up_until_on == dt.date(2026, 5, 20) + dt.timedelta(days=90)
    assert closure.check_follow_ups(session, as_of=dt.date(2026, 8, 18), actor="cycle", at=at(120)) == {}
    assert closure.check_follow_ups(session, as_of=dt.date(2026, 8, 19), actor="cycle", at=at(121)) == {
        case.id: "end_follow_up"
    }
    assert case.stage == "closed"
    actions = [i["action"] for i in service.case_timeline(session, case.id) if i["kind"] == "event"]
    assert actions == [
        "case.open", "case.log_contact", "case.log_contact", "case.contact", "case.verify_identity", "case.confirm",
        "case.negotiate", "case.promise", "case.arrange", "case.promise_partially_kept", "case.break",
        "case.settlement_requested", "case.settlement_approved", "case.settlement_completed", "case.resolve",
        "case.end_follow_up",
    ]  # fmt: skip


def test_walk_to_legal_with_costs_on_the_ledger(session: Session) -> None:
    case = new_case(session)
    contacts.log_contact(
        session, case_id=case.id, channel="visit", outcome="refused_to_pay", actor="alice", at=at(0)
    )
    assert case.stage == "initial_contact"
    fired = legal.evaluate_escalations(session, as_of=AS_OF, actor="cycle", at=at(1))
    assert fired == {case.id: ["refusal"]}
    assert case.stage == "escalated"
    matter = legal.refer_to_legal(session, case_id=case.id, as_of=AS_OF, actor="lena", at=at(2))
    assert (case.stage, matter.step) == ("legal", "referred")
    legal.advance_legal(session, case_id=case.id, step="demand_letter", deadline_on=dt.date(2026, 5, 10),
                        deadline_label="reply to demand", actor="lena", at=at(3))  # fmt: skip
    before = snapshot(session)
    with pytest.raises(IllegalTransitionError) as skipped:
        legal.advance_legal(session, case_id=case.id, step="hearing", actor="lena", at=at(4))
    assert skipped.value.fields == {"stage": "demand_letter", "event": "hearing"}
    assert snapshot(session) == before
    legal.advance_legal(session, case_id=case.id, step="filing", court="北京市朝阳区人民法院",
                        reference_no="(2026)京0105民初1234号", is_asset_frozen=True, actor="lena", at=at(20))  # fmt: skip
    entry = legal.post_legal_cost(session, case_id=case.id, account_external_id="A1", amount_minor=150_000,
                                  memo="court fee", effective_on=dt.date(2026, 5, 10), actor="lena", at=at(20))  # fmt: skip
    assert (entry.kind, entry.cost_minor, entry.key) == ("charge", 150_000, f"legal-cost:{matter.id}:1")
    for step in ("hearing", "judgment", "enforcement"):
        legal.advance_legal(session, case_id=case.id, step=step, actor="lena", at=at(40))
    view = service.case_view(session, case.id, as_of=dt.date(2026, 5, 10))
    assert view["accounts"][0]["cost_minor"] == 150_000
    assert view["legal"] == {"step": "enforcement", "court": "北京市朝阳区人民法院", "reference_no": "(2026)京0105民初1234号",
                             "deadline_on": dt.date(2026, 5, 10), "is_asset_frozen": True, "costs_minor": 150_000}  # fmt: skip


def test_a_time_barred_debt_is_never_referred_and_nothing_changes(session: Session) -> None:
    case = new_case(session)
    legal.escalate_case(session, case_id=case.id, reason="no contact", actor="alice", at=at(0))
    # The oldest unpaid instalment fell due on 2026-03-10; three years later the debt is time-barred in CN.
    late = dt.date(2029, 3, 10)
    before = snapshot(session)
    with pytest.raises(IllegalTransitionError) as refused:
        legal.refer_to_legal(session, case_id=case.id, as_of=late, actor="lena", at=at(1100))
    assert "time-barred since 2029-03-10" in refused.value.message
    assert snapshot(session) == before
    assert legal.legal_criteria(session, case, as_of=late - dt.timedelta(days=1)) == []


def test_illegal_transition_names_stage_and_event_and_leaves_nothing(session: Session) -> None:
    case = new_case(session)
    before = snapshot(session)
    with pytest.raises(IllegalTransitionError) as refused:
        negotiation.make_promise(session, case_id=case.id, amount_minor=1000, due_on=AS_OF, channel="call",
                                 actor="alice", at=T0)  # fmt: skip
    assert refused.value.fields["stage"] == "new" and refused.value.fields["event"] == "arrange"
    assert "cannot arrange a case in stage new" in refused.value.message
    assert snapshot(session) == before


def test_a_hold_refuses_escalation_until_released(session: Session) -> None:
    case = new_case(session)
    hold = service.place_hold(session, case_id=case.id, kind="breathing_space", until_on=dt.date(2026, 6, 19),
                              actor="alice", at=T0)  # fmt: skip
    before = snapshot(session)
    with pytest.raises(IllegalTransitionError) as refused:
        legal.escalate_case(session, case_id=case.id, reason="x", actor="alice", at=at(1))
    assert refused.value.fields["holds"] == ["breathing_space"]
    assert snapshot(session) == before
    contacts.log_contact(
        session, case_id=case.id, channel="call", outcome="refused_to_pay", actor="alice", at=at(1)
    )
    assert legal.evaluate_escalations(session, as_of=AS_OF, actor="cycle", at=at(1)) == {}
    service.release_hold(session, hold_id=hold.id, actor="alice", at=at(2))
    assert legal.evaluate_escalations(session, as_of=AS_OF, actor="cycle", at=at(2)) == {case.id: ["refusal"]}


def test_plan_affordability_break_detection_and_forbearance(session: Session) -> None:
    case = new_case(session)
    to_negotiating(session, case)
    # Income 8,000, expenses 4,000, one dependant at 1,000: 3,000 disposable, 2,400.00 sustainable.
    with pytest.raises(ValidationError) as flagged:
        negotiation.propose_plan(session, case_id=case.id, months=3, first_due_on=dt.date(2026, 5, 10), as_of=AS_OF,
                                 income_minor=800_000, expenses_minor=400_000, dependants=1, actor="alice", at=at(0))  # fmt: skip
    assert flagged.value.fields["sustainable_minor"] == 240_000
    plan = negotiation.propose_plan(session, case_id=case.id, months=3, first_due_on=dt.date(2026, 5, 10), as_of=AS_OF,
                                    total_minor=300_000, income_minor=800_000, expenses_minor=400_000, dependants=1,
                                    actor="alice", at=at(0))  # fmt: skip
    assert (plan.is_above_affordability, plan.max_sustainable_minor) == (False, 240_000)
    assert plan.instalments == {"due_on": ["2026-05-10", "2026-06-10", "2026-07-10"], "amount": [100_000] * 3}
    negotiation.accept_plan(session, plan_id=plan.id, actor="alice", at=at(0))
    assert case.stage == "arranged"
    pay(session, "A1", 100_000, dt.date(2026, 5, 9), "p1")
    # The June instalment is missed: still within 5 grace days on the 15th, broken on the 16th.
    assert negotiation.monitor_plans_due(session, as_of=dt.date(2026, 6, 15), actor="cycle", at=at(56)) == {}
    assert negotiation.monitor_plans_due(session, as_of=dt.date(2026, 6, 16), actor="cycle", at=at(57)) == {
        plan.id: "broken"
    }
    assert (case.stage, case.broken_promises) == ("negotiating", 1)

    second = negotiation.propose_plan(session, case_id=case.id, months=2, first_due_on=dt.date(2026, 7, 10),
                                      as_of=dt.date(2026, 6, 16), total_minor=200_000, actor="alice", at=at(57))  # fmt: skip
    negotiation.accept_plan(session, plan_id=second.id, actor="alice", at=at(57))
    negotiation.forbear_plan(session, plan_id=second.id, as_of=dt.date(2026, 6, 20), instalment_minor=30_000,
                             reason="reduced hours", actor="alice", at=at(61))  # fmt: skip
    assert second.instalments["amount"] == [30_000] * 6 + [20_000]
    assert second.instalments["due_on"][:2] == ["2026-07-10", "2026-08-10"]
    assert "hardship" in [h["kind"] for h in service.case_view(session, case.id, as_of=AS_OF)["holds"]]


def test_waiver_within_authority_posts_at_once_and_above_waits(session: Session) -> None:
    case = new_case(session)
    to_negotiating(session, case)
    own = negotiation.request_waiver(session, case_id=case.id, account_external_id="A1", amounts_minor={"penalty": 5_000},
                                     reason="goodwill", as_of=AS_OF, actor="alice", actor_role="collector", at=at(0))  # fmt: skip
    assert own.status == "applied"
    entry = session.scalars(select(tables.LedgerEntry).where(tables.LedgerEntry.kind == "waiver")).one()
    assert (entry.penalty_minor, entry.fee_minor, entry.key) == (-5_000, 0, f"waiver:concession-{own.id}")
    with pytest.raises(ValidationError):
        negotiation.request_waiver(session, case_id=case.id, account_external_id="A1", amounts_minor={"principal": 10},
                                   reason="x", as_of=AS_OF, actor="alice", actor_role="collector", at=at(0))  # fmt: skip
    # A role the policy does not list has no authority: its waiver waits for an administrator.
    big = negotiation.request_waiver(session, case_id=case.id, account_external_id="A1", amounts_minor={"fee": 2_000},
                                     reason="x", as_of=AS_OF, actor="agent", actor_role="intern", at=at(0))  # fmt: skip
    assert big.status == "pending_approval"
    assert (
        session.scalar(
            select(func.count()).select_from(tables.LedgerEntry).where(tables.LedgerEntry.kind == "waiver")
        )
        == 1
    )
    negotiation.approve_concession(session, concession_id=big.id, as_of=AS_OF, actor="root", actor_role="administrator",
                                   at=at(1))  # fmt: skip
    assert big.status == "applied"
    view = service.case_view(session, case.id, as_of=AS_OF)
    assert (view["accounts"][0]["penalty_minor"], view["accounts"][0]["fee_minor"]) == (0, 0)
    approvals = session.scalars(
        select(tables.AuditEvent).where(tables.AuditEvent.action == "case.waiver_approved")
    ).all()
    roles = [(a.actor, decode_entry(a.entry).event()["details"]["role"]) for a in approvals]
    assert roles == [("root", "administrator")]


def test_two_collectors_changing_one_case_conflict(engine: Engine) -> None:
    with Session(engine) as setup:
        case = new_case(setup)
        setup.commit()
        case_id = case.id
    first = Session(engine, expire_on_commit=False, autoflush=False)
    second = Session(engine, expire_on_commit=False, autoflush=False)
    try:
        seen = second.get_one(Case, case_id)
        second.commit()  # the second collector read the case, then went to talk to the debtor
        service.place_hold(first, case_id=case_id, kind="complaint", actor="alice", at=at(1))
        first.commit()
        assert seen.version == 2  # what the second collector still holds
        with pytest.raises(ConflictError) as conflict:
            contacts.log_contact(second, case_id=case_id, channel="call", outcome="right_party_conversation",
                                 actor="bob", at=at(2))  # fmt: skip
        assert conflict.value.fields == {"case": case_id}
        second.rollback()
        with pytest.raises(ConflictError):
            legal.escalate_case(
                second, case_id=case_id, reason="x", actor="bob", at=at(2), expected_version=2
            )
    finally:
        first.close()
        second.close()
    with Session(engine) as check:
        stored = check.get_one(Case, case_id)
        assert (stored.stage, stored.version) == ("new", 3)
        holds = check.scalars(
            select(tables.AuditEvent.action).where(tables.AuditEvent.subject_id == str(case_id))
        ).all()
        assert holds == ["case.open", "case.hold"]


def test_validation_period_skips_thanksgiving_and_disputes_pause_collection(session: Session) -> None:
    case = new_case(session, "US1", jurisdiction="US", currency="USD")
    to_negotiating(session, case)
    # Provided Monday 2026-11-23: Thanksgiving (Thu 26th) and the weekend are not counted, so receipt is
    # assumed on Tuesday 2026-12-01 and the validation period ends 30 days later.
    item = confirmation.itemise_debt(session, case_id=case.id, itemisation_on=dt.date(2026, 4, 1), as_of=AS_OF,
                                     notice_provided_on=dt.date(2026, 11, 23), actor="alice", at=at(0))  # fmt: skip
    assert (item.assumed_receipt_on, item.validation_ends_on) == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert (item.itemisation_minor, item.interest_minor, item.fees_minor, item.payments_minor, item.current_minor) == (
        TOTAL, 0, 0, 0, TOTAL,
    )  # fmt: skip
    oral = confirmation.record_dispute(session, case_id=case.id, form="oral", received_at=at(0).replace(month=12, day=20),
                                       actor="alice", at=at(0))  # fmt: skip
    assert (oral.is_within_validation_period, oral.pauses_collection) == (True, False)
    written = confirmation.record_dispute(session, case_id=case.id, form="written", received_at=at(0).replace(month=12, day=31),
                                          actor="alice", at=at(0))  # fmt: skip
    assert (written.is_within_validation_period, written.pauses_collection) == (True, True)
    late = confirmation.record_dispute(session, case_id=case.id, form="written", received_at=at(0).replace(year=2027, month=1, day=1),
                                       actor="alice", at=at(0))  # fmt: skip
    assert (late.is_within_validation_period, late.pauses_collection) == (False, False)
    with pytest.raises(IllegalTransitionError):
        legal.escalate_case(session, case_id=case.id, reason="x", actor="alice", at=at(1))
    confirmation.send_verification(session, dispute_id=written.id, actor="alice", at=at(2))
    assert service.case_view(session, case.id, as_of=AS_OF)["holds"] == []
    legal.escalate_case(session, case_id=case.id, reason="x", actor="alice", at=at(3))
    assert case.stage == "escalated"


def test_itemisation_since_the_itemisation_date(session: Session) -> None:
    case = new_case(session)
    pay(session, "A1", 8_000, dt.date(2026, 4, 10), "p1")
    item = confirmation.itemise_debt(session, case_id=case.id, itemisation_on=dt.date(2026, 4, 5), as_of=AS_OF,
                                     actor="alice", at=at(0))  # fmt: skip
    assert (item.itemisation_minor, item.payments_minor, item.credits_minor, item.current_minor) == (
        TOTAL,
        8_000,
        0,
        TOTAL - 8_000,
    )
    assert item.validation_ends_on is None


def test_contact_log_feeds_the_compliance_history(session: Session) -> None:
    case = new_case(session)
    debtor = session.get_one(tables.Debtor, case.debtor_id)
    spouse = tables.Person(debtor_id=debtor.id, role="spouse", name="y", created_at=T0)
    session.add(spouse)
    session.flush()
    contacts.log_contact(session, case_id=case.id, channel="voicemail", outcome="message_left", made_by="ai_voice",
                         endpoint="+8613800138000", actor="bot", at=at(0))  # fmt: skip
    contacts.log_contact(session, case_id=case.id, channel="call", outcome="third_party_answered", recipient="spouse",
                         person_id=spouse.id, actor="alice", at=at(1))  # fmt: skip
    contacts.log_contact(
        session, case_id=case.id, channel="sms", outcome="not_in_service", actor="alice", at=at(2)
    )
    contacts.log_contact(session, case_id=case.id, channel="call", outcome="cease_requested", direction="inbound",
                         actor="alice", at=at(3))  # fmt: skip
    history = contacts.history_for_compliance(session, debtor.id)
    assert history == [
        {"at": "2026-04-20T02:00:00Z", "channel": "voicemail_message", "direction": "outbound",
         "outcome": "voicemail_message", "debts": ["A1"], "ai_voice": True},
        {"at": "2026-04-21T02:00:00Z", "channel": "call", "direction": "outbound", "outcome": "third_party_answered",
         "debts": ["A1"], "ai_voice": False, "person": str(spouse.id)},
        {"at": "2026-04-22T02:00:00Z", "channel": "sms", "direction": "outbound", "outcome": "bounced",
         "debts": ["A1"], "ai_voice": False},
        {"at": "2026-04-23T02:00:00Z", "channel": "call", "direction": "inbound", "outcome": "conversation",
         "debts": ["A1"], "ai_voice": False},
    ]  # fmt: skip
    assert [HistoryEvent.model_validate(item).channel.value for item in history] == [
        "voicemail_message",
        "call",
        "sms",
        "call",
    ]
    endpoints = session.scalars(select(ContactRecord.endpoint).order_by(ContactRecord.id)).all()
    assert endpoints[0] is not None and endpoints[1:] == [None, None, None]
    assert personal.unseal(PersonalKind.PHONE, endpoints[0]) == "+8613800138000"
    assert [h["kind"] for h in service.case_view(session, case.id, as_of=AS_OF)["holds"]] == ["cease_contact"]


def test_bulk_opening_for_overdue_accounts(engine: Engine) -> None:
    from arrears.store.db import UnitOfWork

    with UnitOfWork(engine) as uow:
        seed_debtor(uow.session, "D1", accounts=("A1", "A2"))
        seed_debtor(uow.session, "D2", accounts=("B1",), first_due=dt.date(2026, 5, 10))  # nothing due yet
        seed_debtor(uow.session, "D3", accounts=("C1",))
        service.open_case(uow.session, debtor_external_id="D3", actor="alice", at=T0)
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert service.open_cases_for_overdue(uow.connection, as_of=AS_OF, actor="cycle", at=at(1)) == 1
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert service.open_cases_for_overdue(uow.connection, as_of=AS_OF, actor="cycle", at=at(2)) == 0
        cases = uow.session.scalars(select(Case).order_by(Case.id)).all()
        assert [(c.stage, c.currency, c.version) for c in cases] == [("new", "CNY", 2), ("new", "CNY", 1)]
        opened = cases[1]
        assert opened.opened_at == at(1)
        assert [a.external_id for a in service.case_accounts(uow.session, opened)] == ["A1", "A2"]
        event = service.case_timeline(uow.session, opened.id)[0]
        assert (event["action"], event["actor"], event["details"]["accounts"]) == (
            "case.open",
            "cycle",
            ["A1", "A2"],
        )
        # The bulk-written case behaves like any other: the version lock works on it.
        contacts.log_contact(uow.session, case_id=opened.id, channel="call", outcome="right_party_conversation",
                             actor="alice", at=at(3))  # fmt: skip
        assert (opened.stage, opened.version) == ("initial_contact", 3)


def test_payoff_resolves_and_redefault_reopens(session: Session) -> None:
    case = new_case(session)
    to_negotiating(session, case)
    pay(session, "A1", TOTAL, dt.date(2026, 4, 30), "all")
    assert closure.detect_payoffs(session, as_of=dt.date(2026, 4, 30), actor="cycle", at=at(10)) == [case.id]
    assert (case.stage, case.resolution_reason) == ("resolved", "paid_in_full")
    with pytest.raises(IllegalTransitionError):
        closure.resolve_case(
            session, case_id=case.id, reason="settled", as_of=AS_OF, actor="alice", at=at(11)
        )
    # A reversal puts the debt back: re-default inside the follow-up period reopens the case.
    acc = session.scalars(select(tables.Account)).one()
    session.add(tables.LedgerEntry(account_id=acc.id, key="rev-all", kind="reversal", effective_on=dt.date(2026, 5, 2),
                                   posted_at=T0, principal_minor=PRINCIPAL, interest_minor=0, penalty_minor=0,
                                   compound_minor=0, fee_minor=0, cost_minor=0, reverses_key="all"))  # fmt: skip
    session.flush()
    assert closure.check_follow_ups(session, as_of=dt.date(2026, 5, 3), actor="cycle", at=at(13)) == {
        case.id: "redefault"
    }
    assert (case.stage, case.resolution_reason) == ("initial_contact", None)
