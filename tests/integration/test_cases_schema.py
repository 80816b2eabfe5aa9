"""Migration 0005 creates exactly the tables of arrears.cases.tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from arrears.cases.tables import case_tables
from arrears.store.tables import metadata
from tests.schema import schema_diffs


def test_migration_matches_the_tables(engine: Engine) -> None:
    assert set(case_tables()) <= set(inspect(engine).get_table_names())
    assert schema_diffs(engine, case_tables()) == []


def test_the_table_list_is_the_module(engine: Engine) -> None:
    declared = {t.name for t in metadata.sorted_tables if t.name in set(case_tables())}
    assert declared == set(case_tables())
    assert len(case_tables()) == 12
