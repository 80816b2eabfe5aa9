"""Alembic environment: the engine comes from the caller (arrears.store.db.upgrade)."""

from __future__ import annotations

from alembic import context

# Every table module, so that autogenerate compares the whole schema.
import arrears.access.tables
import arrears.allocation.tables
import arrears.audit.tables
import arrears.cases.tables
import arrears.compliance.tables
import arrears.cycle.tables
import arrears.privacy.tables
import arrears.scoring.tables
import arrears.strategy.tables  # noqa: F401
from arrears.store.tables import metadata

config = context.config


def run() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
