"""``arrears audit``: exit statuses and output of verify, prove, checkpoint, export-heads, keygen, show."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from arrears.audit.log import record_events
from arrears.cli.audit import app
from arrears.store.db import UnitOfWork, make_engine, upgrade

pytestmark = pytest.mark.usefixtures("cli_user")

runner = CliRunner()
T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def log_db(cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database with 5 events and a signing key configured through ARREARS_AUDIT_SIGNING_KEY=@file."""
    engine = make_engine(cli_env)
    try:
        upgrade(engine)
        with UnitOfWork(engine) as uow:
            record_events(
                uow.session,
                [
                    {"actor": "user:1", "action": "case.assigned", "subject_type": "case",
                     "subject_id": str(i), "at": T0 + dt.timedelta(minutes=i), "after": {"collector": "c-7"}}
                    for i in range(5)
                ],
            )  # fmt: skip
            uow.commit()
    finally:
        engine.dispose()
    key = tmp_path / "audit.pem"
    assert runner.invoke(app, ["keygen", str(key)]).exit_code == 0
    monkeypatch.setenv("ARREARS_AUDIT_SIGNING_KEY", f"@{key}")
    return cli_env


def _json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_keygen_writes_a_private_key_only_its_owner_reads_and_refuses_to_overwrite(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    made = _json("keygen", str(key))
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert Path(made["public_key_file"]).read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert len(made["key_id"]) == 64
    again = runner.invoke(app, ["keygen", str(key)])
    assert again.exit_code == 2
    assert "already exists" in again.stderr


def test_checkpoint_then_verify_then_prove(log_db: str) -> None:
    head = _json("checkpoint")
    assert head["tree_size"] == 5
    report = _json("verify")
    assert report["intact"] is True
    assert report["events"] == 6  # the checkpoint records itself
    assert report["heads_checked"] == 1
    assert report["keys_trusted"] is True
    plain = runner.invoke(app, ["verify"])
    assert plain.exit_code == 0
    assert "audit log intact: 6 events" in plain.stdout
    proof = _json("prove", "3")
    assert proof["leaf_index"] == 2
    assert proof["verified"] is True and proof["signature_valid"] is True
    assert len(proof["proof"]) == 3


def test_verify_exits_1_naming_the_first_bad_index(log_db: str) -> None:
    engine = make_engine(log_db)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    finally:
        engine.dispose()
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 1
    assert "first bad index 2" in result.stderr
    as_json = runner.invoke(app, ["verify", "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["first_bad_index"] == 2


def test_checkpoint_without_a_key_is_a_one_line_error(log_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARREARS_AUDIT_SIGNING_KEY")
    monkeypatch.delenv("ARREARS_AUDIT_SIGNING_KEY_FILE", raising=False)
    result = runner.invoke(app, ["checkpoint"])
    assert result.exit_code == 2
    assert "ARREARS_AUDIT_SIGNING_KEY" in result.stderr
    assert "Traceback" not in result.output


def test_export_heads_and_verify_them_later(log_db: str, tmp_path: Path) -> None:
    _json("checkpoint")
    _json("checkpoint")
    kept = tmp_path / "heads.json"
    assert _json("export-heads", str(kept)) == {"file": str(kept), "heads": 2}
    assert [h["tree_size"] for h in json.loads(kept.read_text())["heads"]] == [5, 6]
    assert _json("verify", "--heads", str(kept))["external_heads_checked"] == 2
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = runner.invoke(app, ["verify", "--heads", str(broken)])
    assert result.exit_code == 2
    assert "not JSON" in result.stderr


def test_prove_bad_input_and_uncovered_events(log_db: str) -> None:
    bad = runner.invoke(app, ["prove", "abc"])
    assert bad.exit_code == 2
    assert "EVENT_ID" in bad.stderr
    uncovered = runner.invoke(app, ["prove", "1"])
    assert uncovered.exit_code == 4
    assert "arrears audit checkpoint" in uncovered.stderr


def test_show_filters_and_reads_the_hashed_entries(log_db: str) -> None:
    events = _json("show", "--subject", "case:3")
    assert [(e["index"], e["subject"], e["after"]) for e in events] == [(3, "case:3", {"collector": "c-7"})]
    assert [e["index"] for e in _json("show", "--actor", "user:1", "--limit", "2")] == [4, 3]
    assert _json("show", "--actor", "nobody") == []
    bad = runner.invoke(app, ["show", "--limit", "many"])
    assert bad.exit_code == 2
    assert "--limit" in bad.stderr
