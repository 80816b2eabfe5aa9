"""The batch form decides exactly as the single check, row by row, on random scenarios.

A seeded generator builds US and CN debtors with several numbers (zones that disagree), spouses,
several debts, histories of conversations, voicemails, busy and unanswered calls, inbound calls,
consents, some flags and disputes, judged at instants on DST days and at the 08:00 / 21:00 /
22:00 local boundaries, with events on days 7 and 8 of the Reg F windows.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

import arrears.compliance.batch as batch_module
from arrears.compliance import check, check_batch
from arrears.domain.compliance.zones import zones_for_phone

UTC = dt.UTC
SHANGHAI = ZoneInfo("Asia/Shanghai")
US_NUMBERS = ["+13125551234", "+12125550142", "+14155550199", "+16025550111", "+18085550123", "+13055550100",
              "+19155550111", "+12065550100", "+13125550000", "+18005550199"]  # fmt: skip
CN_NUMBERS = ["+8613812345678", "+8613998765432", "+862155501234", "+8618612340000"]
US_PLACES = ["US-IL", "US-NY", "US-CA", "US-TX", "US-FL", "US-AZ", "US-HI", "US-MA", "US-DC", "US-WA"]
DAYS = [
    dt.date(2026, 3, 8),
    dt.date(2026, 3, 9),
    dt.date(2026, 11, 1),
    dt.date(2026, 6, 10),
    dt.date(2026, 9, 2),
]
# UTC times that are 08:00, 21:00 or 22:00 somewhere in the US or in Shanghai, and a minute before.
TIMES = [dt.time(0, 0), dt.time(23, 59), dt.time(1, 0), dt.time(0, 59), dt.time(2, 0), dt.time(3, 0),
         dt.time(13, 59), dt.time(14, 0), dt.time(12, 0), dt.time(13, 0), dt.time(18, 30), dt.time(6, 0)]  # fmt: skip
OUTCOMES = ["no_answer", "busy", "voicemail", "voicemail_message", "conversation", "conversation",
            "not_in_service", "third_party_answered", "no_answer", "conversation"]  # fmt: skip


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


def _debtor(rng: random.Random, i: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    is_cn = rng.random() < 0.4
    numbers = CN_NUMBERS if is_cn else US_NUMBERS
    points = [
        {
            "id": f"p{k}",
            "kind": "phone",
            "value": rng.choice(numbers),
            "place": rng.choice(["mobile", "home", "work"]),
        }
        for k in range(rng.randint(1, 3))
    ]
    if rng.random() < 0.3:
        points.append({"id": "e1", "kind": "email", "value": f"d{i}@example.com", "place": "other"})
    debtor: dict[str, Any] = {"id": f"d{i}", "jurisdiction": "CN" if is_cn else rng.choice(US_PLACES),
                              "contact_points": points}  # fmt: skip
    if rng.random() < 0.2:
        debtor["timezone"] = "Asia/Shanghai" if is_cn else rng.choice(["America/Chicago", "America/New_York"])
    if not is_cn and rng.random() < 0.2:
        debtor["address"] = {
            "country": "US",
            "region": rng.choice(["TX", "FL", "IL"]),
            "postal_code": "79901",
        }
    roll = rng.random()
    if roll < 0.04:
        debtor["flags"] = {"deceased": True}
    elif roll < 0.08:
        debtor["flags"] = {"inconvenient_times": [{"start": "12:00", "end": "14:00"}]}
    elif roll < 0.11:
        debtor["flags"] = {"consented_hours": [{"start": "21:00", "end": "22:30"}]}
    elif roll < 0.14:
        debtor["flags"] = {"opt_outs": [{"channel": "sms", "at": "2026-01-01T00:00:00Z"}]}
    persons = []
    if rng.random() < 0.25:
        persons.append({"id": f"s{i}", "role": "spouse", "contact_points": [
            {"id": "sp", "kind": "phone", "value": rng.choice(numbers), "place": "mobile"}]})  # fmt: skip
    debts: list[dict[str, Any]] = [{"id": d} for d in ["A", "B", "C"][: rng.randint(0, 3)]]
    if debts and rng.random() < 0.05:
        debts[0]["dispute"] = {"received_at": "2026-01-02T00:00:00Z", "in_writing": True}
    return debtor, persons, debts


def _history(rng: random.Random, now: dt.datetime, debtor: dict[str, Any], persons: list[dict[str, Any]],
             debts: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    events = []
    phones = [p["id"] for p in debtor["contact_points"] if p["kind"] == "phone"]
    for _ in range(rng.randint(5, 20)):
        days_back = rng.choice([0, 0, 1, 2, 5, 6, 7, 8, 9])
        at = now - dt.timedelta(days=days_back, minutes=rng.randint(1, 20 * 60))
        if rng.random() < 0.05:
            at = now - dt.timedelta(minutes=rng.randint(1, 6))
        person = None
        point = rng.choice(phones)
        if persons and rng.random() < 0.2:
            person, point = persons[0]["id"], "sp"
        elif rng.random() < 0.1:
            person = debtor["id"]
        channel = rng.choice(["call", "call", "call", "voicemail_message", "sms"])
        event: dict[str, Any] = {
            "at": at,
            "channel": channel,
            "direction": "inbound" if rng.random() < 0.1 else "outbound",
            "person": person,
            "contact_point": point,
            "debts": rng.sample([d["id"] for d in debts], k=rng.randint(0, len(debts))),
            "outcome": "delivered" if channel == "sms" else rng.choice(OUTCOMES),
            "ai_voice": rng.random() < 0.1,
            "consent_given_for": None,
        }
        if rng.random() < 0.03:
            event["consent_given_for"] = at + dt.timedelta(hours=rng.choice([1, 30, 200]))
        events.append(event)
    # Bursts on the Shanghai day of now: the CN daily caps (unanswered calls to one number count
    # whoever they were meant for, so some are logged against the spouse).
    since = now - dt.datetime.combine(now.astimezone(SHANGHAI).date(), dt.time(0), tzinfo=SHANGHAI)
    minutes = int(since.total_seconds() // 60)
    if minutes > 10 and rng.random() < 0.3:
        outcome, count = rng.choice([("no_answer", 6), ("busy", 5), ("conversation", 3), ("conversation", 2)])
        for _ in range(count):
            who = persons[0]["id"] if persons and rng.random() < 0.3 else None
            events.append({"at": now - dt.timedelta(minutes=rng.randint(6, minutes)), "channel": "call",
                           "direction": "outbound", "person": who, "contact_point": phones[0], "debts": [],
                           "outcome": outcome, "ai_voice": False, "consent_given_for": None})  # fmt: skip
    return events


def _proposals(rng: random.Random, debtor: dict[str, Any], persons: list[dict[str, Any]],
               debts: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    plans = []
    phones = [p["id"] for p in debtor["contact_points"] if p["kind"] == "phone"]
    emails = [p["id"] for p in debtor["contact_points"] if p["kind"] == "email"]
    for _ in range(rng.randint(1, 3)):
        plan: dict[str, Any] = {"channel": "call", "person": None, "contact_point": rng.choice(phones),
                                "debts": [], "content": None, "recording": None}  # fmt: skip
        roll = rng.random()
        if roll < 0.1:
            plan["channel"] = "voicemail_message"
        elif roll < 0.2:
            plan["channel"] = "sms"
        elif roll < 0.25 and emails:
            plan["channel"], plan["contact_point"] = "email", emails[0]
        elif roll < 0.3 and persons:
            plan["person"], plan["contact_point"] = persons[0]["id"], "sp"
        elif roll < 0.33:
            plan["contact_point"] = None
        if debts and rng.random() < 0.6:
            plan["debts"] = rng.sample([d["id"] for d in debts], k=rng.randint(1, len(debts)))
        if rng.random() < 0.05:
            plan["content"] = "This is Acme calling about your account, please call back at 555-0100."
        if rng.random() < 0.05:
            plan["recording"] = rng.choice([True, False])
        plans.append(plan)
    return plans


def _scenario(seed: int, debtors: int) -> tuple[dt.datetime, str, list[dict[str, Any]], list[dict[str, Any]],
                                                 list[dict[str, Any]]]:  # fmt: skip
    rng = random.Random(seed)
    now = dt.datetime.combine(rng.choice(DAYS), rng.choice(TIMES), tzinfo=UTC)
    actor = rng.choice(["third_party_collector", "third_party_collector", "first_party_creditor"])
    cases, history, plans = [], [], []
    for i in range(debtors):
        debtor, persons, debts = _debtor(rng, i)
        cases.append({"debtor": debtor, "persons": persons, "debts": debts})
        history.extend({"debtor_id": debtor["id"], **e} for e in _history(rng, now, debtor, persons, debts))
        plans.extend({"debtor_id": debtor["id"], **p} for p in _proposals(rng, debtor, persons, debts))
    return now, actor, cases, history, plans


def _frames(history: list[dict[str, Any]], plans: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    hist = pl.DataFrame(
        history,
        schema={"debtor_id": pl.String, "at": pl.Datetime("us", "UTC"), "channel": pl.String,
                "direction": pl.String, "person": pl.String, "contact_point": pl.String,
                "debts": pl.List(pl.String), "outcome": pl.String, "ai_voice": pl.Boolean,
                "consent_given_for": pl.Datetime("us", "UTC")},
    )  # fmt: skip
    props = pl.DataFrame(
        plans,
        schema={"debtor_id": pl.String, "channel": pl.String, "person": pl.String, "contact_point": pl.String,
                "debts": pl.List(pl.String), "content": pl.String, "recording": pl.Boolean},
    )  # fmt: skip
    return hist, props


def _single(now: dt.datetime, actor: str, case: dict[str, Any], history: list[dict[str, Any]],
            plan: dict[str, Any]) -> Any:  # fmt: skip
    events = []
    for e in history:
        item = {k: v for k, v in e.items() if k != "debtor_id" and v is not None}
        item["at"] = _iso(e["at"])
        if e["consent_given_for"] is not None:
            item["consent_given_for"] = _iso(e["consent_given_for"])
        events.append(item)
    proposed = {k: v for k, v in plan.items() if k != "debtor_id" and v is not None}
    return check({"now": _iso(now), "actor": actor, **case, "history": events, "proposed": proposed})


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_batch_equals_single_check_for_every_row(seed, monkeypatch):
    now, actor, cases, history, plans = _scenario(seed, debtors=120)
    engine_calls = []
    real = batch_module.evaluate
    monkeypatch.setattr(
        batch_module, "evaluate", lambda req, packs: engine_calls.append(1) or real(req, packs)
    )
    hist, props = _frames(history, plans)
    out = check_batch(now=now, actor=actor, cases=cases, history=hist, proposed=props)
    assert out.height == len(plans)
    by_debtor: dict[str, list[dict[str, Any]]] = {}
    for e in history:
        by_debtor.setdefault(e["debtor_id"], []).append(e)
    case_of = {c["debtor"]["id"]: c for c in cases}
    outcomes = set()
    for plan, row in zip(plans, out.iter_rows(named=True), strict=True):
        single = _single(now, actor, case_of[plan["debtor_id"]], by_debtor.get(plan["debtor_id"], []), plan)
        expected = (single.outcome.value, single.next_allowed_at, list(single.rule_ids),
                    [r.outcome.value for r in single.rules])  # fmt: skip
        got = (row["outcome"], row["next_allowed_at"], row["rules"], row["rule_outcomes"])
        assert got == expected, (seed, plan)
        outcomes.add(row["outcome"])
    # The whole-column path judged part of the rows; the engine only the others.
    assert 0 < len(engine_calls) < len(plans) * 0.7
    assert "allow" in outcomes or "delay" in outcomes


def test_precomputed_zones_give_the_same_decisions():
    now, actor, cases, history, plans = _scenario(11, debtors=60)
    hist, props = _frames(history, plans)
    plain = check_batch(now=now, actor=actor, cases=cases, history=hist, proposed=props)
    given = []
    for case in cases:
        region = "CN" if case["debtor"]["jurisdiction"] == "CN" else "US"
        points = [
            {**p, "zones": list(zones_for_phone(p["value"], region))} if p["kind"] == "phone" else p
            for p in case["debtor"]["contact_points"]
        ]
        given.append({**case, "debtor": {**case["debtor"], "contact_points": points}})
    again = check_batch(now=now, actor=actor, cases=given, history=hist, proposed=props)
    assert again.select("outcome", "next_allowed_at", "rules").equals(
        plain.select("outcome", "next_allowed_at", "rules")
    )


def test_unknown_contact_point_is_refused_with_its_row():
    now, actor, cases, history, plans = _scenario(5, debtors=3)
    plans[-1]["contact_point"] = "nope"
    hist, props = _frames(history, plans)
    with pytest.raises(Exception) as info:
        check_batch(now=now, actor=actor, cases=cases, history=hist, proposed=props)
    assert f"proposed[{len(plans) - 1}].contact_point" in str(info.value)


def test_plain_rows_never_reach_the_engine(monkeypatch):
    now = dt.datetime(2026, 6, 10, 18, 0, tzinfo=UTC)
    cases = [
        {"debtor": {"id": f"d{i}", "jurisdiction": "CN" if i % 2 else "US-IL", "contact_points": [
            {"id": "m1", "kind": "phone", "value": CN_NUMBERS[0] if i % 2 else US_NUMBERS[0]}]},
         "debts": [{"id": "A"}]}
        for i in range(4)
    ]  # fmt: skip
    history = [
        {"debtor_id": f"d{i}", "at": now - dt.timedelta(hours=h), "channel": "call", "direction": "outbound",
         "person": None, "contact_point": "m1", "debts": ["A"], "outcome": "conversation" if i == 2 else "no_answer",
         "ai_voice": False, "consent_given_for": None}
        for i in range(4) for h in (1, 30)
    ]  # fmt: skip
    plans = [{"debtor_id": f"d{i}", "channel": "call", "person": None, "contact_point": "m1", "debts": ["A"],
              "content": None, "recording": None} for i in range(4)]  # fmt: skip
    monkeypatch.setattr(batch_module, "evaluate", lambda req, packs: pytest.fail("engine called"))
    hist, props = _frames(history, plans)
    out = check_batch(now=now, actor="third_party_collector", cases=cases, history=hist, proposed=props)
    # 18:00Z is 13:00 in Chicago (open) and 02:00 in Shanghai (closed until 08:00, 00:00Z).
    assert out["outcome"].to_list() == ["allow", "delay", "delay", "delay"]
    assert out["rules"].to_list() == [
        [], ["CN.GBT45251.TIME.1", "CN.CBA2026.TIME.1"], ["US.REGF.FREQ.COOLDOWN"],
        ["CN.GBT45251.TIME.1", "CN.CBA2026.TIME.1"],
    ]  # fmt: skip
    assert out["next_allowed_at"].to_list() == [
        None, dt.datetime(2026, 6, 11, 0, 0, tzinfo=UTC), dt.datetime(2026, 6, 17, 13, 0, tzinfo=UTC),
        dt.datetime(2026, 6, 11, 0, 0, tzinfo=UTC),
    ]  # fmt: skip
    assert out["packs"].to_list() == [["US-FED", "HOUSE"], ["CN", "HOUSE"]] * 2


def test_a_plain_batch_of_100_rows_never_calls_the_engine(monkeypatch):
    """US states with their own counts (MA, WA, DC), deceased debtors and inconvenient times stay
    on the whole-column path; each row's decision still equals the single check's."""
    now = dt.datetime(2026, 6, 10, 15, 30, tzinfo=UTC)
    places = ["US-MA", "US-WA", "US-DC", "US-IL", "CN"]
    cases, history, plans = [], [], []
    for i in range(100):
        place = places[i % len(places)]
        number = CN_NUMBERS[i % 4] if place == "CN" else US_NUMBERS[i % 9]
        debtor: dict[str, Any] = {"id": f"d{i}", "jurisdiction": place, "contact_points": [
            {"id": "m1", "kind": "phone", "value": number, "place": "work" if i % 3 == 0 else "mobile"}]}  # fmt: skip
        if i % 10 == 7:
            debtor["flags"] = {"deceased": True}
        elif i % 10 == 3:
            debtor["flags"] = {"inconvenient_times": [{"start": "10:00", "end": "12:00"}]}
        cases.append({"debtor": debtor, "debts": [{"id": "A"}]})
        for k in range((i // 5) % 6):
            history.append({"debtor_id": f"d{i}", "at": now - dt.timedelta(days=k, hours=2), "channel": "call",
                            "direction": "outbound", "person": None, "contact_point": "m1", "debts": ["A"],
                            "outcome": "voicemail_message" if k % 2 else "no_answer", "ai_voice": False,
                            "consent_given_for": None})  # fmt: skip
        plans.append({"debtor_id": f"d{i}", "channel": "call", "person": None, "contact_point": "m1",
                      "debts": ["A"], "content": None, "recording": None})  # fmt: skip
    monkeypatch.setattr(batch_module, "evaluate", lambda req, packs: pytest.fail("engine called"))
    hist, props = _frames(history, plans)
    out = check_batch(now=now, actor="third_party_collector", cases=cases, history=hist, proposed=props)
    monkeypatch.undo()
    assert out.height == 100
    fired = {rule for rules in out["rules"].to_list() for rule in rules}
    assert {"US-MA.209.18.16.FREQ", "US-WA.19.16.250.FREQ", "US-DC.28-3814.CALLS", "US.REGF.DECEASED",
            "US.REGF.TIME.STATED"} <= fired  # fmt: skip
    assert set(out["outcome"].to_list()) == {"allow", "delay", "block"}
    by_debtor: dict[str, list[dict[str, Any]]] = {}
    for e in history:
        by_debtor.setdefault(e["debtor_id"], []).append(e)
    for case, plan, row in zip(cases, plans, out.iter_rows(named=True), strict=True):
        single = _single(now, "third_party_collector", case, by_debtor.get(plan["debtor_id"], []), plan)
        assert (row["outcome"], row["next_allowed_at"], row["rules"]) == (
            single.outcome.value, single.next_allowed_at, list(single.rule_ids)), plan  # fmt: skip


@pytest.mark.parametrize("seed", [21, 22])
def test_cases_read_directly_decide_as_cases_validated_by_the_models(seed, monkeypatch):
    """Spouses, disputes, flags, zones and addresses: reading the cases directly or through the
    models gives the same table, row for row."""
    from arrears.domain.compliance.cases import CaseColumns, read_cases

    now, actor, cases, history, plans = _scenario(seed, debtors=80)
    for case in cases[::3]:
        region = "CN" if case["debtor"]["jurisdiction"] == "CN" else "US"
        for point in case["debtor"]["contact_points"]:
            if point["kind"] == "phone":
                point["zones"] = list(zones_for_phone(point["value"], region))
    assert 0 < len(read_cases(cases).fallback) < len(cases) / 2
    hist, props = _frames(history, plans)
    fast = check_batch(now=now, actor=actor, cases=cases, history=hist, proposed=props)
    monkeypatch.setattr(batch_module, "read_cases", lambda c: CaseColumns(fallback=list(range(len(c)))))
    full = check_batch(now=now, actor=actor, cases=cases, history=hist, proposed=props)
    assert fast.equals(full)
