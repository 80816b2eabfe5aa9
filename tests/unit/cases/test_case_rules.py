"""Pure case rules: the transition table, promises, plans, affordability, authority, escalation, policy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.cases.policy import default_policy, load_policy
from arrears.domain.cases.enums import ConcessionKind, Event, HoldKind, Stage
from arrears.domain.cases.escalation import (
    escalation_frame,
    fired_rules,
    legal_refusals,
    limitation_expires_on,
)
from arrears.domain.cases.machine import HOLD_BLOCKS, TRANSITIONS, CaseFacts, allowed_events, fire
from arrears.domain.cases.negotiation import (
    assess_affordability,
    authority_limit,
    judge_promises,
    monitor_plans,
    roles_with_authority,
)
from arrears.domain.cases.policy import EscalationRule
from arrears.errors import ConfigurationError, IllegalTransitionError, ValidationError

POLICY = default_policy()
D = dt.date


# -- the state machine ----------------------------------------------------------------------------


def test_happy_path_through_every_stage() -> None:
    verified = CaseFacts(identity_verified=True, legal_criteria_met=True)
    path = [
        (Event.CONTACT, Stage.INITIAL_CONTACT), (Event.CONFIRM, Stage.CONFIRMED), (Event.NEGOTIATE, Stage.NEGOTIATING),
        (Event.ARRANGE, Stage.ARRANGED), (Event.BREAK, Stage.NEGOTIATING), (Event.ESCALATE, Stage.ESCALATED),
        (Event.REFER_LEGAL, Stage.LEGAL), (Event.RESOLVE, Stage.RESOLVED), (Event.REDEFAULT, Stage.INITIAL_CONTACT),
        (Event.RESOLVE, Stage.RESOLVED), (Event.END_FOLLOW_UP, Stage.CLOSED),
    ]  # fmt: skip
    stage = Stage.NEW
    for event, target in path:
        stage = fire(stage, event, verified).target
        assert stage is target


def test_each_source_and_event_has_at_most_one_row() -> None:
    keys = [(t.source, t.event) for t in TRANSITIONS]
    assert len(keys) == len(set(keys))
    assert allowed_events(Stage.CLOSED) == ()
    assert allowed_events(Stage.NEW) == (Event.CONTACT, Event.ESCALATE, Event.RESOLVE)


@given(st.sampled_from(list(Stage)), st.sampled_from(list(Event)))
def test_fire_follows_the_table_or_names_stage_and_event(stage: Stage, event: Event) -> None:
    facts = CaseFacts(identity_verified=True, legal_criteria_met=True)
    row = next((t for t in TRANSITIONS if t.source is stage and t.event is event), None)
    if row is None:
        with pytest.raises(IllegalTransitionError) as refused:
            fire(stage, event, facts)
        assert refused.value.fields == {"stage": stage.value, "event": event.value}
        assert f"cannot {event.value} a case in stage {stage.value}" in refused.value.message
    else:
        assert fire(stage, event, facts) is row


def test_guards_and_holds_refuse_with_reasons() -> None:
    with pytest.raises(IllegalTransitionError) as unverified:
        fire(Stage.INITIAL_CONTACT, Event.CONFIRM, CaseFacts())
    assert unverified.value.fields["guard"] == "identity_verified"
    with pytest.raises(IllegalTransitionError) as barred:
        fire(
            Stage.ESCALATED,
            Event.REFER_LEGAL,
            CaseFacts(legal_refusals=("the debt is time-barred since 2029-03-10",)),
        )
    assert barred.value.message.endswith("the debt is time-barred since 2029-03-10")
    with pytest.raises(IllegalTransitionError) as held:
        fire(
            Stage.NEGOTIATING,
            Event.ESCALATE,
            CaseFacts(holds=frozenset({HoldKind.DISPUTE, HoldKind.HARDSHIP})),
        )
    assert held.value.fields["holds"] == ["dispute", "hardship"]
    # No hold stops a resolution.
    for hold in HoldKind:
        assert fire(Stage.LEGAL, Event.RESOLVE, CaseFacts(holds=frozenset({hold}))).target is Stage.RESOLVED
    assert set(HOLD_BLOCKS) == set(HoldKind)


# -- promises -------------------------------------------------------------------------------------


def _promises() -> pl.DataFrame:
    return pl.DataFrame(
        {"promise_id": [1, 2, 3, 4], "case_id": [10, 20, 30, 40], "amount_minor": [30_000] * 4,
         "made_on": [D(2026, 4, 20)] * 4, "due_on": [D(2026, 4, 25)] * 4},
    )  # fmt: skip


def _payments() -> pl.DataFrame:
    return pl.DataFrame(
        {"case_id": [10, 10, 20, 30, 30], "paid_on": [D(2026, 4, 22), D(2026, 4, 28), D(2026, 4, 24), D(2026, 4, 19), D(2026, 4, 29)],
         "amount_minor": [20_000, 10_000, 5_000, 30_000, 30_000]},
    )  # fmt: skip


def test_promises_kept_partially_kept_broken_and_pending() -> None:
    # Case 10 paid 200 + 100 within grace (kept); 20 paid 50 (partial); 30 paid only before the promise
    # and after the grace (broken); 40 paid nothing (broken).
    judged = judge_promises(_promises(), _payments(), as_of=D(2026, 4, 29), grace_days=3)
    assert judged.rows() == [
        (1, 30_000, "kept"),
        (2, 5_000, "partially_kept"),
        (3, 0, "broken"),
        (4, 0, "broken"),
    ]
    early = judge_promises(_promises(), _payments(), as_of=D(2026, 4, 28), grace_days=3)
    assert early["status"].to_list() == ["kept", "pending", "pending", "pending"]


# -- plans ----------------------------------------------------------------------------------------


def _plan(amounts: list[int], first: dt.date, plan_id: int = 1) -> pl.DataFrame:
    return pl.DataFrame(
        {"plan_id": [plan_id] * len(amounts), "number": list(range(1, len(amounts) + 1)),
         "due_on": [first.replace(month=first.month + k) for k in range(len(amounts))], "amount_minor": amounts},
    )  # fmt: skip


def test_plan_breaks_only_after_grace_and_completes_when_paid() -> None:
    plans = pl.concat([_plan([100, 100, 100], D(2026, 5, 10), 1), _plan([50, 50], D(2026, 5, 10), 2)])
    paid = pl.DataFrame({"plan_id": [1, 2], "paid_minor": [150, 100]})
    within = monitor_plans(plans, paid, as_of=D(2026, 6, 15), grace_days=5)
    assert within.select("plan_id", "status", "missed_number").rows() == [
        (1, "active", None),
        (2, "completed", None),
    ]
    late = monitor_plans(plans, paid, as_of=D(2026, 6, 16), grace_days=5)
    assert late.row(0) == (1, 300, 200, 150, "broken", 2, D(2026, 6, 10))


@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=12), st.integers(0, 130_000))
def test_a_plan_is_broken_exactly_when_an_instalment_past_grace_is_uncovered(
    amounts: list[int], paid: int
) -> None:
    frame = _plan(amounts, D(2026, 1, 10))
    as_of = D(2026, 12, 31)
    result = monitor_plans(
        frame, pl.DataFrame({"plan_id": [1], "paid_minor": [paid]}), as_of=as_of, grace_days=5
    )
    status = result["status"][0]
    covered_all = paid >= sum(amounts)
    assert status == ("completed" if covered_all else "broken")


# -- affordability and authority ------------------------------------------------------------------


def test_affordability_and_the_sustainable_instalment() -> None:
    result = assess_affordability(
        income_minor=800_000, expenses_minor=400_000, dependants=1, currency="CNY", policy=POLICY
    )
    assert (result.disposable_minor, result.max_instalment_minor) == (300_000, 240_000)
    assert result.is_sustainable(240_000) and not result.is_sustainable(240_001)
    negative = assess_affordability(
        income_minor=100, expenses_minor=500, dependants=0, currency="USD", policy=POLICY
    )
    assert (negative.disposable_minor, negative.max_instalment_minor) == (-400, 0)
    with pytest.raises(ValidationError):
        assess_affordability(income_minor=-1, expenses_minor=0, dependants=0, currency="CNY", policy=POLICY)


def test_authority_limits_per_role() -> None:
    kind = ConcessionKind.WAIVER
    # Collector: 10 % of the balance, at most 2,000.00 CNY.
    assert (
        authority_limit(POLICY, role="collector", kind=kind, balance_minor=1_000_000, currency="CNY")
        == 100_000
    )
    assert (
        authority_limit(POLICY, role="collector", kind=kind, balance_minor=9_000_000, currency="CNY")
        == 200_000
    )
    assert authority_limit(POLICY, role="collector", kind=kind, balance_minor=9_000_000, currency="JPY") == 0
    assert (
        authority_limit(POLICY, role="administrator", kind=kind, balance_minor=9_000_000, currency="JPY")
        == 9_000_000
    )
    assert authority_limit(POLICY, role="nobody", kind=kind, balance_minor=9_000_000, currency="CNY") == 0
    assert roles_with_authority(POLICY, kind=ConcessionKind.SETTLEMENT, concession_minor=300_000, balance_minor=1_000_000,
                                currency="CNY") == ["administrator", "legal", "supervisor"]  # fmt: skip


# -- escalation and legal -------------------------------------------------------------------------


def test_escalation_rules_on_whole_columns() -> None:
    signals = pl.DataFrame(
        {"case_id": [1, 2, 3], "broken_promises": [2, 0, 1], "dpd": [10, 95, 0],
         "days_without_right_party": [0, 31, 0], "refusals": [0, 0, 0]},
    )  # fmt: skip
    assert escalation_frame(signals, POLICY.escalation)["fired"].to_list() == [
        ["broken-promises"], ["dpd-90", "no-right-party-30-days"], [],
    ]  # fmt: skip
    both = EscalationRule(id="both", dpd_at_least=30, refusals_at_least=1)
    assert fired_rules({"dpd": 30, "refusals": 1}, [both]) == ["both"]
    assert fired_rules({"dpd": 30}, [both]) == []


def test_legal_refusals_and_limitation() -> None:
    assert limitation_expires_on(D(2024, 2, 29), 3) == D(2027, 2, 28)
    ok = dict(
        balance_minor=600_000, min_balance_minor=500_000, currency="CNY", expires_on=D(2029, 3, 10), holds=()
    )
    assert legal_refusals(as_of=D(2029, 3, 9), **ok) == []
    assert legal_refusals(as_of=D(2029, 3, 10), **ok) == ["the debt is time-barred since 2029-03-10"]
    refusals = legal_refusals(
        balance_minor=1, min_balance_minor=None, currency="JPY", expires_on=D(2030, 1, 1), as_of=D(2026, 1, 1),
        holds=(HoldKind.BANKRUPTCY, HoldKind.HARDSHIP),
    )  # fmt: skip
    assert refusals == ["no minimum balance for legal referral is set for JPY", "active hold: bankruptcy"]


# -- the policy file ------------------------------------------------------------------------------


def test_policy_file_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: '1'\nauthority:\n  collector:\n    waiver: {share: '1.5'}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        load_policy(bad)
    assert error.value.message == "policy.yaml: authority.collector.waiver.share: must be between 0 and 1"
    bad.write_text("version: '1'\nescalation:\n  - {id: x}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="rule 'x' has no condition"):
        load_policy(bad)
    assert POLICY.limitation_years("GB") == 6 and POLICY.limitation_years("FR") == 3
