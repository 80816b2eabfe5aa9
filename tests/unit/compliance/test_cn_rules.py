"""China: 08:00–22:00 Asia/Shanghai, 3 effective conversations a day incl. AI voice, 6 unanswered per number,
contacts only when the debtor is 失联, never told of the debt."""

from __future__ import annotations

from arrears.compliance import check

CN = [{"id": "m1", "kind": "phone", "value": "+8613800138000", "place": "mobile"}]
EMERGENCY = {
    "id": "p1",
    "role": "emergency_contact",
    "relation": "friend",
    "contact_points": [{"id": "pm", "kind": "phone", "value": "+8613900139000", "place": "mobile"}],
}


def cn(req, **kw):
    kw.setdefault("contact_points", CN)
    kw.setdefault("proposed", {"channel": "call", "contact_point": "m1", "debts": ["A"], "recording": True})
    return req(jurisdiction="CN", actor="first_party_creditor", **kw)


def test_window_22_to_08_shanghai(req):
    # 22:00 Beijing time = 14:00Z; next opening 08:00 = 00:00Z next day.
    d = check(cn(req, now="2026-06-10T14:00:00Z"))
    assert d.outcome == "delay"
    assert {r.id for r in d.rules} == {"CN.GBT45251.TIME.1", "CN.CBA2026.TIME.1"}
    assert d.next_allowed_at.isoformat() == "2026-06-11T00:00:00+00:00"
    assert check(cn(req, now="2026-06-10T13:59:00Z")).outcome == "allow"


def test_three_effective_conversations_incl_ai_voice(req, ev):
    history = [
        ev("2026-06-10T01:00:00Z", "conversation"),
        ev("2026-06-10T02:00:00Z", "conversation", ai_voice=True),
        ev("2026-06-10T03:00:00Z", "conversation", ai_voice=True),
    ]
    d = check(cn(req, now="2026-06-10T05:00:00Z", history=history))
    assert d.outcome == "delay"
    assert [r.id for r in d.rules] == ["CN.GBT45251.FREQ.1"]
    assert d.next_allowed_at.isoformat() == "2026-06-11T00:00:00+00:00"


def test_inbound_and_unanswered_do_not_count_as_effective(req, ev):
    history = [
        ev("2026-06-10T01:00:00Z", "conversation"),
        ev("2026-06-10T02:00:00Z", "conversation", direction="inbound"),
        ev("2026-06-10T03:00:00Z", "no_answer"),
        ev("2026-06-10T03:30:00Z", "conversation"),
    ]
    assert check(cn(req, now="2026-06-10T05:00:00Z", history=history)).outcome == "allow"


def test_shanghai_day_boundary(req, ev):
    # Conversations at 23:00Z June 9 are June 10 07:00 in Shanghai: they count for June 10.
    history = [ev(f"2026-06-09T2{h}:00:00Z", "conversation") for h in (1, 2, 3)]
    assert check(cn(req, now="2026-06-10T02:00:00Z", history=history)).outcome == "delay"


def test_six_unanswered_per_number_per_day(req, ev):
    history = [ev(f"2026-06-10T0{h}:00:00Z", "no_answer") for h in range(1, 7)]
    d = check(cn(req, now="2026-06-10T08:00:00Z", history=history))
    assert [r.id for r in d.rules] == ["CN.CBA2026.FREQ.1"]
    other = [*CN, {"id": "m2", "kind": "phone", "value": "+8613700137000", "place": "mobile"}]
    ok = check(cn(req, now="2026-06-10T08:00:00Z", history=history, contact_points=other,
                  proposed={"channel": "call", "contact_point": "m2", "recording": True}))  # fmt: skip
    assert ok.outcome == "allow"


def test_emergency_contact_blocked_while_debtor_reachable(req, ev):
    d = check(cn(req, now="2026-06-10T05:00:00Z", persons=[EMERGENCY],
                 proposed={"channel": "call", "person": "p1", "contact_point": "pm", "recording": True}))  # fmt: skip
    assert d.outcome == "block"
    assert "CN.GBT45251.CONTACT.1" in [r.id for r in d.rules]


def test_emergency_contact_allowed_after_three_failed_attempts(req, ev):
    history = [ev(f"2026-06-0{d}T02:00:00Z", "no_answer") for d in (7, 8, 9)]
    proposed = {"channel": "call", "person": "p1", "contact_point": "pm", "recording": True}
    d = check(cn(req, now="2026-06-10T05:00:00Z", persons=[EMERGENCY], history=history, proposed=proposed))
    assert d.outcome == "allow"
    assert "CN.GBT45251.CONTACT.1" in [o.id for o in d.obligations]
    # ...but never told of the debt,
    told = dict(proposed, content="您好，我是XX银行的小王，您的朋友逾期欠款未还")
    blocked = check(cn(req, now="2026-06-10T05:00:00Z", persons=[EMERGENCY], history=history, proposed=told))
    assert [r.id for r in blocked.rules] == ["CN.CBA2026.TP.3"]
    # ...and not again once they refused.
    refused = dict(EMERGENCY, refused_contact_at="2026-06-09T03:00:00Z")
    again = check(cn(req, now="2026-06-10T05:00:00Z", persons=[refused], history=history, proposed=proposed))
    assert "CN.GBT45251.CONTACT.2" in [r.id for r in again.rules]


def test_lost_contact_flag_and_dead_number(req, ev):
    proposed = {"channel": "call", "person": "p1", "contact_point": "pm", "recording": True}
    flagged = check(
        cn(
            req,
            now="2026-06-10T05:00:00Z",
            persons=[EMERGENCY],
            flags={"lost_contact": True},
            proposed=proposed,
        )
    )
    assert flagged.outcome == "allow"
    dead = [ev("2026-06-09T02:00:00Z", "invalid_number")]
    assert (
        check(
            cn(req, now="2026-06-10T05:00:00Z", persons=[EMERGENCY], history=dead, proposed=proposed)
        ).outcome
        == "allow"
    )


def test_guarantor_may_be_collected_from(req):
    g = dict(EMERGENCY, role="guarantor")
    d = check(cn(req, now="2026-06-10T05:00:00Z", persons=[g],
                 proposed={"channel": "call", "person": "p1", "contact_point": "pm", "recording": True}))  # fmt: skip
    assert d.outcome == "allow"


def test_recording_off_blocks_cn_call(req):
    d = check(
        cn(
            req,
            now="2026-06-10T05:00:00Z",
            proposed={"channel": "call", "contact_point": "m1", "recording": False},
        )
    )
    assert [r.id for r in d.rules] == ["CN.CC.68"]
    assert d.outcome == "block"


def test_chinese_prohibited_content(req):
    text = "我是XX公司工号123，你再不还款我们就去你单位闹，让你坐牢，可以去借网贷来还"
    d = check(cn(req, now="2026-06-10T05:00:00Z",
                 proposed={"channel": "call", "contact_point": "m1", "recording": True, "content": text}))  # fmt: skip
    ids = [r.id for r in d.rules]
    assert ids == ["CN.CBA2026.PROHIB.1", "CN.NIFA2018.FUND"]
    assert all(r.reason and r.reason_zh for r in d.rules)


def test_impersonating_court(req):
    text = "这里是XX公司，我们是法院执行局，已经派人去你家"
    d = check(cn(req, now="2026-06-10T05:00:00Z",
                 proposed={"channel": "sms", "contact_point": "m1", "content": text}))  # fmt: skip
    assert d.outcome == "block"
    assert "冒充" in d.rules[0].reason_zh
