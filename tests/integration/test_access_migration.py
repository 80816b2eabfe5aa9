"""Migration 0003 creates exactly the access and privacy tables the modules declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

import arrears.access.tables as access_tables
import arrears.privacy.tables as privacy_tables
from arrears.store.tables import metadata

OURS = {
    "users", "user_roles", "api_keys", "account_assignments",
    "data_agreements", "consents", "legal_holds", "erasures", "key_rotation_runs",
}  # fmt: skip


def test_modules_declare_exactly_our_tables() -> None:
    declared = {
        m.__tablename__
        for module in (access_tables, privacy_tables)
        for m in vars(module).values()
        if isinstance(m, type) and hasattr(m, "__tablename__") and m.__module__ == module.__name__
    }
    assert declared == OURS


def test_migration_matches_the_modules(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= OURS

    def ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        table_name = name if type_ == "table" else getattr(table, "name", None)
        return table_name in OURS

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": ours, "target_metadata": metadata}
        )
        diff = compare_metadata(context, metadata)
    assert diff == []
