"""No personal data in log lines: the import and the demo flows run with every logger at DEBUG (SQL
statements and their parameters included) and the captured output is scanned."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from arrears.cli import privacy, users
from arrears.cli.main import app as main_app
from arrears.privacy.crypto import KeyRing
from arrears.privacy.logging import find_personal_data
from arrears.sim.generate import generate_accounts, generate_payments, write
from arrears.store import personal
from arrears.store.db import make_engine, upgrade

runner = CliRunner()


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    saved = (root.level, logging.getLogger("sqlalchemy.engine").level)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(saved[0])
    logging.getLogger("sqlalchemy.engine").setLevel(saved[1])


def test_no_personal_data_in_logs_or_masked_output(
    cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug_log: io.StringIO
) -> None:
    engine = make_engine(cli_env)
    upgrade(engine)
    engine.dispose()
    keys = tmp_path / "keys.json"
    keys.write_text(KeyRing.generate().to_json(), encoding="utf-8")
    monkeypatch.setenv("ARREARS_FIELD_KEYS_FILE", str(keys))
    before = personal.codec()
    as_of = dt.date(2026, 11, 20)
    book = generate_accounts(60, as_of=as_of)
    accounts = write(book, tmp_path / "accounts.csv")
    payments = write(
        generate_payments(book, share=0.5, as_of=as_of + dt.timedelta(days=7)), tmp_path / "p.csv"
    )
    first = str(book["account_id"][0])
    phone = str(book.filter(pl.col("mobile_phone").is_not_null())["mobile_phone"][0])
    outputs = []
    try:
        for app, args in [
            (users.app, ["add", "admin", "--role", "administrator"]),
            (users.app, ["add", "sup", "--role", "supervisor", "--as", "admin"]),
            (main_app, ["import", "accounts", str(accounts), "--as", "sup"]),
            (main_app, ["import", "payments", str(payments), "--as", "sup"]),
            (main_app, ["import", "accounts", str(accounts), "--as", "sup"]),
            (main_app, ["portfolio", "summary", "--as-of", "2026-11-27", "--as", "sup"]),
            (main_app, ["account", "show", first, "--as-of", "2026-11-27", "--as", "sup"]),
            (main_app, ["account", "show", first, "--json", "--as", "sup"]),
            (privacy.app, ["find", "--phone", phone, "--as", "sup"]),
        ]:
            result = runner.invoke(app, args)  # type: ignore[arg-type]
            assert result.exit_code in (0, 3), (args, result.stderr)
            outputs.append(result.stdout + result.stderr)
    finally:
        personal.set_codec(before)
    log = debug_log.getvalue()
    assert (
        "INSERT INTO debtors" in log or "COPY debtors" in log or "debtors" in log
    )  # the log did capture SQL
    assert len(log) > 10_000
    assert find_personal_data(log) == []
    assert find_personal_data("\n".join(outputs)) == []
    # The scan is not blind: the personal values of the file are exactly what it would report.
    assert find_personal_data(f"called {phone}") != []
