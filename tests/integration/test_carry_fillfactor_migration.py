"""Migration 0012 leaves room on the accrual carries' pages on PostgreSQL, so the accrue step's daily
rewrite of every carry stays on the page; downgrade takes the setting away. SQLite has no such setting."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from arrears.store.db import _alembic_config, current_revision, head_revision, make_engine, upgrade


def _options(engine: Engine) -> list[str] | None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'accrual_carries'")).first()
    assert row is not None
    return None if row[0] is None else list(row[0])


def test_fillfactor_set_on_upgrade_and_reset_on_downgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            assert _options(engine) == ["fillfactor=50"]
        command.downgrade(_alembic_config(engine), "0011")
        revisions = set((current_revision(engine) or "").split(", "))
        assert "0011" in revisions and "0012" not in revisions
        if postgres:
            assert _options(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        if postgres:
            assert _options(engine) == ["fillfactor=50"]
    finally:
        engine.dispose()
