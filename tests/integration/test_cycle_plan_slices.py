"""The plan step in slices of account ids writes exactly what it writes in one pass over the partition:
actions, compliance decisions, segment entries, experiment arms, messages and audit events, ids included;
both when the slices share what is read once for the partition and when each reads its own."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from arrears.compliance.tables import ComplianceDecision
from arrears.cycle import ledger_steps, plan_step
from arrears.cycle.ledger_steps import CycleContext
from arrears.cycle.plan_step import plan_slices
from arrears.cycle.runner import CycleReport, run_day
from arrears.cycle.tables import CycleAction, OutboxMessage
from arrears.portfolio.accounts_import import import_accounts
from arrears.sim.generate import generate_accounts, write
from arrears.store import tables
from arrears.store.db import UnitOfWork, make_engine
from arrears.strategy.service import publish_strategy
from arrears.strategy.tables import ExperimentAssignment, SegmentEntry

from ..conftest import _pg_admin

BALANCES_AS_OF = dt.date(2026, 11, 20)
AS_OF = BALANCES_AS_OF + dt.timedelta(days=1)
NOW = dt.datetime(2026, 11, 21, 14, 30, tzinfo=dt.UTC)
STRATEGY = Path(__file__).resolve().parents[2] / "src/arrears/data/strategies/cn-consumer.yaml"
ACCOUNTS = 60
SLICE = 7  # nine slices of the 60 accounts; a debtor's two accounts are 54 ids apart


@contextmanager
def _copy(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A copy of ``engine``'s database as it is now (the same ids everywhere), dropped afterwards."""
    engine.dispose()
    if engine.dialect.name == "sqlite":
        target = tmp_path / "reference.db"
        shutil.copyfile(str(engine.url.database), target)
        built = make_engine(f"sqlite:///{target}")
        try:
            yield built
        finally:
            built.dispose()
        return
    admin = _pg_admin()
    name = f"arrears_ref_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{engine.url.database}"'))
    built = make_engine(engine.url.set(database=name).render_as_string(hide_password=False))
    try:
        yield built
    finally:
        built.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _book(engine: Engine, folder: Path) -> None:
    path = write(generate_accounts(ACCOUNTS, as_of=BALANCES_AS_OF), folder / "accounts.csv")
    assert import_accounts(engine=engine, path=path, actor="t", now=NOW).rows_rejected == 0
    with UnitOfWork(engine) as uow:
        publish_strategy(uow.session, text=STRATEGY.read_text(), fmt="yaml", source="cn", actor="t", now=NOW)
        uow.commit()


def _run(engine: Engine) -> list[dict[str, Any]]:
    # The first day opens every case and enters every account; the next moves some between segments.
    reports: list[CycleReport] = [
        run_day(engine, as_of=AS_OF + dt.timedelta(days=n), actor="cycle", now=NOW + dt.timedelta(days=n))
        for n in range(2)
    ]
    return [report.steps["plan"] for report in reports]


def _written(engine: Engine) -> dict[str, list[Any]]:
    with engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(select(table).order_by(table.c.id))]
            for name, table in {
                "actions": CycleAction.__table__,
                "decisions": ComplianceDecision.__table__,
                "entries": SegmentEntry.__table__,
                "assignments": ExperimentAssignment.__table__,
                "messages": OutboxMessage.__table__,
                "audit": tables.AuditEvent.__table__,
            }.items()
        }


@pytest.mark.parametrize("shared", [True, False], ids=["shared-reads", "reads-per-slice"])
def test_plan_in_slices_writes_what_one_pass_writes(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    _book(engine, tmp_path)
    with _copy(engine, tmp_path) as reference, monkeypatch.context() as patched:
        patched.setattr(ledger_steps, "ACCOUNTS_PER_SLICE", 10 * ACCOUNTS)  # the partition in one slice
        with reference.connect() as conn:
            assert plan_slices(conn, CycleContext(as_of=AS_OF, now=NOW, actor="t", products={})) == [
                (None, None)
            ]
        expected_counts = _run(reference)
        expected = _written(reference)

    monkeypatch.setattr(ledger_steps, "ACCOUNTS_PER_SLICE", SLICE)
    monkeypatch.setattr(plan_step, "SHARED_READS_MAX_ACCOUNTS", 9 * SLICE if shared else 9 * SLICE - 1)
    calls: dict[str, int] = {"case_accounts": 0, "every_point": 0}
    per_slice, points = plan_step._case_accounts, plan_step._contact_points

    def counted_case_accounts(*args: Any, **kwargs: Any) -> Any:
        calls["case_accounts"] += 1
        return per_slice(*args, **kwargs)

    def counted_points(*args: Any, **kwargs: Any) -> Any:
        calls["every_point"] += bool(kwargs.get("every"))
        return points(*args, **kwargs)

    monkeypatch.setattr(plan_step, "_case_accounts", counted_case_accounts)
    monkeypatch.setattr(plan_step, "_contact_points", counted_points)
    with engine.connect() as conn:
        ids = list(conn.execute(select(tables.Account.id).order_by(tables.Account.id)).scalars())
        slices = plan_slices(conn, CycleContext(as_of=AS_OF, now=NOW, actor="t", products={}))
    starts = ids[SLICE::SLICE]
    assert slices == list(zip([None, *starts], [*starts, None], strict=True))
    assert len(slices) == 9
    counts = _run(engine)
    got = _written(engine)

    assert counts == expected_counts
    assert got == expected
    if shared:
        # Cases' accounts never read per slice; every point read once, on the first day only.
        assert calls == {"case_accounts": 0, "every_point": 1}
    else:
        assert calls["every_point"] == 0
        assert calls["case_accounts"] >= 9
    first, second = counts
    assert first["accounts"] == ACCOUNTS
    assert first["actions"] == len([a for a in got["actions"] if a[1] == AS_OF]) > 0
    assert first["segment_entered"] == first["segmented"] > 0
    assert second["segment_left"] > 0
    assert len(got["decisions"]) == sum(sum(c["by_outcome"].values()) for c in counts)
    # Debtors with accounts in two slices were judged in both: their fingerprints are the same.
    debtors = {a[3] for a in got["actions"] if a[1] == AS_OF}
    assert len(debtors) < first["actions"]
    action = list(tables.AuditEvent.__table__.c.keys()).index("action")
    plan_events = [
        e[action]
        for e in got["audit"]
        if e[action] in ("record_segmentation", "compliance_decisions_recorded")
    ]
    assert plan_events == ["record_segmentation", "compliance_decisions_recorded"] * 2
