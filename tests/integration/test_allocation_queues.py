"""Work queues on SQLite and PostgreSQL: schema, exact orders and assignments, capacity, rebuilds, idle work."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select

from arrears.allocation import service as svc
from arrears.allocation.enums import WorkOutcome, WorkStatus
from arrears.allocation.rules import AssignmentMethod
from arrears.allocation.tables import Collector, WorkItem
from arrears.errors import IllegalTransitionError, NotFoundError, PermissionDeniedError, ValidationError
from arrears.portfolio.products import ensure_builtin_products
from arrears.store import personal
from arrears.store import tables as core
from arrears.store.db import UnitOfWork

NOW = dt.datetime(2026, 6, 20, 9, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 6, 20)
MINE = {"teams", "collectors", "work_items", "agencies", "placements"}


def make_accounts(engine: Engine, specs: list[tuple[str, str]]) -> dict[str, int]:
    """Open accounts (external id, currency) with a debtor each; returns external id → account id."""
    ids: dict[str, int] = {}
    with UnitOfWork(engine) as uow:
        s = uow.session
        ensure_builtin_products(s, now=NOW)
        for ext, currency in specs:
            debtor = core.Debtor(
                external_id=f"D-{ext}", jurisdiction="CN", timezone="Asia/Shanghai", language="zh",
                name=personal.seal(personal.PersonalKind.NAME, f"debtor {ext}"), row_hash="x" * 32,
                created_at=NOW, updated_at=NOW,
            )  # fmt: skip
            s.add(debtor)
            s.flush()
            account = core.Account(
                external_id=ext, debtor_id=debtor.id, product_code="cn-consumer-loan", currency=currency,
                principal_minor=100_000, annual_rate="0.12", term_months=12, schedule_method="manual",
                opened_on=dt.date(2025, 1, 1), first_due_on=dt.date(2025, 2, 1),
                schedule={"due_on": [], "principal": [], "interest": []},
                charged_through_on=dt.date(2025, 1, 1), status="open", row_hash="y" * 32,
                created_at=NOW, updated_at=NOW,
            )  # fmt: skip
            s.add(account)
            s.flush()
            ids[ext] = account.id
        uow.commit()
    return ids


def _ours(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    table = name if kind == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in MINE


def test_migrations_create_exactly_the_allocation_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, parent: kind != "table" or name in MINE,
                "include_object": _ours,
            },
        )
        diff = compare_metadata(ctx, core.metadata)
        inspector = inspect(conn)
        present = set(inspector.get_table_names())
        uniques = {u["name"] for u in inspector.get_unique_constraints("work_items")}
    assert diff == []
    assert present >= MINE
    assert "uq_work_items_day_account_action" in uniques


# Accounts A1..A6: balance, probability, urgency, language. Expected recovery = balance × probability:
# A6 40000 > A2 15000 > A3 10000 (urgency 5) > A1 10000 (urgency 1, lower id) > A5 10000 > A4 9000.
WORK = [
    ("A1", 100_000, "0.10", 1, "zh"),
    ("A2", 50_000, "0.30", 0, "en"),
    ("A3", 100_000, "0.10", 5, "zh"),
    ("A4", 10_000, "0.90", 0, "en"),
    ("A5", 200_000, "0.05", 1, "en"),
    ("A6", 80_000, "0.5", 0, "fr"),
]


def _setup(engine: Engine, capacity: tuple[int, int, int]) -> dict[str, int]:
    ids = make_accounts(engine, [(w[0], "CNY") for w in WORK] + [("B1", "CNY"), ("B2", "CNY")])
    with UnitOfWork(engine) as uow:
        s = uow.session
        svc.add_team(s, code="t1", name="Early", actor="lead", now=NOW)
        # ana speaks Chinese, bo English, cy takes anything; ids follow this order.
        svc.add_collector(s, code="ana", team="t1", daily_capacity=capacity[0], languages=["zh"], score=5,
                          actor="lead", now=NOW)  # fmt: skip
        svc.add_collector(s, code="bo", team="t1", daily_capacity=capacity[1], languages=["en"], score=9,
                          actor="lead", now=NOW)  # fmt: skip
        svc.add_collector(s, code="cy", team="t1", daily_capacity=capacity[2], score=1, actor="lead", now=NOW)
        uow.commit()
    return ids


def _work(ids: dict[str, int], rows: list[tuple[str, int, str, int, str]] = WORK) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [ids[r[0]] for r in rows],
            "balance_minor": [r[1] for r in rows],
            "pay_probability": [r[2] for r in rows],
            "urgency": [r[3] for r in rows],
            "language": [r[4] for r in rows],
            "action_id": ["call"] * len(rows),
        }
    )


def _build(engine: Engine, work: pl.DataFrame, method: AssignmentMethod, *, as_of: dt.date = AS_OF,
           now: dt.datetime = NOW) -> svc.QueueBuild:  # fmt: skip
    with UnitOfWork(engine) as uow:
        report = svc.build_queues(
            uow.connection, as_of=as_of, work=work, method=method, now=now, actor="cycle"
        )
        uow.commit()
    return report


def _items(engine: Engine, day: dt.date = AS_OF) -> list[tuple[Any, ...]]:
    """(account external id, collector code or None, rank, status) of the day's items, by rank."""
    w, a, c = WorkItem, core.Account, Collector
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(a.external_id, c.code, w.rank, w.status)
                .join(a, a.id == w.account_id)
                .outerjoin(c, c.id == w.collector_id)
                .where(w.queued_on == day)
                .order_by(w.rank)
            ).all()
        ]


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


EXPECTED = {
    AssignmentMethod.ROUND_ROBIN: ["cy", "bo", "ana", "cy", "cy", "bo"],
    AssignmentMethod.BALANCED: ["cy", "bo", "ana", "ana", "bo", "cy"],
    AssignmentMethod.SCORE: ["cy", "bo", "ana", "ana", "bo", "bo"],
}


@pytest.mark.parametrize("method", list(AssignmentMethod))
def test_queue_order_and_assignment_by_method(engine: Engine, method: AssignmentMethod) -> None:
    ids = _setup(engine, (3, 3, 3))
    report = _build(engine, _work(ids), method)
    assert (report.queued, report.assigned, report.unassigned, report.superseded) == (6, 6, 0, 0)
    rows = _items(engine)
    assert [r[0] for r in rows] == ["A6", "A2", "A3", "A1", "A5", "A4"]
    assert [r[1] for r in rows] == EXPECTED[method]
    assert [r[2] for r in rows] == [1, 2, 3, 4, 5, 6]
    with engine.connect() as conn:
        stored = conn.execute(
            select(WorkItem.expected_recovery_minor, WorkItem.pay_probability, WorkItem.currency)
            .where(WorkItem.account_id == ids["A6"])
        ).one()  # fmt: skip
    assert (stored[0], str(stored[1].normalize()), stored[2]) == (40_000, "0.5", "CNY")


def test_capacity_never_exceeded_and_overflow_stays_unassigned(engine: Engine) -> None:
    ids = _setup(engine, (2, 2, 1))
    report = _build(engine, _work(ids), AssignmentMethod.ROUND_ROBIN)
    assert [r[1] for r in _items(engine)] == ["cy", "bo", "ana", "ana", "bo", None]
    assert (report.assigned, report.unassigned, report.by_collector) == (5, 1, {"ana": 2, "bo": 2, "cy": 1})
    # Next day: ana's two items are still open, so her capacity of 2 is used up; bo finished nothing
    # either; cy's item is open too. New Chinese work goes nowhere rather than over capacity.
    next_day = AS_OF + dt.timedelta(days=1)
    more = _work(ids, [("B1", 60_000, "0.5", 0, "zh"), ("B2", 10_000, "0.5", 0, "en")])
    second = _build(engine, more, AssignmentMethod.BALANCED, as_of=next_day, now=NOW + dt.timedelta(days=1))
    assert (second.assigned, second.unassigned) == (0, 2)
    with UnitOfWork(engine) as uow:
        svc.complete_item(
            uow.session, item_id=_item_id(engine, ids["A3"]), collector="ana",
            outcome=WorkOutcome.PROMISE_TO_PAY, actor="ana", now=NOW + dt.timedelta(hours=2),
        )  # fmt: skip
        uow.commit()
    with UnitOfWork(engine) as uow:
        frame = svc.collectors_frame(uow.connection, day=next_day)
    assert frame.select("code", "capacity", "open_items").rows() == [
        ("ana", 1, 1),
        ("bo", 0, 2),
        ("cy", 0, 1),
    ]


def _item_id(engine: Engine, account_id: int, day: dt.date = AS_OF) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(WorkItem.id).where(WorkItem.account_id == account_id, WorkItem.queued_on == day)
            )
        )


def test_rebuild_adds_nothing_and_new_day_supersedes(engine: Engine) -> None:
    ids = _setup(engine, (3, 3, 3))
    _build(engine, _work(ids), AssignmentMethod.ROUND_ROBIN)
    items, events = _count(engine, WorkItem), _count(engine, core.AuditEvent)
    again = _build(engine, _work(ids), AssignmentMethod.BALANCED)
    assert (again.queued, again.assigned) == (0, 0)
    assert (_count(engine, WorkItem), _count(engine, core.AuditEvent)) == (items, events)
    assert [r[1] for r in _items(engine)] == EXPECTED[AssignmentMethod.ROUND_ROBIN]
    # A task for A1 the next day replaces yesterday's open one.
    next_day = AS_OF + dt.timedelta(days=1)
    third = _build(engine, _work(ids, [WORK[0]]), AssignmentMethod.ROUND_ROBIN, as_of=next_day)
    assert (third.queued, third.superseded) == (1, 1)
    assert [r[3] for r in _items(engine) if r[0] == "A1"] == [WorkStatus.SUPERSEDED]
    assert _items(engine, next_day) == [("A1", "ana", 1, "open")]


def test_bad_work_is_refused_and_writes_nothing(engine: Engine) -> None:
    ids = _setup(engine, (3, 3, 3))
    before = (_count(engine, WorkItem), _count(engine, core.AuditEvent))
    bad = _work(ids).with_columns(pl.when(pl.col("account_id") == ids["A2"]).then(pl.lit("1.5"))
                                  .otherwise(pl.col("pay_probability")).alias("pay_probability"))  # fmt: skip
    with pytest.raises(ValidationError, match="between 0 and 1"):
        _build(engine, bad, AssignmentMethod.ROUND_ROBIN)
    with pytest.raises(ValidationError, match="lacks column"):
        _build(engine, _work(ids).drop("urgency"), AssignmentMethod.ROUND_ROBIN)
    with pytest.raises(NotFoundError):
        _build(engine, _work(ids).with_columns(pl.lit(999_999).alias("account_id")).head(1),
               AssignmentMethod.ROUND_ROBIN)  # fmt: skip
    assert (_count(engine, WorkItem), _count(engine, core.AuditEvent)) == before


def test_my_queue_completion_and_who_may_complete(engine: Engine) -> None:
    ids = _setup(engine, (3, 3, 3))
    _build(engine, _work(ids), AssignmentMethod.SCORE)
    with UnitOfWork(engine) as uow:
        mine = svc.my_queue(uow.session, collector="ana", as_of=AS_OF)
        bos = svc.my_queue(uow.session, collector="bo", as_of=AS_OF)
    assert [(i.account, i.expected_recovery_minor, i.urgency) for i in mine] == [
        ("A3", 10_000, 5),
        ("A1", 10_000, 1),
    ]
    assert [i.account for i in bos] == ["A2", "A5", "A4"]
    a3 = mine[0].id
    events = _count(engine, core.AuditEvent)
    with UnitOfWork(engine) as uow, pytest.raises(PermissionDeniedError):
        svc.complete_item(
            uow.session, item_id=a3, collector="bo", outcome=WorkOutcome.NO_ANSWER, actor="bo", now=NOW
        )
    with UnitOfWork(engine) as uow:
        svc.complete_item(uow.session, item_id=a3, collector="ana", outcome=WorkOutcome.NO_ANSWER, actor="ana",
                          now=NOW + dt.timedelta(hours=1))  # fmt: skip
        uow.commit()
    with UnitOfWork(engine) as uow, pytest.raises(IllegalTransitionError):
        svc.complete_item(
            uow.session, item_id=a3, collector="ana", outcome=WorkOutcome.NO_ANSWER, actor="ana", now=NOW
        )
    assert _count(engine, core.AuditEvent) == events + 1
    with UnitOfWork(engine) as uow:
        assert [i.account for i in svc.my_queue(uow.session, collector="ana", as_of=AS_OF)] == ["A1"]
        done = uow.session.get(WorkItem, a3)
        assert done is not None and (done.status, done.outcome) == ("done", "no_answer")


def test_reassign_idle_items_and_a_deactivated_collectors_items(engine: Engine) -> None:
    ids = _setup(engine, (5, 5, 5))
    _build(engine, _work(ids, [WORK[1], WORK[2], WORK[0]]), AssignmentMethod.ROUND_ROBIN)
    assert [(r[0], r[1]) for r in _items(engine)] == [("A2", "bo"), ("A3", "ana"), ("A1", "cy")]
    with UnitOfWork(engine) as uow:
        svc.touch_item(uow.session, item_id=_item_id(engine, ids["A3"]), collector="ana", actor="ana",
                       now=NOW + dt.timedelta(hours=3))  # fmt: skip
        uow.commit()
    later = NOW + dt.timedelta(hours=5)
    with UnitOfWork(engine) as uow:
        with pytest.raises(ValidationError):
            svc.reassign_idle(uow.connection, now=later, idle_hours=0, actor="sup")
        moved = svc.reassign_idle(uow.connection, now=later, idle_hours=4, actor="sup")
        uow.commit()
    # A3 was touched 2 hours ago; A2 (English) can only go to cy, A1 (Chinese) only to ana.
    assert (moved.moved, moved.stuck) == (2, 0)
    assert sorted(m[1:] for m in moved.moves) == [("bo", "cy"), ("cy", "ana")]
    assert [(r[0], r[1]) for r in _items(engine)] == [("A2", "cy"), ("A3", "ana"), ("A1", "ana")]
    with UnitOfWork(engine) as uow:
        again = svc.reassign_idle(uow.connection, now=later, idle_hours=4, actor="sup")
        item = uow.session.get(WorkItem, _item_id(engine, ids["A2"]))
        assert item is not None and (item.reassignments, item.assigned_at, item.version) == (1, later, 2)
    assert again.moved == 0
    with UnitOfWork(engine) as uow:
        assert svc.deactivate_collector(uow.session, collector="ana", actor="sup", now=later) == 2
        gone = svc.reassign_idle(uow.connection, now=later, idle_hours=4, actor="sup")
        uow.commit()
    assert (gone.moved, [(r[0], r[1]) for r in _items(engine)]) == (
        2,
        [("A2", "cy"), ("A3", "cy"), ("A1", "cy")],
    )


def test_collector_admin_is_audited_and_validated(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        s = uow.session
        svc.add_team(s, code="t1", name="Early", actor="lead", now=NOW)
        with pytest.raises(NotFoundError):
            svc.add_collector(s, code="x", team="nope", daily_capacity=5, actor="lead", now=NOW)
        with pytest.raises(ValidationError):
            svc.add_collector(s, code="x", team="t1", daily_capacity=-1, actor="lead", now=NOW)
        svc.add_collector(s, code="ana", team="t1", daily_capacity=5, languages=["zh", " zh"], buckets=["M1"],
                          actor="lead", now=NOW)  # fmt: skip
        view = svc.set_capacity(s, collector="ana", daily_capacity=8, actor="lead", now=NOW)
        uow.commit()
    assert (view.daily_capacity, view.languages, view.buckets, view.products) == (8, ("zh",), ("M1",), ())
    with engine.connect() as conn:
        actions = conn.scalars(select(core.AuditEvent.action).order_by(core.AuditEvent.seq)).all()
    assert actions == ["add_team", "add_collector", "set_capacity"]
