"""The plan step's reads straight from the driver: instants, and every debtor's points at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, select, update

from arrears.cases.tables import Case
from arrears.cycle.plan_step import _case_facts, _contact_points, _history, _open_case_links
from arrears.store import tables
from arrears.store.db import UnitOfWork

from .test_cycle_case_facts import NOW, _context, _setup
from .test_plan_inputs import _book


def test_last_right_party_contact_reads_as_the_utc_instant(engine: Engine, tmp_path: Path) -> None:
    ids = _setup(engine, tmp_path)
    at = dt.datetime(2026, 6, 18, 23, 30, 15, 250_000, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    with UnitOfWork(engine) as uow:
        debtor = uow.connection.execute(
            select(tables.Account.debtor_id).where(tables.Account.id == ids["A1"])
        ).scalar_one()
        uow.connection.execute(update(Case).where(Case.debtor_id == debtor).values(last_right_party_at=at))
        uow.commit()
    with engine.connect() as conn:
        links = _open_case_links(conn, _context())
        facts = _case_facts(conn, _context(), pl.Series([ids["A1"], ids["A2"]], dtype=pl.Int64), links)
    assert links.schema["last_rpc_at"] == pl.Datetime("us", "UTC")
    by_account = dict(links.select("account_id", "last_rpc_at").iter_rows())
    assert by_account == {
        ids["A1"]: dt.datetime(2026, 6, 19, 4, 30, 15, 250_000, tzinfo=dt.UTC),
        ids["A2"]: None,
        ids["A3"]: None,
    }
    # 2026-06-19 (UTC) to 2026-06-21.
    assert dict(facts.select("account_id", "days_since_rpc").iter_rows()) == {ids["A1"]: 2, ids["A2"]: None}


def test_every_debtors_points_read_at_once_are_the_listed_ones(engine: Engine, tmp_path: Path) -> None:
    _setup(engine, tmp_path)
    with engine.connect() as conn:
        debtors = sorted(conn.execute(select(tables.Debtor.id)).scalars())
        some = debtors[:2]
        listed = _contact_points(conn, some)
        read_all = _contact_points(conn, some, most=True)
        nobody = _contact_points(conn, [], most=True)
    assert listed.height > 0
    assert set(listed["debtor_id"].to_list()) == set(some)
    assert read_all.equals(listed)
    assert listed["id"].to_list() == sorted(listed["id"].to_list())
    assert nobody.height == 0
    assert nobody.columns == ["id", "debtor_id", "kind", "place", "value"]


def test_history_instants_are_the_logged_utc_instants(engine: Engine, tmp_path: Path) -> None:
    debtors = _book(engine, tmp_path)
    ids = sorted(debtors.values())
    empty = pl.DataFrame(schema={"case_id": pl.Int64, "debts": pl.List(pl.String)})
    with engine.connect() as conn:
        history = _history(conn, ids, NOW - dt.timedelta(days=35), empty)
        nobody = _history(conn, [], NOW - dt.timedelta(days=35), empty)
    assert history.schema["at"] == pl.Datetime("us", "UTC")
    assert history.sort("at")["at"].to_list() == [NOW + dt.timedelta(hours=h) for h in (1, 2, 3, 4)]
    assert nobody.height == 0
    assert nobody.columns == history.columns
