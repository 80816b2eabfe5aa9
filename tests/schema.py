"""Comparing a migrated database with the table modules, restricted to some tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData

from arrears.store.tables import metadata


def _about(diff: Any, names: set[str]) -> bool:
    # A diff is a tuple (op, object, ...) or a list of column-level tuples.
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item:
            table = getattr(part, "table", None)
            name = getattr(part, "name", None) if table is None else table.name
            if name in names or (isinstance(part, str) and part in names):
                return True
    return False


def schema_diffs(engine: Engine, tables: Iterable[str] | None = None) -> list[Any]:
    """What alembic finds different between the database and the declared tables (all, or ``tables``)."""
    ours = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(ours)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, ours)
    if tables is None:
        return list(diffs)
    names = set(tables)
    return [d for d in diffs if _about(d, names)]
