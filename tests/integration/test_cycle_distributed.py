"""Two real Celery worker processes (Redis broker, PostgreSQL) produce exactly what the in-process run does."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select

from arrears.cycle.runner import catch_up
from arrears.cycle.tables import DailyPosition
from arrears.portfolio.accounts_import import import_accounts
from arrears.portfolio.payments_import import import_payments
from arrears.sim.generate import generate_accounts, generate_payments, write
from arrears.store import tables
from arrears.store.db import make_engine, upgrade

from ..conftest import _new_database

BROKER = os.environ.get("ARREARS_TEST_BROKER_URL", "redis://127.0.0.1:6379/0")
BACKEND = os.environ.get("ARREARS_TEST_RESULT_BACKEND", "redis://127.0.0.1:6379/1")
NOW = dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 11, 20)


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=2).ping()
    except Exception as exc:
        reason = f"Redis not reachable at {BROKER}: {type(exc).__name__}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (required in CI)")
        pytest.skip(reason)


@pytest.fixture
def two_databases(tmp_path: Path) -> Iterator[tuple[Engine, Engine, str]]:
    first = _new_database("postgresql", tmp_path)
    second = _new_database("postgresql", tmp_path)
    url_a, url_b = next(first), next(second)
    engines = (make_engine(url_a), make_engine(url_b))
    try:
        yield engines[0], engines[1], url_b
    finally:
        for engine in engines:
            engine.dispose()
        for gen in (first, second):
            next(gen, None)


def _load(engine: Engine, folder: Path) -> None:
    upgrade(engine)
    report = import_accounts(engine=engine, path=folder / "accounts.csv", actor="tester", now=NOW)
    assert report.rows_rejected == 0
    import_payments(engine=engine, path=folder / "payments.csv", actor="tester", now=NOW)


def _outcome(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    e, a, p = tables.LedgerEntry, tables.Account, DailyPosition
    with engine.connect() as conn:
        entries = conn.execute(
            select(
                a.external_id,
                e.key,
                e.kind,
                e.effective_on,
                e.principal_minor,
                e.interest_minor,
                e.penalty_minor,
                e.compound_minor,
                e.fee_minor,
                e.cost_minor,
            )
            .join(a, a.id == e.account_id)
            .order_by(a.external_id, e.key)
        ).all()
        positions = conn.execute(
            select(
                a.external_id, p.as_of, p.dpd, p.bucket, p.overdue_minor, p.principal_minor, p.penalty_minor
            )
            .join(a, a.id == p.account_id)
            .order_by(a.external_id, p.as_of)
        ).all()
    return [tuple(r) for r in entries], [tuple(r) for r in positions]


def test_two_celery_workers_match_the_in_process_run(
    two_databases: tuple[Engine, Engine, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _redis_or_skip()
    local, distributed, distributed_url = two_databases
    portfolio = generate_accounts(400, as_of=AS_OF, seed=3)
    write(portfolio, tmp_path / "accounts.csv")
    write(generate_payments(portfolio, share=0.3, as_of=AS_OF), tmp_path / "payments.csv")
    _load(local, tmp_path)
    _load(distributed, tmp_path)

    days = dict(through=dt.date(2026, 11, 24), actor="cycle", partitions=4, now=NOW)
    catch_up(local, **days)  # type: ignore[arg-type]
    catch_up(local, through=dt.date(2026, 11, 26), actor="cycle", partitions=4, now=NOW)

    queue = f"arrears-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "ARREARS_DATABASE_URL": distributed_url, "ARREARS_BROKER_URL": BROKER,
           "ARREARS_RESULT_BACKEND": BACKEND, "ARREARS_QUEUE": queue, "ARREARS_ALLOW_PLAINTEXT_PERSONAL_DATA": "1"}  # fmt: skip
    logs = [(tmp_path / f"worker{i}.log").open("wb") for i in (1, 2)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "arrears.jobs.celery_app",
                "worker",
                "-Q",
                queue,
                "-P",
                "solo",
                "-n",
                f"w{i}-{queue}@localhost",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for i, log in zip((1, 2), logs, strict=True)
    ]
    try:
        from arrears.jobs.celery_app import CeleryExecutor, app

        monkeypatch.setattr(app.conf, "broker_url", BROKER)
        monkeypatch.setattr(app.conf, "result_backend", BACKEND)
        deadline = time.monotonic() + 60
        while True:
            replies = app.control.ping(
                timeout=1.0, destination=[f"w1-{queue}@localhost", f"w2-{queue}@localhost"]
            )
            if len(replies) == 2:
                break
            assert time.monotonic() < deadline, "the two workers did not start"
            assert all(w.poll() is None for w in workers), "a worker exited early: " + "".join(
                (tmp_path / f"worker{i}.log").read_text(errors="replace") for i in (1, 2)
            )
        executor = CeleryExecutor(queue=queue, timeout_s=300)
        catch_up(
            distributed,
            through=dt.date(2026, 11, 24),
            actor="cycle",
            partitions=4,
            now=NOW,
            executor=executor,
        )
        # Rerunning a finished day through the workers adds nothing.
        catch_up(
            distributed,
            through=dt.date(2026, 11, 24),
            actor="cycle",
            partitions=4,
            now=NOW,
            executor=executor,
        )
        catch_up(
            distributed,
            through=dt.date(2026, 11, 26),
            actor="cycle",
            partitions=4,
            now=NOW,
            executor=executor,
        )
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        for log in logs:
            log.close()
    entries_local, positions_local = _outcome(local)
    entries_dist, positions_dist = _outcome(distributed)
    assert len(positions_local) == 400 * 3
    assert sum(1 for row in entries_local if row[2] == "accrual") > 400
    assert entries_dist == entries_local
    assert positions_dist == positions_local
