"""Engines, the unit of work, and schema migrations.

The caller owns the transaction: :class:`UnitOfWork` rolls back unless ``commit()`` is called, so a
failure half-way through an import or a refused action leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session

from arrears.errors import ConfigurationError

__all__ = [
    "UnitOfWork",
    "current_revision",
    "head_revision",
    "make_engine",
    "require_current_schema",
    "upgrade",
    "utcnow",
]

MIGRATIONS = Path(__file__).with_name("migrations")


def utcnow() -> dt.datetime:
    """The current instant, aware UTC. Only the shell calls this; rules receive time as an argument."""
    return dt.datetime.now(dt.UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL) with the settings arrears relies on."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # bad URL or missing driver: a configuration problem, said plainly
        raise ConfigurationError(f"cannot use database URL {url!r}: {exc}", field="database_url") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class UnitOfWork:
    """One transaction. ``with UnitOfWork(engine) as uow: ...; uow.commit()``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.session: Session
        self._committed = False

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self.engine, expire_on_commit=False, autoflush=False)
        if self.engine.dialect.name == "sqlite":
            # Take the write lock up front so that ids read inside the transaction stay ours.
            self.session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        return self

    @property
    def connection(self) -> Connection:
        return self.session.connection()

    def commit(self) -> None:
        self.session.commit()
        self._committed = True

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            self.session.rollback()
        self.session.close()


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> str | None:
    """Bring the schema to ``revision`` (every branch head by default); returns the revisions in force."""
    command.upgrade(_alembic_config(engine), revision)
    return current_revision(engine)


def _join(revisions: tuple[str, ...] | set[str]) -> str | None:
    return ", ".join(sorted(revisions)) or None


def head_revision() -> str | None:
    """The newest revision of every migration branch this version knows (comma-separated)."""
    script = ScriptDirectory(str(MIGRATIONS))
    return _join(set(script.get_heads()))


def current_revision(engine: Engine) -> str | None:
    """The revisions the database is at (comma-separated), or None for an empty database."""
    with engine.connect() as conn:
        return _join(set(MigrationContext.configure(conn).get_current_heads()))


def require_current_schema(engine: Engine) -> None:
    """Refuse to work on a database whose schema is missing or behind, with the command that fixes it."""
    current = current_revision(engine)
    if current != head_revision():
        state = "has no arrears schema" if current is None else f"is at schema revision {current}"
        raise ConfigurationError(
            f"the database {engine.url.render_as_string(hide_password=True)} {state}; "
            "run `arrears db upgrade` first",
            field="database_url",
        )


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        yield conn


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
