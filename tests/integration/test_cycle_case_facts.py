"""The plan step's case facts, read per partition by joins and narrowed in Polars (both databases)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, select

from arrears.cases.service import open_cases_for_overdue, place_hold
from arrears.cases.tables import Case, Promise
from arrears.cycle.ledger_steps import CycleContext
from arrears.cycle.plan_step import _case_facts
from arrears.portfolio.accounts_import import import_accounts
from arrears.store import tables
from arrears.store.db import UnitOfWork

from .test_import_accounts import good_row, write_csv

NOW = dt.datetime(2026, 6, 20, 20, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 6, 21)


def _setup(engine: Engine, tmp_path: Path) -> dict[str, int]:
    rows = [good_row("A1"), good_row("A2", debtor="D2"), good_row("A3", debtor="D3")]
    import_accounts(engine=engine, path=write_csv(tmp_path / "a.csv", rows), actor="tester", now=NOW)
    with UnitOfWork(engine) as uow:
        opened = open_cases_for_overdue(uow.connection, as_of=AS_OF, actor="tester", at=NOW)
        uow.commit()
    assert opened == 3
    with engine.connect() as conn:
        return {
            str(k): int(v) for k, v in conn.execute(select(tables.Account.external_id, tables.Account.id))
        }


def _context(partition: int = 0, partitions: int = 1) -> CycleContext:
    return CycleContext(
        as_of=AS_OF, now=NOW, actor="cycle", products={}, partition=partition, partitions=partitions
    )


def test_case_facts_cover_exactly_the_accounts_asked_for(engine: Engine, tmp_path: Path) -> None:
    ids = _setup(engine, tmp_path)
    with engine.connect() as conn:
        facts = _case_facts(conn, _context(), pl.Series([ids["A1"], ids["A3"]], dtype=pl.Int64))
        case_of = dict(conn.execute(select(Case.debtor_id, Case.id)).all())
        debtor_of = dict(conn.execute(select(tables.Account.id, tables.Account.debtor_id)).all())
    assert facts.sort("account_id").select(
        "account_id", "case_id", "stage", "hardship", "dispute", "promises_broken", "days_since_rpc"
    ).rows() == [
        (ids["A1"], case_of[debtor_of[ids["A1"]]], "new", False, False, 0, None),
        (ids["A3"], case_of[debtor_of[ids["A3"]]], "new", False, False, 0, None),
    ]


def test_case_facts_keep_to_the_partition(engine: Engine, tmp_path: Path) -> None:
    ids = _setup(engine, tmp_path)
    everyone = pl.Series(list(ids.values()), dtype=pl.Int64)
    with engine.connect() as conn:
        parts = [_case_facts(conn, _context(p, 2), everyone)["account_id"].to_list() for p in (0, 1)]
    assert sorted(parts[0] + parts[1]) == sorted(ids.values())
    assert all(i % 2 == 0 for i in parts[0])
    assert all(i % 2 == 1 for i in parts[1])


def test_case_facts_of_a_slice_read_its_holds_and_broken_promises(engine: Engine, tmp_path: Path) -> None:
    ids = _setup(engine, tmp_path)
    with UnitOfWork(engine) as uow:
        case_of = dict(
            uow.session.execute(
                select(tables.Account.external_id, Case.id).join(
                    Case, Case.debtor_id == tables.Account.debtor_id
                )
            ).all()
        )
        place_hold(uow.session, case_id=case_of["A1"], kind="hardship", actor="tester", at=NOW)
        place_hold(uow.session, case_id=case_of["A3"], kind="dispute", actor="tester", at=NOW)
        released = place_hold(uow.session, case_id=case_of["A2"], kind="hardship", actor="tester", at=NOW)
        released.released_at = NOW
        for status, judged_on in (("broken", AS_OF), ("partially_kept", AS_OF), ("kept", AS_OF),
                                  ("broken", AS_OF - dt.timedelta(days=200))):  # fmt: skip
            uow.session.add(
                Promise(
                    case_id=case_of["A2"], amount_minor=100, currency="CNY", made_on=AS_OF, due_on=AS_OF,
                    channel="call", status=status, judged_on=judged_on, created_at=NOW, created_by="tester",
                )
            )  # fmt: skip
        uow.commit()
    everyone = pl.Series(sorted(ids.values()), dtype=pl.Int64)
    columns = ("account_id", "case_id", "hardship", "dispute", "promises_broken")
    with engine.connect() as conn:
        whole = _case_facts(conn, _context(), everyone).sort("account_id").select(columns).rows()
        middle = int(everyone[1])
        sliced = [
            _case_facts(conn, _context(), everyone, ids=bounds).select(columns).rows()
            for bounds in ((None, middle), (middle, None))
        ]
    assert whole == [
        (ids["A1"], case_of["A1"], True, False, 0),
        (ids["A2"], case_of["A2"], False, False, 2),
        (ids["A3"], case_of["A3"], False, True, 0),
    ]
    assert sorted(sliced[0] + sliced[1]) == whole
    assert [r[0] for r in sliced[0]] == [ids["A1"]]
