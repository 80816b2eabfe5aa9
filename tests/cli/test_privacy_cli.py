"""`arrears privacy ...` as a user runs it, with encryption on: keys, search, erase, export, retention,
rotation; one-line errors and exit statuses."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from arrears.cli import portfolio, privacy, users
from arrears.privacy.crypto import KeyRing
from arrears.store import personal
from arrears.store.db import make_engine, upgrade
from tests.integration.test_import_accounts import good_row, write_csv

runner = CliRunner()


@pytest.fixture
def keys(cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    engine = make_engine(cli_env)
    upgrade(engine)
    engine.dispose()
    before = personal.codec()
    path = tmp_path / "keys.json"
    yield path
    personal.set_codec(before)


def run(app: object, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))  # type: ignore[arg-type]
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_privacy_commands(keys: Path, cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without keys and without the development setting, personal data is refused.
    monkeypatch.delenv("ARREARS_ALLOW_PLAINTEXT_PERSONAL_DATA", raising=False)
    assert run(users.app, "add", "admin", "--role", "administrator")[0] == 0
    code, _, err = run(portfolio.import_app, "accounts", str(write_csv(tmp_path / "x.csv", [good_row("A0")])),
                       "--as", "admin")  # fmt: skip
    assert code == 2 and "no field-encryption keys are configured" in err

    assert run(privacy.app, "keygen", str(keys))[0] == 0
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert run(privacy.app, "keygen", str(keys))[0] == 2  # never overwrites a key file
    monkeypatch.setenv("ARREARS_FIELD_KEYS_FILE", str(keys))
    for name, role in [("cara", "compliance_officer"), ("sup", "supervisor")]:
        assert run(users.app, "add", name, "--role", role, "--as", "admin")[0] == 0
    rows = [
        good_row("A1", "D1"),
        good_row("A2", "D2", mobile_phone="13700137000", national_id="110101198001011232"),
    ]
    assert (
        run(portfolio.import_app, "accounts", str(write_csv(tmp_path / "a.csv", rows)), "--as", "sup")[0] == 0
    )

    engine = make_engine(cli_env)
    with engine.connect() as conn:
        dump = " ".join(str(r) for t in ("debtors", "contact_points", "persons")
                        for r in conn.execute(text(f"SELECT * FROM {t}")))  # fmt: skip
    assert "13800138000" not in dump and "11010519491231002X" not in dump and "v1.k1." in dump

    code, out, _ = run(privacy.app, "find", "--phone", "138 0013 8000", "--json", "--as", "sup")
    assert (code, json.loads(out)) == (0, {"debtors": ["D1"]})
    code, out, _ = run(privacy.app, "find", "--national-id", "110101198001011232", "--as", "sup")
    assert out.strip() == "D2"
    assert run(privacy.app, "find", "--phone", "not a phone", "--as", "sup")[0] == 2

    code, _, err = run(privacy.app, "erase", "D1", "--reason", "REQ-1", "--as", "cara")
    assert code == 5 and "cannot be erased yet: an account still has a balance" in err
    code, _, err = run(privacy.app, "erase", "D1", "--reason", "REQ-1", "--as", "sup")
    assert code == 6

    ids = tmp_path / "ids.txt"
    ids.write_text("account_id\nA1\nA2\n", encoding="utf-8")
    code, _, err = run(privacy.app, "export", "--to", "acme", "--accounts", str(ids), "--as", "cara")
    assert code == 6 and "export to acme refused for 2 of 2 accounts" in err and "PIPL art. 21" in err
    assert not (tmp_path / "ids.txt.acme.csv").exists()
    assert run(privacy.app, "agreement", "acme", "--kind", "entrusted_processing", "--jurisdiction", "CN",
               "--reference", "AGR-1", "--signed-on", "2026-01-01", "--as", "cara")[0] == 0  # fmt: skip
    assert run(privacy.app, "agreement", "acme", "--kind", "entrusted_processing", "--jurisdiction", "CN",
               "--reference", "AGR-1", "--signed-on", "01/01/2026", "--as", "cara")[0] == 2  # fmt: skip
    code, out, _ = run(privacy.app, "export", "--to", "acme", "--accounts", str(ids), "--sealed", "--json",
                       "--as", "cara")  # fmt: skip
    result = json.loads(out)
    assert (code, result["rows"]) == (0, 2)
    exported = Path(result["file"]).read_text(encoding="utf-8").splitlines()
    ring = KeyRing.from_file(result["key_file"])
    assert stat.S_IMODE(Path(result["key_file"]).stat().st_mode) == 0o600
    assert (
        ring.decrypt(exported[1].split(",")[6], context="export:acme:national_id:A1") == "11010519491231002X"
    )

    code, out, _ = run(privacy.app, "retention-run", "--as-of", "2026-07-01", "--json", "--as", "cara")
    assert (code, json.loads(out)) == (0, {"as_of": "2026-07-01", "anonymised": [], "kept": {}})
    assert run(privacy.app, "retention-run", "--as-of", "July", "--as", "cara")[0] == 2

    # Rotation: add a key, re-encrypt everything, search still works.
    assert run(privacy.app, "keygen", str(keys), "--add", "--key-id", "k2")[0] == 0
    assert run(privacy.app, "rotate-keys", "--as", "sup")[0] == 6
    code, out, _ = run(privacy.app, "rotate-keys", "--batch-rows", "2", "--json", "--as", "admin")
    assert (code, json.loads(out)["rows_rotated"]) == (0, 2 * 2 + 2 + 2 * 3)
    with engine.connect() as conn:
        values = conn.execute(text("SELECT value FROM contact_points")).scalars().all()
        actions = (
            conn.execute(text("SELECT action FROM audit_events WHERE action LIKE 'privacy.%' ORDER BY id"))
            .scalars()
            .all()
        )
    engine.dispose()
    assert all(v.startswith("v1.k2.") for v in values)
    assert actions == ["privacy.agreement_added", "privacy.export_made", "privacy.retention_run",
                       "privacy.key_rotation_started", "privacy.key_rotation_finished"]  # fmt: skip
    code, out, _ = run(privacy.app, "find", "--phone", "13700137000", "--as", "sup")
    assert out.strip() == "D2"
