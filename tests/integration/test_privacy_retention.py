"""Retention runs: past-retention debtors anonymised, held or owing ones kept, balances untouched."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select, update

from arrears.errors import PermissionDeniedError
from arrears.portfolio.service import balances_frame
from arrears.privacy import service
from arrears.privacy.retention import load_policy, run_retention
from arrears.privacy.tables import Erasure
from arrears.store import tables
from arrears.store.db import UnitOfWork
from tests.integration.test_privacy_service import AS_OF, book, ring, snapshot  # noqa: F401

CLOSED_AT = dt.datetime(2022, 3, 1, 12, tzinfo=dt.UTC)
RUN_AT = dt.datetime(2025, 3, 2, 8, tzinfo=dt.UTC)


def _close_all(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(tables.Account).values(status="closed", updated_at=CLOSED_AT))


def test_retention_run(book: Engine) -> None:  # noqa: F811
    _close_all(book)
    policy = load_policy()
    with book.connect() as conn:
        balances = balances_frame(conn, as_of=AS_OF)
    before = snapshot(book)
    with UnitOfWork(book) as uow, pytest.raises(PermissionDeniedError, match="manage_retention"):
        run_retention(uow.session, actor="admin", as_of=RUN_AT.date(), now=RUN_AT, policy=policy)
    # One day short of 3 years (民法典 188 for CN debtor records): nothing happens but the run event.
    with UnitOfWork(book) as uow:
        early = run_retention(
            uow.session, actor="cara", as_of=dt.date(2025, 2, 28), now=RUN_AT, policy=policy
        )
    assert (early.anonymised, early.kept) == ([], {})
    assert snapshot(book) == before
    with UnitOfWork(book) as uow:
        report = run_retention(uow.session, actor="cara", as_of=RUN_AT.date(), now=RUN_AT, policy=policy)
        uow.commit()
    # D1 still owes money, so its data is kept; D2 was paid off and is anonymised.
    assert report.anonymised == ["D2"]
    assert report.kept == {"D1": "an account still has a balance"}
    with book.connect() as conn:
        assert conn.execute(select(Erasure.basis)).scalars().all() == ["retention"]
        assert balances_frame(conn, as_of=AS_OF).equals(balances)
        names = dict(conn.execute(select(tables.Debtor.external_id, tables.Debtor.name)).all())
        actions = (
            conn.execute(select(tables.AuditEvent.action).order_by(tables.AuditEvent.id)).scalars().all()
        )
    assert names["D2"] == service.ERASED and names["D1"].startswith("v1.")
    assert actions[-2:] == ["privacy.debtor_erased", "privacy.retention_run"]
    after = snapshot(book)
    assert after["ledger_entries"] == before["ledger_entries"]
    assert after["audit_events"][: len(before["audit_events"])] == before["audit_events"]
    # A second run finds nothing more to do.
    with UnitOfWork(book) as uow:
        again = run_retention(uow.session, actor="cara", as_of=RUN_AT.date(), now=RUN_AT, policy=policy)
    assert again.anonymised == []
