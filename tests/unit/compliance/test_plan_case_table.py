"""The daily cycle's column forms: phone zones over a whole column, and cases given as a table.

Both must give exactly what the per-value and per-mapping readers give.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import phonenumbers
import polars as pl
import pytest

import arrears.compliance.batch as batch_module
import arrears.domain.compliance.zones as zones_module
from arrears.compliance import check_batch
from arrears.domain.compliance.cases import CaseTable
from arrears.domain.compliance.zones import zones_for_phone, zones_for_phone_column
from arrears.errors import ValidationError

UTC = dt.UTC


def _numbers(count: int, seed: int) -> tuple[list[str], list[str]]:
    """Random numbers over every country code: real example numbers (cut or padded) and noise."""
    rng = random.Random(seed)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    values, regions = [], []
    odd = [
        "",
        "+",
        "abc",
        " +8613800000000",
        "13800138000",
        "+86 138 0013 8000",
        "+0123456",
        "+86179123456789",
    ]
    for _ in range(count):
        code = rng.choice(codes)
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 17)))
        if rng.random() < 0.5:
            region = rng.choice(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code])
            example = phonenumbers.example_number_for_type(region, rng.choice(range(11)))
            if example is not None:
                national = str(example.national_number)
                digits = (
                    national[: rng.randint(len(national) - 2, len(national))] + digits[: rng.randint(0, 2)]
                )
        value = f"+{code}{digits}"
        if rng.random() < 0.05:
            value = rng.choice(odd)
        values.append(value)
        regions.append(rng.choice(["CN", "US", "GB", "ZZ", ""]))
    return values, regions


def test_zones_for_phone_column_equals_the_single_reading() -> None:
    values, regions = _numbers(6000, seed=11)
    got = zones_for_phone_column(pl.Series(values), pl.Series(regions)).to_list()
    assert got == [list(zones_for_phone(v, r)) for v, r in zip(values, regions, strict=True)]


def test_zones_for_phone_column_reads_cn_mobiles_over_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(value: str, region: str | None = None) -> tuple[str, ...]:
        calls.append(value)
        return zones_for_phone(value, region)

    monkeypatch.setattr(zones_module, "zones_for_phone", counting)
    values = ["+8613800138000", "+8618806050100", "+8612345", "+8617912345678", "013800138000"]
    got = zones_for_phone_column(pl.Series(values), pl.Series(["CN"] * 5)).to_list()
    # Numbers a national prefix could be read from (12..., 179...) and a number without "+" are
    # parsed one by one; the rest are not.
    assert calls == ["+8612345", "+8617912345678", "013800138000"]
    assert got == [["Asia/Shanghai"], ["Asia/Shanghai"], [], [], ["Asia/Shanghai"]]
    assert got == [list(zones_for_phone(v, "CN")) for v in values]


def _table(rows: list[dict[str, Any]]) -> CaseTable:
    """A table from simple per-debtor rows (id, jurisdiction, timezone, address, points, debts, flags)."""
    debtors = pl.DataFrame(
        [
            (r["id"], r["jurisdiction"], r.get("timezone"), *r.get("address", (None, None, None)))
            for r in rows
        ],
        schema={"debtor_id": pl.String, "jurisdiction": pl.String, "timezone": pl.String,
                "country": pl.String, "region": pl.String, "city": pl.String},
        orient="row",
    )  # fmt: skip
    points = pl.DataFrame(
        [(r["id"], *p) for r in rows for p in r.get("points", [])],
        schema={"debtor_id": pl.String, "id": pl.String, "kind": pl.String, "place": pl.String, "value": pl.String},
        orient="row",
    )  # fmt: skip
    debts = pl.DataFrame(
        [(r["id"], *d) for r in rows for d in r.get("debts", [])],
        schema={"debtor_id": pl.String, "id": pl.String, "dispute_received_at": pl.Datetime("us", "UTC"),
                "dispute_in_writing": pl.Boolean},
        orient="row",
    )  # fmt: skip
    flags = {r["id"]: r["flags"] for r in rows if r.get("flags")}
    return CaseTable(debtors=debtors, points=points, debts=debts, flags=flags)


MOBILE = ("m", "phone", "mobile", "+8613800138000")
DISPUTED = ("A", dt.datetime(2026, 11, 1, 9, tzinfo=UTC), True)
ROWS: list[dict[str, Any]] = [
    {"id": "1", "jurisdiction": "CN", "address": ("CN", "Guangdong", "深圳"), "points": [MOBILE],
     "debts": [("A", None, None), ("B", None, None)]},
    {"id": "2", "jurisdiction": "CN", "points": [MOBILE, ("e", "email", "other", "x@example.com")]},
    {"id": "3", "jurisdiction": "US-IL", "timezone": "America/Chicago",
     "points": [("p", "phone", "home", "+13125551234"), ("q", "phone", "work", "+441632960961")]},
    {"id": "4", "jurisdiction": "US-TX", "address": ("US", "TX", None), "points": [("p", "phone", "home", "3125551234")]},
    {"id": "5", "jurisdiction": "CN", "points": [MOBILE], "flags": {"deceased": True}},
    {"id": "6", "jurisdiction": "CN", "points": [MOBILE], "flags": {"cease_requested_at": "2026-11-01T00:00:00+00:00",
                                                                   "cease_in_writing": True}},
    {"id": "7", "jurisdiction": "CN", "points": [MOBILE], "debts": [DISPUTED, ("B", None, None)]},
    {"id": "8", "jurisdiction": "CN", "points": [("m", "phone", "mobile", " +8613800138000")]},
    {"id": "9", "jurisdiction": "cn", "points": [MOBILE]},
    {"id": "10", "jurisdiction": "CN", "timezone": "Mars/Base", "points": [MOBILE]},
    {"id": "11", "jurisdiction": "CN", "points": [("m", "pager", "mobile", "+8613800138000")]},
    {"id": "12", "jurisdiction": "CN", "points": [("m", "phone", None, "+8613800138000")]},
    {"id": "13", "jurisdiction": "CN", "address": ("CN ", None, None), "points": [MOBILE]},
    {"id": "14", "jurisdiction": "GB", "address": ("GB", None, "London"), "points": []},
    {"id": "15", "jurisdiction": "CN", "points": [MOBILE], "debts": [(" A", None, None)]},
]  # fmt: skip


def _normalised(columns: Any) -> Any:
    debtors = sorted(
        zip(columns.case_index, columns.debtor_id, columns.jurisdiction, columns.primary,
            [columns.zone_sets[k] for k in columns.zkey], columns.plain, columns.deceased,
            [None if q is None else columns.quiet_sets[q] for q in columns.quiet], strict=True)
    )  # fmt: skip
    people = sorted(zip(columns.person_debtor, columns.person_id, columns.person_role, strict=True))
    # Points and debts keep their order within each debtor.
    points: dict[str, list[Any]] = {}
    for row in zip(columns.point_debtor, columns.point_person, columns.point_id, columns.point_kind,
                   columns.point_place, strict=True):  # fmt: skip
        points.setdefault(row[0], []).append(row)
    debts: dict[str, list[str]] = {}
    for debtor, debt in zip(columns.debt_debtor, columns.debt_id, strict=True):
        debts.setdefault(debtor, []).append(debt)
    return debtors, people, points, debts, sorted(columns.fallback)


INVALID = {"9", "10", "11", "12"}


def _errors(cases: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        batch_module._read_and_validate(cases)
    return str(caught.value)


def test_case_table_reads_as_its_mappings() -> None:
    table = _table([r for r in ROWS if r["id"] not in INVALID])
    mappings = [table[i] for i in range(len(table))]
    from_table, models_table = batch_module._read_and_validate(table)
    from_mappings, models_mappings = batch_module._read_and_validate(mappings)
    assert _normalised(from_table) == _normalised(from_mappings)
    assert sorted(models_table) == sorted(models_mappings)
    # The plain debtors were read over columns, first; the flagged, disputed and padded ones were not.
    assert from_table.case_index[:5] == [0, 1, 2, 3, 9]
    assert sorted(from_table.fallback) == sorted(from_mappings.fallback)


@pytest.mark.parametrize("bad", sorted(INVALID))
def test_case_table_refuses_as_its_mappings(bad: str) -> None:
    table = _table([r for r in ROWS if r["id"] not in INVALID or r["id"] == bad])
    assert _errors(table) == _errors([table[i] for i in range(len(table))])


def test_case_table_mapping_has_the_cycle_shape() -> None:
    table = _table(ROWS)
    assert table[6] == {
        "debtor": {
            "id": "7",
            "jurisdiction": "CN",
            "timezone": None,
            "address": {"country": None, "region": None, "city": None},
            "contact_points": [{"id": "m", "kind": "phone", "place": "mobile", "value": "+8613800138000"}],
            "flags": {},
        },
        "debts": [
            {"id": "A", "dispute": {"received_at": "2026-11-01T09:00:00+00:00", "in_writing": True}},
            {"id": "B"},
        ],
    }
    assert len(table) == len(ROWS)
    assert [c["debtor"]["id"] for c in table[1:3]] == ["2", "3"]


def test_check_batch_decides_a_table_as_its_mappings() -> None:
    rows = [r for r in ROWS if r["id"] in {"1", "2", "3", "4", "5", "6", "7", "14"}]
    table = _table(rows)
    mappings = [table[i] for i in range(len(table))]
    proposed = pl.DataFrame(
        {
            "debtor_id": ["1", "2", "3", "4", "5", "6", "7", "7", "14", "3"],
            "channel": ["call", "sms", "call", "call", "call", "call", "call", "letter", "letter", "sms"],
            "contact_point": ["m", "m", "p", "p", "m", "m", "m", None, None, "q"],
            "debts": [["A"], [], [], [], [], [], ["A"], [], [], []],
        }
    )
    history = pl.DataFrame(
        {
            "debtor_id": ["1", "3"],
            "at": [dt.datetime(2026, 11, 20, 10, tzinfo=UTC), dt.datetime(2026, 11, 20, 15, tzinfo=UTC)],
            "channel": ["call", "call"],
            "direction": ["outbound", "outbound"],
            "person": [None, None],
            "contact_point": ["m", "p"],
            "debts": [["A"], []],
            "outcome": ["no_answer", "conversation"],
        }
    )
    now = dt.datetime(2026, 11, 21, 14, 30, tzinfo=UTC)
    by_table = check_batch(
        now=now, actor="third_party_collector", cases=table, history=history, proposed=proposed
    )
    by_mappings = check_batch(
        now=now, actor="third_party_collector", cases=mappings, history=history, proposed=proposed
    )
    assert by_table.equals(by_mappings)
    assert by_table["outcome"].null_count() == 0
