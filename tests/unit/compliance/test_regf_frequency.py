"""Reg F 7-in-7, cool-down, exclusions and multi-debt counting (12 CFR 1006.14(b))."""

from __future__ import annotations

from arrears.compliance import check


def _ids(decision):
    return [r.id for r in decision.rules]


def test_seven_connected_calls_delay_the_eighth_to_day_eight(req, ev):
    # Calls on June 1..7 (Chicago, midday): the 8th call on June 7 waits until June 8 local midnight,
    # then the time window pushes it to 08:00 CDT = 13:00Z.
    history = [ev(f"2026-06-0{d}T17:00:00Z") for d in range(1, 8)]
    d = check(req(now="2026-06-07T20:00:00Z", history=history))
    assert d.outcome == "delay"
    assert "US.REGF.FREQ.COUNT" in _ids(d)
    assert d.next_allowed_at.isoformat() == "2026-06-08T13:00:00+00:00"


def test_six_calls_allow_the_seventh(req, ev):
    history = [ev(f"2026-06-0{d}T17:00:00Z") for d in range(1, 7)]
    d = check(req(now="2026-06-07T20:00:00Z", history=history))
    assert d.outcome == "allow"
    assert d.next_allowed_at is None


def test_busy_and_not_in_service_are_not_counted(req, ev):
    history = [ev(f"2026-06-0{d}T17:00:00Z") for d in range(1, 6)]
    history += [ev("2026-06-06T17:00:00Z", "busy"), ev("2026-06-06T18:00:00Z", "not_in_service")]
    assert check(req(now="2026-06-07T20:00:00Z", history=history)).outcome == "allow"


def test_voicemail_counts_as_connected(req, ev):
    history = [ev(f"2026-06-0{d}T17:00:00Z", "voicemail") for d in range(1, 8)]
    assert check(req(now="2026-06-07T20:00:00Z", history=history)).outcome == "delay"


def test_calls_to_all_numbers_share_one_bucket(req, ev):
    points = [
        {"id": "m1", "kind": "phone", "value": "+13125551234", "place": "mobile"},
        {"id": "h1", "kind": "phone", "value": "+13125559999", "place": "home"},
    ]
    history = [ev(f"2026-06-0{d}T17:00:00Z", contact_point="m1" if d % 2 else "h1") for d in range(1, 8)]
    d = check(req(now="2026-06-07T20:00:00Z", contact_points=points, history=history))
    assert d.outcome == "delay"


def test_calls_about_other_debt_count_separately(req, ev):
    history = [ev(f"2026-06-0{d}T17:00:00Z", debts=["B"]) for d in range(1, 8)]
    d = check(req(now="2026-06-07T20:00:00Z", debts=[{"id": "A"}, {"id": "B"}], history=history))
    assert d.outcome == "allow"


def test_call_about_two_debts_counts_against_each(req, ev):
    history = [ev(f"2026-06-0{d}T17:00:00Z", debts=["A", "B"]) for d in range(1, 8)]
    d = check(
        req(
            now="2026-06-07T20:00:00Z",
            debts=[{"id": "A"}, {"id": "B"}],
            history=history,
            proposed={"channel": "call", "contact_point": "m1", "debts": ["B"]},
        )
    )
    assert d.outcome == "delay"


def test_conversation_date_is_day_one_of_cooldown(req, ev):
    # Conversation June 3 (local): no calls June 3..9; June 10 08:00 CDT is the first allowed instant.
    history = [ev("2026-06-03T15:00:00Z", "conversation")]
    d = check(req(now="2026-06-09T20:00:00Z", history=history))
    assert d.outcome == "delay"
    assert _ids(d) == ["US.REGF.FREQ.COOLDOWN"]
    assert d.next_allowed_at.isoformat() == "2026-06-10T13:00:00+00:00"
    assert check(req(now="2026-06-10T14:00:00Z", history=history)).outcome == "allow"


def test_consumer_initiated_conversation_starts_cooldown(req, ev):
    history = [ev("2026-06-03T15:00:00Z", "conversation", direction="inbound")]
    d = check(req(now="2026-06-04T15:00:00Z", history=history))
    assert d.outcome == "delay"
    assert "started by the consumer" in d.rules[0].reason


def test_conversation_about_other_debt_does_not_cool_down_this_one(req, ev):
    history = [ev("2026-06-03T15:00:00Z", "conversation", debts=["B"])]
    d = check(req(now="2026-06-04T15:00:00Z", debts=[{"id": "A"}, {"id": "B"}], history=history))
    assert d.outcome == "allow"


def test_prior_consent_exempts_the_requested_call(req, ev):
    # The debtor asked during the June 3 conversation to be called back on June 5 at 10:00 CDT.
    history = [ev("2026-06-03T15:00:00Z", "conversation", consent_given_for="2026-06-05T15:00:00Z")]
    assert check(req(now="2026-06-05T15:05:00Z", history=history)).outcome == "allow"
    early = check(req(now="2026-06-04T15:00:00Z", history=history))
    assert early.outcome == "delay"
    assert early.next_allowed_at.isoformat() == "2026-06-05T15:00:00+00:00"


def test_consent_ends_after_seven_days_and_after_a_conversation(req, ev):
    history = [
        ev("2026-06-03T15:00:00Z", "conversation", consent_given_for="2026-06-04T15:00:00Z"),
        ev("2026-06-04T15:00:00Z", "conversation"),
    ]
    assert check(req(now="2026-06-05T15:00:00Z", history=history)).outcome == "delay"


def test_first_party_creditor_outside_regf(req, ev):
    history = [ev(f"2026-06-0{d}T17:00:00Z") for d in range(1, 8)]
    d = check(req(now="2026-06-07T20:00:00Z", actor="first_party_creditor", history=history))
    assert d.outcome == "allow"


def test_rolling_mode_is_a_house_option(req, ev):
    from arrears.domain.compliance import load_packs

    packs = load_packs({"rules": {"US.REGF.FREQ.COUNT": {"params": {"window_mode": "rolling_hours"}}}})
    history = [ev(f"2026-06-0{d}T17:00:00Z") for d in range(1, 8)]
    d = check(req(now="2026-06-07T20:00:00Z", history=history), packs=packs)
    assert d.outcome == "delay"
    # The first call (June 1 17:00Z) leaves the window 168 hours later.
    assert d.next_allowed_at.isoformat() == "2026-06-08T17:00:00+00:00"


def test_many_calls_across_debts_go_to_review(req, ev):
    debts = [{"id": x} for x in "ABC"]
    history = [
        ev(f"2026-06-0{d}T{h}:00:00Z", debts=[x])
        for d in range(1, 6)
        for h, x in zip((14, 16, 18), "ABC", strict=True)
    ]
    d = check(req(now="2026-06-06T17:00:00Z", debts=debts, history=history))
    assert d.outcome == "review"
    assert "US.REGF.FREQ.REBUT" in _ids(d)
