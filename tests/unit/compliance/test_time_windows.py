"""Local windows with DST, ambiguous zones and half-open boundaries."""

from __future__ import annotations

import datetime as dt

from arrears.compliance import check
from arrears.domain.compliance.zones import day_window, next_open

NY = [{"id": "m1", "kind": "phone", "value": "+12125551234", "place": "mobile"}]


def test_window_is_half_open_at_21_00(req):
    # 21:00:00 EDT exactly is outside; 20:59 is inside.
    assert check(req(now="2026-06-11T00:59:00Z", jurisdiction="US-NY", contact_points=NY)).outcome == "allow"
    d = check(req(now="2026-06-11T01:00:00Z", jurisdiction="US-NY", contact_points=NY))
    assert d.outcome == "delay"
    assert d.next_allowed_at.isoformat() == "2026-06-11T12:00:00+00:00"


def test_08_00_is_inside(req):
    assert check(req(now="2026-06-10T12:00:00Z", jurisdiction="US-NY", contact_points=NY)).outcome == "allow"
    assert check(req(now="2026-06-10T11:59:59Z", jurisdiction="US-NY", contact_points=NY)).outcome == "delay"


def test_us_spring_forward_2026(req):
    # 2026-03-08: New York moves from EST (UTC-5) to EDT (UTC-4); 08:00 local is 12:00Z that day.
    d = check(req(now="2026-03-08T11:30:00Z", jurisdiction="US-NY", contact_points=NY))
    assert d.next_allowed_at.isoformat() == "2026-03-08T12:00:00+00:00"
    # The day before, 08:00 EST was 13:00Z.
    d = check(req(now="2026-03-07T12:30:00Z", jurisdiction="US-NY", contact_points=NY))
    assert d.next_allowed_at.isoformat() == "2026-03-07T13:00:00+00:00"


def test_us_fall_back_2026(req):
    # 2026-11-01: back to EST; 21:00 local is 02:00Z the next day.
    assert check(req(now="2026-11-02T01:30:00Z", jurisdiction="US-NY", contact_points=NY)).outcome == "allow"
    assert check(req(now="2026-11-02T02:00:00Z", jurisdiction="US-NY", contact_points=NY)).outcome == "delay"


def test_europe_dst_2026_uk_window(req):
    gb = [{"id": "m1", "kind": "phone", "value": "+447911123456", "place": "mobile"}]
    # 2026-03-29 BST starts: 08:00 local = 07:00Z; on 03-28 08:00 GMT = 08:00Z.
    d = check(
        req(
            now="2026-03-29T06:30:00Z", jurisdiction="GB-ENG", contact_points=gb, actor="first_party_creditor"
        )
    )
    assert d.outcome == "delay"
    assert d.next_allowed_at.isoformat() == "2026-03-29T07:00:00+00:00"
    d = check(
        req(
            now="2026-03-28T07:30:00Z", jurisdiction="GB-ENG", contact_points=gb, actor="first_party_creditor"
        )
    )
    assert d.next_allowed_at.isoformat() == "2026-03-28T08:00:00+00:00"
    # 2026-10-25 GMT resumes: 21:00 local = 21:00Z.
    ok = check(
        req(
            now="2026-10-25T20:30:00Z", jurisdiction="GB-ENG", contact_points=gb, actor="first_party_creditor"
        )
    )
    assert ok.outcome == "allow"


def test_two_numbers_in_two_zones_need_both_windows(req):
    points = [*NY, {"id": "m2", "kind": "phone", "value": "+13105551234", "place": "mobile"}]
    # 08:30 EDT is 05:30 PDT: wait for 08:00 in Los Angeles (15:00Z).
    d = check(req(now="2026-06-10T12:30:00Z", jurisdiction="US-NY", contact_points=points))
    assert d.outcome == "delay"
    assert d.next_allowed_at.isoformat() == "2026-06-10T15:00:00+00:00"
    assert set(d.zones) == {"America/New_York", "America/Los_Angeles"}


def test_address_and_area_code_conflict(req):
    # Chicago number, Denver address: 20:30 CDT is 19:30 MDT — fine; 07:30 MDT is 08:30 CDT — not.
    address = {"country": "US", "region": "CO", "postal_code": "80202"}
    chi = [{"id": "m1", "kind": "phone", "value": "+13125551234", "place": "mobile"}]
    d = check(req(now="2026-06-10T13:30:00Z", jurisdiction="US-CO", address=address, contact_points=chi))
    assert d.next_allowed_at.isoformat() == "2026-06-10T14:00:00+00:00"


def test_multi_zone_state_without_postal_code_is_ambiguous(req):
    letter = {"channel": "visit"}
    fl = {"country": "US", "region": "FL"}
    d = check(
        req(now="2026-06-10T12:30:00Z", jurisdiction="US-FL", contact_points=[], address=fl, proposed=letter)
    )
    assert d.next_allowed_at.isoformat() == "2026-06-10T13:00:00+00:00"
    panhandle = {"country": "US", "region": "FL", "postal_code": "32501"}
    late = check(
        req(
            now="2026-06-10T13:30:00Z",
            jurisdiction="US-FL",
            contact_points=[],
            address=panhandle,
            proposed=letter,
        )
    )
    assert late.outcome == "allow"


def test_consented_hours_widen_the_window(req):
    flags = {"consented_hours": [{"start": "21:00", "end": "22:00"}]}
    assert (
        check(req(now="2026-06-11T01:30:00Z", jurisdiction="US-NY", contact_points=NY, flags=flags)).outcome
        == "allow"
    )


def test_stated_inconvenient_times(req):
    flags = {"inconvenient_times": [{"start": "12:00", "end": "14:00"}]}
    d = check(req(now="2026-06-10T16:30:00Z", jurisdiction="US-NY", contact_points=NY, flags=flags))
    assert d.outcome == "delay"
    assert [r.id for r in d.rules] == ["US.REGF.TIME.STATED"]
    assert d.next_allowed_at.isoformat() == "2026-06-10T18:00:00+00:00"


def test_next_open_wraps_and_intersects():
    window = day_window(((dt.time(8), dt.time(21)),))
    t = dt.datetime(2026, 6, 10, 3, 0, tzinfo=dt.UTC)
    assert next_open(t, ("Asia/Shanghai",), window) == dt.datetime(
        2026, 6, 10, 0, 0, tzinfo=dt.UTC
    ) + dt.timedelta(hours=3)
    # Guam and Honolulu never share 08:00-21:00? They do: 08:00 HST = 04:00 ChST next day... no overlap.
    assert next_open(t, ("Pacific/Guam", "America/New_York"), day_window(((dt.time(8), dt.time(9)),))) is None


def test_delay_iterates_into_next_frequency_window(req, ev):
    # Seven calls on June 4..10 (local); at 20:50 CDT June 10 the count fails until June 11 00:00 CDT,
    # then the window moves it to 08:00 CDT.
    history = [ev(f"2026-06-{d:02d}T15:00:00Z") for d in range(4, 11)]
    d = check(req(now="2026-06-11T01:50:00Z", history=history))
    assert {r.id for r in d.rules} == {"US.REGF.FREQ.COUNT"}
    assert d.next_allowed_at.isoformat() == "2026-06-11T13:00:00+00:00"
