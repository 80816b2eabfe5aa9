"""Migration 0005 creates exactly the tables of arrears.cases.tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect

from arrears.cases.tables import case_tables
from arrears.store.tables import metadata


def _ours(diff: object) -> bool:
    # A diff is a tuple (op, object, ...) or a list of column-level tuples; keep those about our tables.
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item:
            table = getattr(part, "table", None)
            name = getattr(part, "name", None) if table is None else table.name
            if name in case_tables() or (isinstance(part, str) and part in case_tables()):
                return True
    return False


def test_migration_matches_the_tables(engine: Engine) -> None:
    assert set(case_tables()) <= set(inspect(engine).get_table_names())
    ours = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(ours)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(context, ours) if _ours(d)]
    assert diffs == []


def test_the_table_list_is_the_module(engine: Engine) -> None:
    declared = {t.name for t in metadata.sorted_tables if t.name in set(case_tables())}
    assert declared == set(case_tables())
    assert len(case_tables()) == 12
