"""Queue builds on SQLite and PostgreSQL: exact supersession, ranks across builds, currencies given."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from sqlalchemy import Engine, select

from arrears.allocation import service as svc
from arrears.allocation.enums import WorkStatus
from arrears.allocation.rules import AssignmentMethod
from arrears.allocation.tables import WorkItem
from arrears.errors import NotFoundError
from arrears.store import tables as core
from arrears.store.db import UnitOfWork

from .test_allocation_queues import AS_OF, NOW, WORK, _build, _count, _items, _setup, _work

NEXT_DAY = AS_OF + dt.timedelta(days=1)


def _day_one_items(engine: Engine) -> dict[str, tuple[str, int]]:
    """Account external id → (status, version) of the first day's items."""
    w, a = WorkItem, core.Account
    with engine.connect() as conn:
        rows = conn.execute(
            select(a.external_id, w.status, w.version)
            .join(a, a.id == w.account_id)
            .where(w.queued_on == AS_OF)
        ).all()
    return {ext: (status, version) for ext, status, version in rows}


def test_supersede_closes_unassigned_items_and_held_items_of_accounts_queued_today(engine: Engine) -> None:
    ids = _setup(engine, (2, 2, 1))
    _build(engine, _work(ids), AssignmentMethod.ROUND_ROBIN)
    assert [(r[0], r[1]) for r in _items(engine)] == [
        ("A6", "cy"), ("A2", "bo"), ("A3", "ana"), ("A1", "ana"), ("A5", "bo"), ("A4", None),
    ]  # fmt: skip
    today = _work(ids, [("B1", 60_000, "0.5", 0, "zh"), WORK[0], WORK[3]])
    report = _build(engine, today, AssignmentMethod.BALANCED, as_of=NEXT_DAY, now=NOW + dt.timedelta(days=1))
    # A1 (held by ana, queued again today) and A4 (never given) are replaced; the other held items stay.
    assert report.superseded == 2
    assert _day_one_items(engine) == {
        "A1": (WorkStatus.SUPERSEDED, 2),
        "A2": (WorkStatus.OPEN, 1),
        "A3": (WorkStatus.OPEN, 1),
        "A4": (WorkStatus.SUPERSEDED, 2),
        "A5": (WorkStatus.OPEN, 1),
        "A6": (WorkStatus.OPEN, 1),
    }
    # ana holds A3 only now (room for one); bo and cy are full.
    assert _items(engine, NEXT_DAY) == [
        ("B1", "ana", 1, "open"),
        ("A1", None, 2, "open"),
        ("A4", None, 3, "open"),
    ]
    again = _build(engine, today, AssignmentMethod.BALANCED, as_of=NEXT_DAY, now=NOW + dt.timedelta(days=1))
    assert (again.queued, again.superseded) == (0, 0)


def test_supersede_without_held_items_of_todays_accounts_changes_only_unassigned(engine: Engine) -> None:
    ids = _setup(engine, (2, 2, 1))
    _build(engine, _work(ids), AssignmentMethod.ROUND_ROBIN)
    report = _build(engine, _work(ids, [("B2", 10_000, "0.5", 0, "en")]), AssignmentMethod.BALANCED,
                    as_of=NEXT_DAY, now=NOW + dt.timedelta(days=1))  # fmt: skip
    assert report.superseded == 1
    assert {k: v for k, v in _day_one_items(engine).items() if v != (WorkStatus.OPEN, 1)} == {
        "A4": (WorkStatus.SUPERSEDED, 2)
    }


def test_a_second_build_the_same_day_continues_the_ranks(engine: Engine) -> None:
    ids = _setup(engine, (3, 3, 3))
    first = _build(engine, _work(ids, WORK[:3]), AssignmentMethod.ROUND_ROBIN)
    second = _build(engine, _work(ids), AssignmentMethod.ROUND_ROBIN)
    assert (first.queued, second.queued) == (3, 3)
    assert [(r[0], r[2]) for r in _items(engine)] == [
        ("A2", 1), ("A3", 2), ("A1", 3), ("A6", 4), ("A5", 5), ("A4", 6),
    ]  # fmt: skip


def _currencies(ids: dict[str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"account_id": list(ids.values()), "currency": ["USD" if e == "A2" else "CNY" for e in ids]}
    )


def test_currencies_given_by_the_caller_are_written_and_must_cover_the_work(engine: Engine) -> None:
    ids = _setup(engine, (3, 3, 3))
    before = (_count(engine, WorkItem), _count(engine, core.AuditEvent))
    missing = _currencies(ids).filter(pl.col("account_id") != ids["A4"])
    with UnitOfWork(engine) as uow, pytest.raises(NotFoundError) as refused:
        svc.build_queues(uow.connection, as_of=AS_OF, work=_work(ids), method=AssignmentMethod.ROUND_ROBIN,
                         now=NOW, actor="cycle", currencies=missing)  # fmt: skip
    assert refused.value.fields["accounts"] == [ids["A4"]]
    assert (_count(engine, WorkItem), _count(engine, core.AuditEvent)) == before
    # Two rows for one account (two tasks) are one currency.
    given = pl.concat([_currencies(ids), _currencies(ids).head(1)])
    with UnitOfWork(engine) as uow:
        report = svc.build_queues(uow.connection, as_of=AS_OF, work=_work(ids),
                                  method=AssignmentMethod.ROUND_ROBIN, now=NOW, actor="cycle", currencies=given)  # fmt: skip
        uow.commit()
    assert report.queued == 6
    w, a = WorkItem, core.Account
    with engine.connect() as conn:
        stored = conn.execute(
            select(a.external_id, w.currency).join(a, a.id == w.account_id).order_by(a.external_id)
        ).all()
    assert [tuple(r) for r in stored] == [
        ("A1", "CNY"), ("A2", "USD"), ("A3", "CNY"), ("A4", "CNY"), ("A5", "CNY"), ("A6", "CNY"),
    ]  # fmt: skip
