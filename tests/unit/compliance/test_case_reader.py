"""The direct case reader agrees with the full (pydantic) validation on every case it accepts,
and leaves every other case to it, so errors keep their field paths and messages."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import arrears.compliance.batch as batch_module
from arrears.domain.compliance.cases import CaseColumns, read_cases
from arrears.errors import ValidationError

UTC = dt.UTC


def _case(i: int) -> dict[str, Any]:
    return {
        "debtor": {
            "id": f"d{i}",
            "jurisdiction": "US-IL" if i % 2 else "CN",
            "contact_points": [
                {"id": "m0", "kind": "phone", "value": "+13125551234", "place": "mobile"},
                {"id": "e0", "kind": "email", "value": f"d{i}@example.com"},
            ],
        },
        "debts": [{"id": "A"}, {"id": "B"}],
    }


def _full_only(cases: Any) -> CaseColumns:
    return CaseColumns(fallback=list(range(len(cases))))


def _read(cases: list[Any], monkeypatch: pytest.MonkeyPatch, *, full: bool) -> Any:
    """What the batch reads from ``cases``: sorted tables, or the error it raises."""
    with monkeypatch.context() as patch:
        if full:
            patch.setattr(batch_module, "read_cases", _full_only)
        try:
            table, _models = batch_module._read_and_validate(cases)
        except ValidationError as exc:
            return ("error", str(exc), exc.fields if hasattr(exc, "fields") else None)
    debtors = pl.DataFrame(
        {
            "case_index": table.case_index,
            "debtor_id": table.debtor_id,
            "jurisdiction": table.jurisdiction,
            "primary": table.primary,
            "zones": [table.zone_sets[k] for k in table.zkey],
            "plain": table.plain,
            "deceased": table.deceased,
            "quiet": [None if q is None else table.quiet_sets[q] for q in table.quiet],
        },
        schema_overrides={"quiet": pl.Object},
    ).sort("case_index")
    people = sorted(zip(table.person_debtor, table.person_id, table.person_role, strict=True))
    points = sorted(
        zip(
            table.point_debtor,
            table.point_person,
            table.point_id,
            table.point_kind,
            table.point_place,
            strict=True,
        )
    )
    debts = sorted(zip(table.debt_debtor, table.debt_id, strict=True))
    return (debtors.rows(), people, points, debts)


# Each mutation turns a valid case into one the reader must either read exactly as the models
# do, or leave to them (valid but unusual, or invalid).
MUTATIONS: list[tuple[str, Any]] = [
    ("nothing", lambda c: None),
    ("id padded", lambda c: c["debtor"].__setitem__("id", " d0 ")),
    ("id an int", lambda c: c["debtor"].__setitem__("id", 7)),
    ("unknown debtor field", lambda c: c["debtor"].__setitem__("nickname", "x")),
    ("unknown case field ignored", lambda c: c.__setitem__("notes", "ignored")),
    ("jurisdiction lower case", lambda c: c["debtor"].__setitem__("jurisdiction", "us-il")),
    ("jurisdiction padded", lambda c: c["debtor"].__setitem__("jurisdiction", " US-IL")),
    ("jurisdiction with newline", lambda c: c["debtor"].__setitem__("jurisdiction", "US-IL\n")),
    ("city jurisdiction", lambda c: c["debtor"].__setitem__("jurisdiction", "US-NY-NYC")),
    ("timezone", lambda c: c["debtor"].__setitem__("timezone", "America/Chicago")),
    ("timezone unknown", lambda c: c["debtor"].__setitem__("timezone", "Mars/Base")),
    ("timezone None", lambda c: c["debtor"].__setitem__("timezone", None)),
    (
        "address",
        lambda c: c["debtor"].__setitem__(
            "address", {"country": "US", "region": "TX", "postal_code": "79901"}
        ),
    ),
    (
        "address with city",
        lambda c: c["debtor"].__setitem__("address", {"country": "US", "region": "FL", "city": "Fort Myers"}),
    ),
    ("address padded", lambda c: c["debtor"].__setitem__("address", {"country": "US ", "region": "TX"})),
    ("address unknown field", lambda c: c["debtor"].__setitem__("address", {"street": "1 Main St"})),
    ("address None", lambda c: c["debtor"].__setitem__("address", None)),
    ("points None", lambda c: c["debtor"].__setitem__("contact_points", None)),
    (
        "points a tuple",
        lambda c: c["debtor"].__setitem__("contact_points", tuple(c["debtor"]["contact_points"])),
    ),
    ("kind unknown", lambda c: c["debtor"]["contact_points"][0].__setitem__("kind", "pager")),
    ("kind a list", lambda c: c["debtor"]["contact_points"][0].__setitem__("kind", ["phone"])),
    ("place unknown", lambda c: c["debtor"]["contact_points"][0].__setitem__("place", "car")),
    ("value padded", lambda c: c["debtor"]["contact_points"][0].__setitem__("value", "+1 312 555 1234 ")),
    (
        "value with inner spaces",
        lambda c: c["debtor"]["contact_points"][0].__setitem__("value", "+1 312 555 1234"),
    ),
    ("value missing", lambda c: c["debtor"]["contact_points"][0].pop("value")),
    ("zones given", lambda c: c["debtor"]["contact_points"][0].__setitem__("zones", ["America/Chicago"])),
    ("zones empty", lambda c: c["debtor"]["contact_points"][0].__setitem__("zones", [])),
    ("zones on an email", lambda c: c["debtor"]["contact_points"][1].__setitem__("zones", ["Asia/Shanghai"])),
    ("zones None", lambda c: c["debtor"]["contact_points"][0].__setitem__("zones", None)),
    ("zones unknown", lambda c: c["debtor"]["contact_points"][0].__setitem__("zones", ["Mars/Base"])),
    ("zones not names", lambda c: c["debtor"]["contact_points"][0].__setitem__("zones", [1])),
    ("zones unhashable", lambda c: c["debtor"]["contact_points"][0].__setitem__("zones", [["UTC"]])),
    ("flags empty", lambda c: c["debtor"].__setitem__("flags", {})),
    ("flags None", lambda c: c["debtor"].__setitem__("flags", None)),
    ("deceased", lambda c: c["debtor"].__setitem__("flags", {"deceased": True})),
    ("deceased as text", lambda c: c["debtor"].__setitem__("flags", {"deceased": "true"})),
    ("deceased as 1", lambda c: c["debtor"].__setitem__("flags", {"deceased": 1})),
    (
        "quiet hours",
        lambda c: c["debtor"].__setitem__(
            "flags", {"inconvenient_times": [{"start": "12:00", "end": "13:30"}]}
        ),
    ),
    (
        "quiet hours short",
        lambda c: c["debtor"].__setitem__(
            "flags", {"inconvenient_times": [{"start": "9:00", "end": "10:00"}]}
        ),
    ),
    (
        "quiet hours 24:00",
        lambda c: c["debtor"].__setitem__(
            "flags", {"inconvenient_times": [{"start": "22:00", "end": "24:00"}]}
        ),
    ),
    (
        "quiet hours noise",
        lambda c: c["debtor"].__setitem__(
            "flags", {"inconvenient_times": [{"start": "noon", "end": "13:00"}]}
        ),
    ),
    (
        "cease requested",
        lambda c: c["debtor"].__setitem__("flags", {"cease_requested_at": "2026-01-01T00:00:00Z"}),
    ),
    ("flag unknown", lambda c: c["debtor"].__setitem__("flags", {"sleepy": True})),
    (
        "spouse",
        lambda c: c.__setitem__(
            "persons",
            [
                {
                    "id": "s1",
                    "role": "spouse",
                    "contact_points": [{"id": "sp", "kind": "phone", "value": "+13125550000"}],
                }
            ],
        ),
    ),
    (
        "guarantor with relation",
        lambda c: c.__setitem__(
            "persons", [{"id": "g1", "role": "guarantor", "relation": "brother in law", "debt_related": True}]
        ),
    ),
    ("person role debtor", lambda c: c.__setitem__("persons", [{"id": "p1", "role": "debtor"}])),
    ("person role unknown", lambda c: c.__setitem__("persons", [{"id": "p1", "role": "cousin"}])),
    (
        "person refused",
        lambda c: c.__setitem__(
            "persons", [{"id": "p1", "role": "third_party", "refused_contact_at": "2026-01-01T00:00:00Z"}]
        ),
    ),
    (
        "person point with zones",
        lambda c: c.__setitem__(
            "persons",
            [
                {
                    "id": "p1",
                    "role": "spouse",
                    "contact_points": [
                        {"id": "x", "kind": "phone", "value": "+13125550000", "zones": ["UTC"]}
                    ],
                }
            ],
        ),
    ),
    ("persons None", lambda c: c.__setitem__("persons", None)),
    ("no debts", lambda c: c.__setitem__("debts", [])),
    (
        "debt disputed",
        lambda c: c["debts"][0].__setitem__("dispute", {"received_at": "2026-01-02T00:00:00Z"}),
    ),
    ("debt dispute None", lambda c: c["debts"][0].__setitem__("dispute", None)),
    ("debt id padded", lambda c: c["debts"][0].__setitem__("id", "A ")),
    ("debt id missing", lambda c: c["debts"][0].pop("id")),
    ("debtor missing", lambda c: c.pop("debtor")),
    ("debtor a list", lambda c: c.__setitem__("debtor", [])),
]


def _mutated(choices: list[int]) -> list[Any]:
    cases = []
    for i, choice in enumerate(choices):
        case = _case(i)
        MUTATIONS[choice][1](case)
        cases.append(case)
    return cases


@pytest.mark.parametrize("name", [name for name, _ in MUTATIONS])
def test_each_shape_is_read_as_the_models_read_it(name, monkeypatch):
    choice = [n for n, _ in MUTATIONS].index(name)
    cases = _mutated([0, choice, 0])
    fast = _read(copy.deepcopy(cases), monkeypatch, full=False)
    full = _read(copy.deepcopy(cases), monkeypatch, full=True)
    assert fast == full


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choices=st.lists(st.integers(0, len(MUTATIONS) - 1), min_size=1, max_size=6), duplicate=st.booleans())
def test_random_batches_read_as_the_models_read_them(choices, duplicate, monkeypatch):
    cases = _mutated(choices)
    if duplicate and len(cases) > 1 and isinstance(cases[-1].get("debtor"), dict):
        cases[-1]["debtor"]["id"] = "d0"
    assert _read(copy.deepcopy(cases), monkeypatch, full=False) == _read(
        copy.deepcopy(cases), monkeypatch, full=True
    )


def test_the_common_shape_never_reaches_the_models():
    cases = [_case(i) for i in range(5)]
    cases[1]["debtor"]["flags"] = {"deceased": True}
    cases[2]["debtor"]["flags"] = {"inconvenient_times": [{"start": "12:00", "end": "13:00"}]}
    cases[3]["persons"] = [{"id": "s3", "role": "spouse"}]
    cases[4]["debtor"]["contact_points"][0]["zones"] = ["America/Chicago"]
    cases[4]["debtor"]["address"] = {"country": "US", "region": "IL", "city": "Chicago"}
    table = read_cases(cases)
    assert table.fallback == []
    assert table.debtor_id == ["d0", "d1", "d2", "d3", "d4"]
    assert table.primary == [
        "Asia/Shanghai",
        "America/Chicago",
        "Asia/Shanghai",
        "America/Chicago",
        "America/Chicago",
    ]
    assert table.deceased == [False, True, False, False, False]
    assert [q is not None for q in table.quiet] == [False, False, True, False, False]
    assert table.person_id == ["d0", "d1", "d2", "d3", "s3", "d4"]
    assert table.person_role == ["debtor", "debtor", "debtor", "debtor", "spouse", "debtor"]
    assert table.debt_id == ["A", "B"] * 5


def test_only_the_odd_cases_go_to_the_models():
    cases = [_case(i) for i in range(4)]
    cases[1]["debtor"]["id"] = "d1 "  # the models strip it
    cases[3]["debts"][0]["dispute"] = {"received_at": "2026-01-02T00:00:00Z"}
    table = read_cases(cases)
    assert table.fallback == [1, 3]
    # Nothing of a case left to the models stays in the columns.
    assert table.debtor_id == ["d0", "d2"]
    assert table.point_debtor == ["d0", "d0", "d2", "d2"]
    assert table.debt_debtor == ["d0", "d0", "d2", "d2"]


def _batch(cases: list[Any]) -> pl.DataFrame:
    now = dt.datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    history = pl.DataFrame(
        schema={"debtor_id": pl.String, "at": pl.Datetime("us", "UTC"), "channel": pl.String,
                "direction": pl.String, "person": pl.String, "contact_point": pl.String,
                "debts": pl.List(pl.String), "outcome": pl.String},
    )  # fmt: skip
    proposed = pl.DataFrame(
        {"debtor_id": [c["debtor"]["id"] for c in cases], "channel": ["call"] * len(cases)}
    )
    return batch_module.check_batch(
        now=now, actor="third_party_collector", cases=cases, history=history, proposed=proposed
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda c: c["debtor"]["contact_points"][0].__setitem__("kind", "pager"),
            "cases[1].debtor.contact_points.0.kind: Input should be 'phone', 'email', 'address' or 'social'",
        ),
        (
            lambda c: c["debtor"].__setitem__("jurisdiction", "Illinois"),
            "cases[1].debtor.jurisdiction: String should match pattern",
        ),
        (
            lambda c: c["debtor"].__setitem__("timezone", "Mars/Base"),
            "cases[1].debtor.timezone: Value error, unknown IANA time zone 'Mars/Base'",
        ),
        (
            lambda c: c["debtor"]["contact_points"][0].__setitem__("zones", ["Mars/Base"]),
            "contact_points[].zones: unknown IANA time zone 'Mars/Base'",
        ),
        (
            lambda c: c["debtor"].__setitem__(
                "flags", {"inconvenient_times": [{"start": "25:00", "end": "26:00"}]}
            ),
            "cases[1].debtor.flags.inconvenient_times.0.start: Value error, must be a time of day as HH:MM",
        ),
        (lambda c: c["debtor"].__setitem__("id", "d0"), "cases[1].debtor.id: duplicate debtor 'd0'"),
    ],
)
def test_bad_input_is_refused_with_its_path(mutate, message):
    cases = [_case(0), _case(1), _case(2)]
    mutate(cases[1])
    with pytest.raises(ValidationError) as info:
        _batch(cases)
    assert message in str(info.value)


def test_a_case_read_directly_and_one_validated_judge_alike(monkeypatch):
    cases = [_case(i) for i in range(6)]
    cases[2]["debtor"]["flags"] = {"deceased": True}
    cases[3]["debtor"]["id"] = "d3"
    fast = _batch(copy.deepcopy(cases))
    monkeypatch.setattr(batch_module, "read_cases", _full_only)
    full = _batch(copy.deepcopy(cases))
    assert fast.equals(full)
    assert fast["outcome"].to_list() == ["delay", "allow", "block", "allow", "delay", "allow"]


@pytest.mark.parametrize("padded", [" d0", "d0 ", "\u00a0d0", "d0\u3000", " "])
def test_a_padded_string_alone_in_its_batch_is_left_to_the_models(padded):
    case = _case(0)
    case["debtor"]["id"] = padded
    assert read_cases([case]).fallback == [0]
    assert read_cases([_case(1), case]).fallback == [1]
