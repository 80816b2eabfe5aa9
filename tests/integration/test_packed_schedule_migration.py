"""Migration 0010 converts stored JSON schedules to the packed form, and back on downgrade."""

from __future__ import annotations

import datetime as dt
import json

from alembic import command
from sqlalchemy import column, select, table, text

from arrears.domain.schedule_codec import pack_one
from arrears.store import tables
from arrears.store.db import _alembic_config, make_engine, upgrade
from arrears.store.sql import packed

SCHEDULES = {
    "A1": {"due_on": ["2026-01-15", "2026-02-15"], "principal": [50_000, 50_012], "interest": [1_200, 601]},
    "A2": {"due_on": ["2026-03-01"], "principal": [-7], "interest": [0]},
}


def test_json_schedules_become_packed_and_come_back(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0001")
        now = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO products (id, code, definition, created_at, version) VALUES (1, 'p', '{}', :now, 1)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO debtors (id, external_id, jurisdiction, language, name, row_hash, created_at, "
                    "updated_at, version) VALUES (1, 'D1', 'CN', 'zh', 'x', 'h', :now, :now, 1)"
                ),
                {"now": now},
            )
            for n, (ext, schedule) in enumerate(SCHEDULES.items(), start=1):
                conn.execute(
                    text(
                        "INSERT INTO accounts (id, external_id, debtor_id, product_code, currency, "
                        "principal_minor, annual_rate, term_months, schedule_method, opened_on, first_due_on, "
                        "schedule, charged_through_on, status, row_hash, created_at, updated_at, version) "
                        "VALUES (:id, :ext, 1, 'p', 'CNY', 100, '0.1', 2, 'equal-installment', '2025-12-15', "
                        "'2026-01-15', :schedule, '2026-01-01', 'open', 'h', :now, :now, 1)"
                    ),
                    {"id": n, "ext": ext, "schedule": json.dumps(schedule), "now": now},
                )
        upgrade(engine)
        a = tables.Account
        with engine.connect() as conn:
            stored = dict(conn.execute(select(a.external_id, packed(a.schedule)).order_by(a.id)).all())
            assert {k: bytes(v) for k, v in stored.items()} == {k: pack_one(s) for k, s in SCHEDULES.items()}
            assert dict(conn.execute(select(a.external_id, a.schedule)).all()) == SCHEDULES
        command.downgrade(_alembic_config(engine), "0010-1")
        accounts = table("accounts", column("external_id"), column("schedule"))
        with engine.connect() as conn:
            rows = conn.execute(select(accounts.c.external_id, accounts.c.schedule)).all()
        back = {k: json.loads(v) if isinstance(v, str) else v for k, v in rows}
        assert back == SCHEDULES
    finally:
        engine.dispose()
