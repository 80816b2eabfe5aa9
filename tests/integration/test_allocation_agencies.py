"""Agencies on SQLite and PostgreSQL: refused placements leave nothing, recalls, liquidation by vintage."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from arrears.allocation import agencies as ag
from arrears.allocation.tables import Placement
from arrears.errors import ConflictError, NotFoundError, ValidationError
from arrears.store import tables as core
from arrears.store.db import UnitOfWork
from tests.books import open_book

NOW = dt.datetime(2026, 6, 20, 9, 0, tzinfo=dt.UTC)
PLACED = dt.date(2026, 1, 15)


def make_book(engine: Engine, balances: dict[str, int]) -> dict[str, int]:
    """Open CNY accounts with a balance posted on 2025-12-01 (10.00 of it interest); returns external id → id."""
    return open_book(engine, balances, now=NOW, interest_minor=1_000)


def pay(engine: Engine, ids: dict[str, int], payments: list[tuple[str, int, dt.date]]) -> None:
    with UnitOfWork(engine) as uow:
        for n, (ext, amount, on) in enumerate(payments):
            uow.session.add(
                core.Payment(
                    external_id=f"P{n}-{ext}",
                    account_id=ids[ext],
                    amount_minor=amount,
                    currency="CNY",
                    received_on=on,
                    created_at=NOW,
                    status="posted",
                )
            )
        uow.commit()


def _agency(engine: Engine, code: str, *, rate: str = "0.125", days: int = 90, idle: int | None = None,
            evaluated: dt.date | None = dt.date(2025, 7, 1), dpa: dt.date | None = dt.date(2025, 6, 1)) -> None:  # fmt: skip
    with UnitOfWork(engine) as uow:
        s = uow.session
        ag.add_agency(s, code=code, name=f"{code} collections", commission_rate=rate, placement_days=days,
                      recall_idle_days=idle, actor="lead", now=NOW)  # fmt: skip
        if evaluated is not None:
            ag.record_evaluation(s, agency=code, evaluated_on=evaluated, actor="lead", now=NOW)
        if dpa is not None:
            ag.record_agreement(s, agency=code, signed_on=dpa, reference=f"DPA-{code}", actor="lead", now=NOW)
        uow.commit()


def _place(engine: Engine, agency: str, ids: list[int], on: dt.date = PLACED) -> ag.PlacementReport:
    with UnitOfWork(engine) as uow:
        report = ag.place_accounts(uow.session, agency=agency, account_ids=ids, on=on, actor="lead", now=NOW)
        uow.commit()
    return report


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        placements = conn.scalar(select(func.count()).select_from(Placement))
        events = conn.scalar(select(func.count()).select_from(core.AuditEvent))
    return int(placements or 0), int(events or 0)


def _placements(engine: Engine) -> list[tuple[Any, ...]]:
    p, a = Placement, core.Account
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(
                    a.external_id,
                    p.placed_on,
                    p.ends_on,
                    p.placed_balance_minor,
                    p.recalled_on,
                    p.recall_reason,
                )
                .join(a, a.id == p.account_id)
                .order_by(p.id)
            ).all()
        ]


@pytest.mark.parametrize(
    ("evaluated", "dpa", "codes"),
    [
        (dt.date(2025, 1, 14), dt.date(2025, 6, 1), ["evaluation_stale"]),  # 366 days before placing
        (None, dt.date(2025, 6, 1), ["evaluation_stale"]),
        (dt.date(2025, 7, 1), None, ["no_dpa"]),
    ],
)
def test_placement_refused_writes_nothing(
    engine: Engine, evaluated: dt.date | None, dpa: dt.date | None, codes: list[str]
) -> None:
    ids = make_book(engine, {"P1": 100_000})
    _agency(engine, "risky", evaluated=evaluated, dpa=dpa)
    before = _counts(engine)
    with UnitOfWork(engine) as uow:
        with pytest.raises(ValidationError) as refused:
            ag.place_accounts(
                uow.session, agency="risky", account_ids=[ids["P1"]], on=PLACED, actor="lead", now=NOW
            )
        # Nothing was written even inside the refused transaction.
        assert uow.session.scalar(select(func.count()).select_from(Placement)) == 0
        assert uow.session.scalar(select(func.count()).select_from(core.AuditEvent)) == before[1]
    assert refused.value.fields["refusals"] == codes
    assert _counts(engine) == before


def test_evaluation_exactly_a_year_old_still_allows_placement(engine: Engine) -> None:
    ids = make_book(engine, {"P1": 100_000})
    _agency(engine, "edge", evaluated=dt.date(2025, 1, 15))
    assert _place(engine, "edge", [ids["P1"]]).accounts == 1


def test_place_recall_and_liquidation_by_vintage(engine: Engine) -> None:
    ids = make_book(engine, {"P1": 100_000, "P2": 50_000, "P3": 30_000, "P4": 10_000})
    _agency(engine, "acme")
    report = _place(engine, "acme", [ids["P1"], ids["P2"]])
    assert (report.accounts, report.ends_on, report.balance_minor) == (
        2,
        dt.date(2026, 4, 15),
        {"CNY": 150_000},
    )
    before = _counts(engine)
    with UnitOfWork(engine) as uow, pytest.raises(ConflictError):
        ag.place_accounts(uow.session, agency="acme", account_ids=[ids["P2"], ids["P3"]], on=dt.date(2026, 2, 1),
                          actor="lead", now=NOW)  # fmt: skip
    with UnitOfWork(engine) as uow, pytest.raises(ValidationError, match="not placed with acme"):
        ag.recall_accounts(uow.session, agency="acme", account_ids=[ids["P4"]], on=dt.date(2026, 3, 1),
                           actor="lead", now=NOW)  # fmt: skip
    with UnitOfWork(engine) as uow, pytest.raises(NotFoundError):
        ag.place_accounts(
            uow.session, agency="nobody", account_ids=[ids["P3"]], on=PLACED, actor="lead", now=NOW
        )
    assert _counts(engine) == before
    _place(engine, "acme", [ids["P3"]], on=dt.date(2026, 2, 20))
    with UnitOfWork(engine) as uow:
        assert ag.recall_accounts(uow.session, agency="acme", account_ids=[ids["P1"]], on=dt.date(2026, 3, 1),
                                  actor="lead", now=NOW) == 1  # fmt: skip
        uow.commit()
    pay(
        engine,
        ids,
        [
            ("P2", 5_000, dt.date(2026, 1, 10)),  # before placement: the agency's no credit
            ("P1", 20_000, dt.date(2026, 1, 20)),  # month 0
            ("P1", 10_004, dt.date(2026, 2, 10)),  # month 1
            ("P1", 7_000, dt.date(2026, 3, 10)),  # after the recall on 1 March: not the agency's
            ("P2", 15_000, dt.date(2026, 3, 5)),  # month 2
            ("P3", 3_000, dt.date(2026, 3, 1)),  # vintage 2026-02, month 1
            ("P2", 9_999, dt.date(2026, 4, 2)),  # after the results date
        ],
    )
    with UnitOfWork(engine) as uow:
        results = ag.agency_results(uow.session, as_of=dt.date(2026, 3, 31), agency="acme")
    assert results.rows() == [
        # agency, currency, vintage, month, placements, placed, collected, cumulative, rate, commission
        ("acme", "CNY", "2026-01", 0, 2, 150_000, 20_000, 20_000, "0.133333", 2_500),
        ("acme", "CNY", "2026-01", 1, 2, 150_000, 10_004, 30_004, "0.200027", 1_251),  # 1250.5 rounds up
        ("acme", "CNY", "2026-01", 2, 2, 150_000, 15_000, 45_004, "0.300027", 1_875),
        ("acme", "CNY", "2026-02", 0, 1, 30_000, 0, 0, "0.000000", 0),
        ("acme", "CNY", "2026-02", 1, 1, 30_000, 3_000, 3_000, "0.100000", 375),
    ]
    assert Decimal(results.row(2)[8]) == (Decimal(45_004) / Decimal(150_000)).quantize(Decimal("0.000001"))


def test_recall_expired_by_term_and_by_no_payment_rule(engine: Engine) -> None:
    ids = make_book(engine, {"P4": 10_000, "P5": 20_000})
    _agency(engine, "quick", days=30, idle=10)
    _place(engine, "quick", [ids["P4"], ids["P5"]])
    pay(engine, ids, [("P4", 1_000, dt.date(2026, 1, 20))])

    def run(as_of: dt.date) -> dict[str, int]:
        with UnitOfWork(engine) as uow:
            counts = ag.recall_expired(uow.connection, as_of=as_of, actor="cycle", now=NOW)
            uow.commit()
        return counts

    assert run(dt.date(2026, 1, 24)) == {}
    assert run(dt.date(2026, 1, 25)) == {"no_payment": 1}
    events = _counts(engine)[1]
    assert run(dt.date(2026, 2, 13)) == {}
    assert run(dt.date(2026, 2, 14)) == {"term_expired": 1}
    assert run(dt.date(2026, 3, 1)) == {}
    assert _counts(engine)[1] == events + 1
    assert _placements(engine) == [
        ("P4", PLACED, dt.date(2026, 2, 14), 10_000, dt.date(2026, 2, 14), "term_expired"),
        ("P5", PLACED, dt.date(2026, 2, 14), 20_000, dt.date(2026, 1, 25), "no_payment"),
    ]
    # Once recalled, the accounts can be placed again.
    assert _place(engine, "quick", [ids["P4"], ids["P5"]], on=dt.date(2026, 3, 1)).accounts == 2


def test_agency_terms_are_validated(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        s = uow.session
        for rate, days, idle in (("1.5", 90, None), ("abc", 90, None), ("0.2", 0, None), ("0.2", 30, 30)):
            with pytest.raises(ValidationError):
                ag.add_agency(s, code="x", name="X", commission_rate=rate, placement_days=days,
                              recall_idle_days=idle, actor="lead", now=NOW)  # fmt: skip
        ag.add_agency(s, code="x", name="X", commission_rate="0.2", placement_days=60, actor="lead", now=NOW)
        with pytest.raises(ValidationError, match="future"):
            ag.record_evaluation(s, agency="x", evaluated_on=dt.date(2026, 6, 21), actor="lead", now=NOW)
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert [(a.code, a.commission_rate, a.placement_days) for a in ag.list_agencies(uow.session)] == [
            ("x", Decimal("0.2"), 60)
        ]
