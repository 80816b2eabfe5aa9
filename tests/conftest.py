"""Shared fixtures: a fresh database per test on SQLite and on PostgreSQL.

PostgreSQL is the production database, so every storage test runs on both. Each test gets its own
PostgreSQL database, created and dropped around it. Where PostgreSQL cannot be reached the tests
are skipped with the reason, except in CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, MetaData, Table, create_engine, text

from arrears.store.db import current_revision, head_revision, make_engine, upgrade

# Property tests judge values, not speed: a loaded machine must not fail them on a per-example deadline.
settings.register_profile("arrears", deadline=None)
settings.load_profile("arrears")

PG_ADMIN_URL = os.environ.get("ARREARS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_admin() -> Engine:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        reason = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (required in CI)")
        pytest.skip(reason)
    return admin


def _new_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'arrears-test.db'}"
        return
    admin = _pg_admin()
    name = f"arrears_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database of each kind."""
    yield from _new_database(request.param, tmp_path)


_PG_SEEDS: list[tuple[Table, list[dict[str, object]]]] = []


def _capture_seeds(engine: Engine) -> list[tuple[Table, list[dict[str, object]]]]:
    """Rows the migrations themselves insert (state rows, reference data), to restore after emptying."""
    meta = MetaData()
    meta.reflect(bind=engine)
    seeds = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = [dict(r._mapping) for r in conn.execute(table.select())]
            if rows:
                seeds.append((table, rows))
    return seeds


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Databases migrated once per run; each test's database is a copy of one (much faster than
    running every migration per test). The copies are checked to be at head like a fresh upgrade."""
    made: dict[str, str] = {}
    folder = tmp_path_factory.mktemp("templates")
    sqlite_file = folder / "template.db"
    engine = make_engine(f"sqlite:///{sqlite_file}")
    upgrade(engine)
    engine.dispose()
    made["sqlite"] = str(sqlite_file)
    name = f"arrears_tmpl_{uuid.uuid4().hex[:10]}"
    admin = None
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        pg = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        upgrade(pg)
        _PG_SEEDS.clear()
        _PG_SEEDS.extend(_capture_seeds(pg))
        pg.dispose()
        made["postgresql"] = name
    except Exception:  # the per-test fixture reports an unreachable server (skip, or fail in CI)
        pass
    try:
        yield made
    finally:
        if admin is not None and "postgresql" in made:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if admin is not None:
            admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: dict[str, str]
) -> Iterator[Engine]:
    """An engine on an empty database with the schema at head.

    SQLite: a copy of the migrated template file. PostgreSQL: the migrated session database with
    every table emptied (identities restarted) before the test — far cheaper than a new database.
    """
    if request.param == "sqlite":
        target = tmp_path / "arrears-test.db"
        shutil.copyfile(migrated_templates["sqlite"], target)
        built = make_engine(f"sqlite:///{target}")
        try:
            yield built
        finally:
            built.dispose()
        return
    if "postgresql" not in migrated_templates:
        _pg_admin()  # skips, or fails in CI, with the reason
    built = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + migrated_templates["postgresql"])
    with built.begin() as conn:
        names = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
        ]
        if names:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
        for table, rows in _PG_SEEDS:
            conn.execute(table.insert(), rows)
            if "id" in table.c:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT MAX(id) FROM \"{table.name}\")) "
                        f"WHERE pg_get_serial_sequence('{table.name}', 'id') IS NOT NULL"
                    )
                )
    try:
        assert current_revision(built) == head_revision()
        yield built
    finally:
        built.dispose()


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the command line at a new database (not yet upgraded)."""
    monkeypatch.setenv("ARREARS_DATABASE_URL", database_url)
    monkeypatch.setenv("ARREARS_ACTOR", "tester")
    # Development mode: personal data in plaintext (production refuses it without keys).
    monkeypatch.setenv("ARREARS_ALLOW_PLAINTEXT_PERSONAL_DATA", "1")
    return database_url


@pytest.fixture
def cli_user(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Commands run as a user holding every operational role, checked against the real matrix.

    For tests of other capabilities' commands: the guard still asks the permission matrix whether the
    roles (administrator, supervisor, compliance officer) allow the command, without a users table.
    Denials against stored users are tested end to end in tests/cli/test_users_cli.py and
    tests/cli/test_guard_cli.py.
    """
    from arrears.access.permissions import permissions_of
    from arrears.cli import users as cli_users
    from arrears.errors import PermissionDeniedError

    allowed = permissions_of(["administrator", "supervisor", "compliance_officer"])

    def matrix_only(permission: object, as_user: str | None) -> str:
        name = cli_users.actor(as_user)
        if permission not in allowed:
            raise PermissionDeniedError(f"{name!r} may not {permission}", permission=str(permission))
        return name

    monkeypatch.setattr(cli_users, "check_permission", matrix_only)
    # The virtual user is a supervisor: every case is visible to them.
    from arrears.cli import guard

    monkeypatch.setattr(guard, "_require_visible_case", lambda username, case_id: None)
    return "tester"
