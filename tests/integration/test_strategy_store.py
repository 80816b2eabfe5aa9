"""Strategy storage on SQLite and PostgreSQL: migration, publishing with history, recording a day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select

import arrears
import arrears.allocation.tables
from arrears.errors import NotFoundError, ValidationError
from arrears.portfolio.accounts_import import import_accounts
from arrears.sim.generate import generate_accounts, write
from arrears.store import tables as core
from arrears.store.db import UnitOfWork
from arrears.strategy import tables as st
from arrears.strategy.service import (
    account_features,
    active_strategy,
    plan_day,
    publish_strategy,
    record_day,
    strategy_history,
)

NOW = dt.datetime(2026, 6, 20, 9, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 6, 20)
SAMPLE = Path(arrears.__file__).parent / "data" / "strategies" / "cn-consumer.yaml"
MINE = {
    "strategy_versions", "segment_entries", "experiment_assignments", "teams", "collectors", "work_items",
    "agencies", "placements",
}  # fmt: skip


def _ours(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    table = name if kind == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in MINE


def test_migration_creates_exactly_these_tables(engine: Engine) -> None:
    assert {t.name for t in core.metadata.sorted_tables} >= MINE
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
        present = set(inspect(conn).get_table_names())
    assert diff == []
    assert present >= MINE


def _count(engine: Engine, table: type) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def test_publish_history_and_idempotent_republish(engine: Engine) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    with UnitOfWork(engine) as uow:
        first = publish_strategy(uow.session, text=text, fmt="yaml", source="cn.yaml", actor="ana", now=NOW)
        again = publish_strategy(uow.session, text=text, fmt="yaml", source="cn.yaml", actor="bo", now=NOW)
        second = publish_strategy(
            uow.session, text=text + "\n# tweak\n", fmt="yaml", source="cn.yaml", actor="bo", now=NOW
        )
        uow.commit()
    assert (first.number, first.is_new, again.number, again.is_new, second.number) == (1, True, 1, False, 2)
    with UnitOfWork(engine) as uow:
        history = strategy_history(uow.session, strategy_id="cn-consumer")
        events = uow.session.execute(
            select(core.AuditEvent.actor, core.AuditEvent.action, core.AuditEvent.subject_id).order_by(
                core.AuditEvent.id
            )
        ).all()
        _, strategy = active_strategy(uow.session, strategy_id="cn-consumer")
    assert [(v.number, v.published_by) for v in history] == [(2, "bo"), (1, "ana")]
    assert events == [("ana", "publish_strategy", "cn-consumer"), ("bo", "publish_strategy", "cn-consumer")]
    assert strategy.segments[0].id == "disputed-or-hardship"


def test_bad_strategy_is_refused_and_leaves_nothing(engine: Engine) -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace("percent: 80", "percent: 81")
    with UnitOfWork(engine) as uow, pytest.raises(ValidationError, match="percent_sum"):
        publish_strategy(uow.session, text=text, fmt="yaml", source="cn.yaml", actor="ana", now=NOW)
    assert _count(engine, st.StrategyVersion) == 0
    assert _count(engine, core.AuditEvent) == 0


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    accounts = generate_accounts(60, as_of=AS_OF, seed=5)
    import_accounts(engine=engine, path=write(accounts, tmp_path / "accounts.csv"), actor="loader", now=NOW)
    return engine


def test_a_day_recorded_under_an_unknown_or_foreign_version_is_refused_and_writes_nothing(
    book: Engine,
) -> None:
    features = account_features(book, AS_OF)
    text = SAMPLE.read_text(encoding="utf-8")
    with UnitOfWork(book) as uow:
        publish_strategy(uow.session, text=text, fmt="yaml", source="cn.yaml", actor="ana", now=NOW)
        other = text.replace("id: cn-consumer", "id: cn-other", 1)
        publish_strategy(uow.session, text=other, fmt="yaml", source="other.yaml", actor="ana", now=NOW)
        uow.commit()
    with UnitOfWork(book) as uow:
        version_id, strategy = active_strategy(uow.session, strategy_id="cn-consumer")
        other_id, _ = active_strategy(uow.session, strategy_id="cn-other")
    plan = plan_day(features, strategy, as_of=AS_OF)
    assert plan.accounts.height > 0
    events = _count(book, core.AuditEvent)
    for wrong, error, message in (
        (version_id + other_id + 1, NotFoundError, "is not on file"),
        (other_id, ValidationError, "is a version of 'cn-other', not of 'cn-consumer'"),
    ):
        with UnitOfWork(book) as uow, pytest.raises(error, match=message):
            record_day(
                uow.session, plan=plan, strategy_id=strategy.id, version_id=wrong, as_of=AS_OF, actor="cycle",
                now=NOW,
            )  # fmt: skip
            uow.commit()
    assert _count(book, st.SegmentEntry) == 0
    assert _count(book, st.ExperimentAssignment) == 0
    assert _count(book, core.AuditEvent) == events


def test_features_segments_and_recorded_day(book: Engine) -> None:
    features = account_features(book, AS_OF)
    assert features.height == _count(book, core.Account)
    with book.connect() as conn:
        stored = dict(conn.execute(select(core.Account.id, core.Account.currency)).all())
    assert set(features.get_column("currency").unique()) == set(stored.values()) == {"CNY"}
    assert (features.get_column("balance_minor") >= 0).all()
    check = features.select(
        pl.col("balance").cast(pl.String)
        == (pl.col("balance_minor") / 100).cast(pl.Decimal(38, 4)).cast(pl.String)
    ).to_series()
    assert check.all()
    text = SAMPLE.read_text(encoding="utf-8")
    with UnitOfWork(book) as uow:
        publish_strategy(uow.session, text=text, fmt="yaml", source="cn.yaml", actor="ana", now=NOW)
        version_id, strategy = active_strategy(uow.session, strategy_id="cn-consumer")
        plan = plan_day(features, strategy, as_of=AS_OF)
        counts = record_day(
            uow.session,
            plan=plan,
            strategy_id=strategy.id,
            version_id=version_id,
            as_of=AS_OF,
            actor="cycle",
            now=NOW,
        )
        uow.commit()
    in_experiment = plan.accounts.filter(pl.col("experiment").is_not_null()).height
    assert counts == {"entered": plan.accounts.height, "left": 0, "assigned": in_experiment}
    assert _count(book, st.SegmentEntry) == plan.accounts.height
    assert _count(book, st.ExperimentAssignment) == in_experiment
    # Rerun for the same date: nothing new.
    with UnitOfWork(book) as uow:
        again = record_day(
            uow.session,
            plan=plan,
            strategy_id=strategy.id,
            version_id=version_id,
            as_of=AS_OF,
            actor="cycle",
            now=NOW,
        )
        uow.commit()
    assert again == {"entered": 0, "left": 0, "assigned": 0}
    # Next day: accounts that stayed keep their entry date, so day-1 steps fire for them.
    with UnitOfWork(book) as uow:
        entries = pl.DataFrame(
            uow.session.execute(
                select(st.SegmentEntry.account_id, st.SegmentEntry.segment_id, st.SegmentEntry.entered_on)
            ).all(),
            schema={"account_id": pl.Int64, "_open_segment": pl.String, "_entered_on": pl.Date},
            orient="row",
        )
    later = plan_day(features, strategy, as_of=AS_OF + dt.timedelta(days=3), open_entries=entries)
    assert (later.accounts.get_column("entered_on") == AS_OF).all()
