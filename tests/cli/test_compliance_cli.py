"""`arrears compliance check --json FILE`: exit 0 with a decision, 2 with a named problem."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from arrears.cli.compliance import app

pytestmark = pytest.mark.usefixtures("cli_user")

runner = CliRunner()

BODY = {
    "now": "2026-06-10T02:30:00Z",
    "actor": "third_party_collector",
    "debtor": {
        "id": "d1",
        "jurisdiction": "US-NY",
        "contact_points": [{"id": "m1", "kind": "phone", "value": "+12125551234", "place": "mobile"}],
    },
    "proposed": {"channel": "call", "contact_point": "m1"},
}


def test_check_prints_decision(tmp_path):
    path = tmp_path / "req.json"
    path.write_text(json.dumps(BODY))
    result = runner.invoke(app, ["check", "--json", str(path)])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["outcome"] == "delay"
    assert decision["next_allowed_at"] == "2026-06-10T12:00:00Z"
    assert decision["rules"][0]["id"] == "US.REGF.TIME"
    assert decision["rules"][0]["reason_zh"]


def test_stdin(tmp_path):
    result = runner.invoke(app, ["check", "--json", "-"], input=json.dumps(BODY))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["outcome"] == "delay"


def test_bad_enum_names_path(tmp_path):
    body = json.loads(json.dumps(BODY))
    body["debtor"]["contact_points"].append({"id": "x", "kind": "fax", "value": "1"})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(body))
    result = runner.invoke(app, ["check", "--json", str(path)])
    assert result.exit_code == 2
    assert "debtor.contact_points[1].kind: must be one of phone, email, address, social" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_field(tmp_path):
    body = dict(BODY, colour="red")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(body))
    result = runner.invoke(app, ["check", "--json", str(path)])
    assert result.exit_code == 2
    assert "colour: unknown field" in result.stderr


def test_not_json_names_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "now": oops\n}')
    result = runner.invoke(app, ["check", "--json", str(path)])
    assert result.exit_code == 2
    assert "line 2, column 10" in result.stderr


def test_record_needs_subject(tmp_path):
    path = tmp_path / "req.json"
    path.write_text(json.dumps(BODY))
    result = runner.invoke(app, ["check", "--json", str(path), "--record"])
    assert result.exit_code == 2
    assert "--subject" in result.stderr
    assert "Traceback" not in result.output


def test_record_then_report(tmp_path, cli_env):
    from arrears.store.db import make_engine, upgrade

    built = make_engine(cli_env)
    upgrade(built)
    built.dispose()
    path = tmp_path / "req.json"
    path.write_text(json.dumps(BODY))
    result = runner.invoke(app, ["check", "--json", str(path), "--record", "--subject", "ACC-9"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["outcome"] == "delay"
    assert len(out["recorded"]["fingerprint"]) == 64
    from arrears.store.db import utcnow

    today = utcnow().date().isoformat()
    report = runner.invoke(app, ["report", "--from", today, "--to", today, "--json"])
    assert report.exit_code == 0, report.output
    rows = json.loads(report.stdout)["rows"]
    assert rows == [
        {"kind": "outcome", "key": "delay", "outcome": "delay", "count": 1},
        {"kind": "rule", "key": "US.REGF.TIME", "outcome": "delay", "count": 1},
    ]


def test_report_bad_date_is_one_line_exit_2():
    result = runner.invoke(app, ["report", "--from", "2026-13-01", "--to", "2026-06-30"])
    assert result.exit_code == 2
    assert "--from" in result.stderr
    assert "Traceback" not in result.output
