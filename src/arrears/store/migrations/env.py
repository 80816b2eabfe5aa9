"""Alembic environment: the engine comes from the caller (arrears.store.db.upgrade)."""

from __future__ import annotations

from alembic import context

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
