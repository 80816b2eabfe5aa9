"""Absolute bars, place, content and state layers, one rule at a time."""

from __future__ import annotations

import pytest

from arrears.compliance import check, check_content, fingerprint
from arrears.errors import ValidationError

NOW = "2026-06-10T17:00:00Z"


def ids(d):
    return [r.id for r in d.rules]


@pytest.mark.parametrize(
    ("flags", "rule"),
    [
        ({"bankruptcy": {"filed_on": "2026-05-01"}}, "US.BK"),
        ({"cease_requested_at": "2026-06-01T00:00:00Z", "cease_in_writing": True}, "US.REGF.CEASE"),
        ({"attorney": {"name": "J. Doe", "known_at": "2026-06-01T00:00:00Z"}}, "US.REGF.ATTY"),
        ({"deceased": True}, "US.REGF.DECEASED"),
        ({"opt_outs": [{"channel": "call", "at": "2026-06-01T00:00:00Z"}]}, "US.REGF.MEDIA"),
    ],
)
def test_absolute_bars_block(req, flags, rule):
    d = check(req(now=NOW, flags=flags))
    assert d.outcome == "block"
    assert ids(d) == [rule]
    assert d.next_allowed_at is None


def test_oral_cease_goes_to_review(req):
    d = check(req(now=NOW, flags={"cease_requested_at": "2026-06-01T00:00:00Z"}))
    assert d.outcome == "review"


def test_future_bankruptcy_knowledge_does_not_fire(req):
    flags = {"bankruptcy": {"filed_on": "2026-05-01", "known_at": "2026-07-01T00:00:00Z"}}
    assert check(req(now=NOW, flags=flags)).outcome == "allow"


def test_written_dispute_in_validation_period_blocks_until_verification(req):
    disputed = {
        "id": "A",
        "validation_notice_sent_on": "2026-06-01",
        "dispute": {"received_at": "2026-06-05T00:00:00Z", "in_writing": True},
    }
    assert ids(check(req(now=NOW, debts=[disputed]))) == ["US.REGF.DISPUTE"]
    verified = dict(disputed, verification_sent_at="2026-06-08T00:00:00Z")
    assert check(req(now=NOW, debts=[verified])).outcome == "allow"


def test_dispute_after_validation_period_does_not_block(req):
    # Notice 2026-05-01 (Fri): receipt assumed 5 business days later (May 8), period ends June 7.
    late = {
        "id": "A",
        "validation_notice_sent_on": "2026-05-01",
        "dispute": {"received_at": "2026-06-08T16:00:00Z", "in_writing": True},
    }
    assert check(req(now=NOW, debts=[late])).outcome == "allow"


def test_validation_period_skips_holidays():
    import datetime as dt

    from arrears.domain.compliance.rules import validation_period_end

    # Sent Wed 2026-07-01: Jul 2, (3 observed Independence Day), 6, 7, 8, 9 -> receipt Jul 9, end Aug 8.
    assert validation_period_end(dt.date(2026, 7, 1)) == dt.date(2026, 8, 8)


def test_breathing_space_uk(req):
    gb = [{"id": "m1", "kind": "phone", "value": "+447911123456", "place": "mobile"}]
    d = check(
        req(
            now="2026-06-10T10:00:00Z",
            jurisdiction="GB-ENG",
            contact_points=gb,
            flags={"breathing_space": {"start_on": "2026-06-01"}},
        )
    )
    assert ids(d) == ["UK.BREATHING"]
    after = check(
        req(
            now="2026-08-01T10:00:00Z",
            jurisdiction="GB-ENG",
            contact_points=gb,
            flags={"breathing_space": {"start_on": "2026-06-01"}},
        )
    )
    assert after.outcome == "allow"


def test_workplace_and_work_email(req):
    points = [
        {"id": "w", "kind": "phone", "value": "+13125550000", "place": "work"},
        {"id": "e", "kind": "email", "value": "a@corp.example", "place": "work"},
    ]
    d = check(
        req(
            now=NOW,
            contact_points=points,
            flags={"employer_prohibits_contact": True},
            proposed={"channel": "call", "contact_point": "w"},
        )
    )
    assert ids(d) == ["US.REGF.PLACE"]
    mail = check(
        req(
            now=NOW,
            contact_points=points,
            proposed={
                "channel": "email",
                "contact_point": "e",
                "content": "From a debt collector. Reply STOP to opt out.",
            },
        )
    )
    assert ids(mail) == ["US.REGF.WORKEMAIL"]


def test_public_social_blocked(req):
    points = [{"id": "s", "kind": "social", "value": "@d1", "place": "other"}]
    d = check(
        req(now=NOW, contact_points=points, proposed={"channel": "social_public", "contact_point": "s"})
    )
    assert ids(d) == ["US.REGF.SOCIAL"]


def test_us_text_needs_opt_out_and_disclosure(req):
    d = check(
        req(now=NOW, proposed={"channel": "sms", "contact_point": "m1", "content": "Please call us back."})
    )
    assert ids(d) == ["US.REGF.MINIMIRANDA", "US.REGF.OPTOUT"]
    ok = check(
        req(
            now=NOW,
            proposed={
                "channel": "sms",
                "contact_point": "m1",
                "content": "This is a message from a debt collector. Reply STOP to opt out.",
            },
        )
    )
    assert ok.outcome == "allow"


def test_voicemail_must_be_limited_content(req):
    bad = check(
        req(
            now=NOW,
            proposed={
                "channel": "voicemail_message",
                "contact_point": "m1",
                "content": "You owe $500 on your debt. Call 312-555-0000.",
            },
        )
    )
    assert ids(bad) == ["US.REGF.LCM"]
    lcm = "Hi, this is Ann from Acme Services. Please call us back at 312-555-0000."
    assert (
        check(
            req(now=NOW, proposed={"channel": "voicemail_message", "contact_point": "m1", "content": lcm})
        ).outcome
        == "allow"
    )


def test_time_barred_suit_threat(req):
    debt = {"id": "A", "limitation_expires_on": "2025-01-01"}
    text = "This is Ann from Acme, a debt collector. Pay or we will sue you."
    d = check(
        req(now=NOW, debts=[debt], proposed={"channel": "call", "contact_point": "m1", "content": text})
    )
    assert ids(d) == ["US.REGF.TBD"]


def test_english_threat_and_impersonation(req):
    text = "This is officer Smith from the police, a debt collector. Pay or you will be arrested, deadbeat."
    d = check(req(now=NOW, proposed={"channel": "call", "contact_point": "m1", "content": text}))
    assert ids(d) == ["US.FDCPA.1692d", "US.FDCPA.1692e"]


def test_third_party_location_call(req):
    friend = {
        "id": "p1",
        "role": "third_party",
        "contact_points": [{"id": "pp", "kind": "phone", "value": "+13125557777"}],
    }
    proposed = {"channel": "call", "person": "p1", "contact_point": "pp"}
    first = check(req(now=NOW, persons=[friend], proposed=proposed))
    assert first.outcome == "allow"
    again = check(
        req(
            now=NOW,
            persons=[friend],
            proposed=proposed,
            history=[
                {
                    "at": "2026-06-01T17:00:00Z",
                    "channel": "call",
                    "person": "p1",
                    "contact_point": "pp",
                    "outcome": "conversation",
                }
            ],
        )
    )
    assert ids(again) == ["US.REGF.LOC"]
    told = check(
        req(now=NOW, persons=[friend], proposed=dict(proposed, content="Hi, tell John he owes us money"))
    )
    assert ids(told) == ["US.REGF.3P", "US.REGF.IDENT"]


def test_massachusetts_two_calls_in_seven_days(req, ev):
    ma = [{"id": "m1", "kind": "phone", "value": "+16175551234", "place": "mobile"}]
    history = [
        ev("2026-06-05T15:00:00Z", "voicemail", contact_point="m1"),
        ev("2026-06-08T15:00:00Z", "conversation", direction="outbound"),
    ]
    d = check(
        req(now=NOW, jurisdiction="US-MA", contact_points=ma, actor="first_party_creditor", history=history)
    )
    assert ids(d) == ["US-MA.940.7.04.1.f"]
    # Day 1 = June 5; the window frees on June 12 (local), at 08:00 EDT.
    assert d.next_allowed_at.isoformat() == "2026-06-12T12:00:00+00:00"
    missed = [ev("2026-06-05T15:00:00Z", "no_answer"), ev("2026-06-08T15:00:00Z", "busy")]
    assert (
        check(
            req(
                now=NOW, jurisdiction="US-MA", contact_points=ma, actor="first_party_creditor", history=missed
            )
        ).outcome
        == "allow"
    )


def test_dc_needs_consent_for_texts(req):
    d = check(
        req(
            now=NOW,
            jurisdiction="US-DC",
            actor="first_party_creditor",
            proposed={"channel": "sms", "contact_point": "m1"},
        )
    )
    assert ids(d) == ["US-DC.28-3814.CONSENT"]


def test_nyc_cap_only_from_effective_date(req, ev):
    history = [ev(f"2026-0{m}-0{d}T15:00:00Z") for m, d in ((8, 3), (8, 4), (8, 5))]
    before = check(
        req(
            now="2026-08-06T15:00:00Z",
            jurisdiction="US-NY-NYC",
            actor="first_party_creditor",
            history=history,
        )
    )
    assert before.outcome == "allow"
    history = [ev(f"2026-09-0{d}T15:00:00Z") for d in (3, 4, 5)]
    after = check(
        req(
            now="2026-09-06T15:00:00Z",
            jurisdiction="US-NY-NYC",
            actor="first_party_creditor",
            history=history,
        )
    )
    assert ids(after) == ["US-NYC.5-77.FREQ"]


def test_invalid_field_named_with_path(req):
    body = req(
        now=NOW,
        contact_points=[
            {"id": "m1", "kind": "phone", "value": "+13125551234"},
            {"id": "x", "kind": "fax", "value": "1"},
        ],
    )
    with pytest.raises(ValidationError) as info:
        check(body)
    assert info.value.message == "debtor.contact_points[1].kind: must be one of phone, email, address, social"


def test_naive_instant_refused(req):
    with pytest.raises(ValidationError) as info:
        check(req(now="2026-06-10T12:00:00"))
    assert info.value.message.startswith("now: must be an ISO-8601 instant")


def test_fingerprint_is_canonical(req):
    a = req(now="2026-06-10T12:30:00Z")
    b = req(now="2026-06-10T20:30:00+08:00")
    assert fingerprint(a) == fingerprint(b)
    assert len(fingerprint(a)) == 64
    assert fingerprint(a) != fingerprint(req(now="2026-06-10T12:31:00Z"))


def test_check_content_for_templates():
    import datetime as dt

    fired = check_content(
        "你这个老赖",
        jurisdiction="CN",
        actor="first_party_creditor",
        channel="sms",
        as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    )
    assert [r.id for r in fired] == ["CN.CBA2026.PROHIB.1", "CN.CBA2026.ID.1"]
    clean = check_content(
        "您好，我是XX银行客服中心工号1024，请按时还款。",
        jurisdiction="CN",
        actor="first_party_creditor",
        channel="sms",
        as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    )
    assert clean == ()


def test_overrides_enable_house_window(req):
    from arrears.domain.compliance import load_packs

    packs = load_packs({"rules": {"HOUSE.TIME.WINDOW": {"enabled": True}}})
    d = check(req(now="2026-06-10T13:30:00Z"), packs=packs)  # 08:30 CDT
    assert ids(d) == ["HOUSE.TIME.WINDOW"]
    assert d.next_allowed_at.isoformat() == "2026-06-10T14:00:00+00:00"


def test_overrides_reject_unknown_parameter():
    from arrears.domain.compliance import load_packs
    from arrears.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="has no parameter 'max'"):
        load_packs({"rules": {"US.REGF.FREQ.COUNT": {"params": {"max": 3}}}})
