"""Stored compliance decisions on SQLite and PostgreSQL: schema, single and bulk writes, report."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, func, inspect, select

from arrears.audit.entry import decode_entry
from arrears.compliance import check, compliance_report, fingerprint, record_decision, record_decisions
from arrears.compliance.tables import ComplianceDecision
from arrears.errors import ValidationError
from arrears.store import tables
from arrears.store.db import UnitOfWork

UTC = dt.UTC
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
AT = dt.datetime(2026, 6, 10, 2, 31, tzinfo=UTC)


def _counts(session):
    return (
        session.scalar(select(func.count()).select_from(ComplianceDecision)),
        session.scalar(select(func.count()).select_from(tables.AuditEvent)),
    )


def _ours(name, type_, parent_names):
    if type_ == "schema":
        return True
    table = name if type_ == "table" else parent_names.get("table_name")
    return table == "compliance_decisions"


def test_migration_creates_exactly_the_decisions_table(engine):
    mine = MetaData()
    ComplianceDecision.__table__.to_metadata(mine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _ours})
        assert compare_metadata(context, mine) == []
        assert "compliance_decisions" in inspect(conn).get_table_names()
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("compliance_decisions")}
    assert indexes == {"ix_compliance_decisions_decided_at", "ix_compliance_decisions_subject"}


def test_record_decision_stores_non_personal_data_and_audits(engine):
    decision = check(BODY)
    with UnitOfWork(engine) as uow:
        row = record_decision(
            uow.session,
            decision=decision,
            fingerprint=fingerprint(BODY),
            actor="alice",
            subject="ACC-1",
            channel="call",
            at=AT,
        )
        uow.commit()
        row_id = row.id
    with UnitOfWork(engine) as uow:
        stored = uow.session.get(ComplianceDecision, row_id)
        assert stored is not None
        assert stored.decided_at == AT
        assert stored.outcome == "delay"
        assert stored.next_allowed_at == dt.datetime(2026, 6, 10, 12, tzinfo=UTC)
        assert stored.rules == [{"id": "US.REGF.TIME", "outcome": "delay"}]
        assert stored.packs == {"US-FED": "2026.1", "HOUSE": _house_version()}
        assert stored.fingerprint == fingerprint(BODY)
        assert "+12125551234" not in repr(stored.__dict__)
        event = uow.session.scalars(select(tables.AuditEvent)).one()
        assert (event.action, event.subject_type, event.subject_id) == (
            "compliance_decision_recorded",
            "compliance_decision",
            str(row_id),
        )
        document = decode_entry(event.entry).event()
        assert document["after"]["fingerprint"] == fingerprint(BODY)
        assert document["after"]["rules"] == ["US.REGF.TIME"]


def _house_version():
    from arrears.domain.compliance import load_packs

    return load_packs().packs["HOUSE"].version


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"fingerprint": "abc"}, "fingerprint"),
        ({"channel": "fax"}, "channel"),
        ({"at": dt.datetime(2026, 6, 10, 2, 31)}, "at"),
        ({"subject": "  "}, "subject"),
    ],
)
def test_refused_record_leaves_nothing(engine, change, field):
    args = {
        "decision": check(BODY),
        "fingerprint": fingerprint(BODY),
        "actor": "alice",
        "subject": "ACC-1",
        "channel": "call",
        "at": AT,
    } | change
    with UnitOfWork(engine) as uow:
        with pytest.raises(ValidationError) as info:
            record_decision(uow.session, **args)
        assert info.value.fields["field"] == field
        assert _counts(uow.session) == (0, 0)


def _frame(n: int, day: dt.datetime) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "decided_at": [day + dt.timedelta(minutes=i) for i in range(n)],
            "actor": ["cycle"] * n,
            "subject": [f"ACC-{i}" for i in range(n)],
            "channel": ["call"] * n,
            "outcome": ["allow" if i % 3 else "delay" for i in range(n)],
            "next_allowed_at": [None if i % 3 else day + dt.timedelta(hours=8) for i in range(n)],
            "fingerprint": [f"{i:064x}" for i in range(n)],
            "rules": [[] if i % 3 else ["US.REGF.TIME", "US.REGF.FREQ.COUNT"] for i in range(n)],
            "rule_outcomes": [[] if i % 3 else ["delay", "delay"] for i in range(n)],
            "packs": [["US-FED", "HOUSE"]] * n,
        },
        schema_overrides={
            "decided_at": pl.Datetime("us", "UTC"),
            "next_allowed_at": pl.Datetime("us", "UTC"),
        },
    )


def test_bulk_record_and_report(engine):
    day = dt.datetime(2026, 6, 10, 1, tzinfo=UTC)
    with UnitOfWork(engine) as uow:
        assert record_decisions(uow.connection, _frame(9, day)) == 9
        uow.commit()
    with UnitOfWork(engine) as uow:
        stored = uow.session.scalars(select(ComplianceDecision).order_by(ComplianceDecision.id)).all()
        assert len(stored) == 9
        assert stored[0].rules == [
            {"id": "US.REGF.TIME", "outcome": "delay"},
            {"id": "US.REGF.FREQ.COUNT", "outcome": "delay"},
        ]
        assert stored[0].next_allowed_at == day + dt.timedelta(hours=8)
        assert stored[1].next_allowed_at is None
        assert stored[4].decided_at == day + dt.timedelta(minutes=4)
        assert stored[0].packs["US-FED"] == "2026.1"
        event = uow.session.scalars(select(tables.AuditEvent)).one()
        assert event.action == "compliance_decisions_recorded"
        document = decode_entry(event.entry).event()
        assert document["details"]["count"] == 9
        assert document["details"]["outcomes"] == {"allow": 6, "delay": 3}
        rows = compliance_report(uow.session, start=day, end=day + dt.timedelta(days=1))
        got = [(r.kind, r.key, r.outcome, r.count) for r in rows]
        assert got == [
            ("outcome", "allow", "allow", 6),
            ("outcome", "delay", "delay", 3),
            ("rule", "US.REGF.FREQ.COUNT", "delay", 3),
            ("rule", "US.REGF.TIME", "delay", 3),
        ]
        # The window is half-open and counts only rows inside it: minutes 7 and 8 are both allows.
        later = compliance_report(
            uow.session, start=day + dt.timedelta(minutes=7), end=day + dt.timedelta(days=1)
        )
        assert [(r.kind, r.key, r.count) for r in later] == [("outcome", "allow", 2)]
        assert compliance_report(uow.session, start=day, end=day + dt.timedelta(minutes=4))[1].count == 2


def test_bulk_refuses_bad_fingerprint_and_leaves_nothing(engine):
    frame = _frame(3, dt.datetime(2026, 6, 10, 1, tzinfo=UTC)).with_columns(
        pl.Series("fingerprint", ["0" * 64, "not-hex", "1" * 64])
    )
    with UnitOfWork(engine) as uow:
        with pytest.raises(ValidationError):
            record_decisions(uow.connection, frame)
        assert _counts(uow.session) == (0, 0)


def test_report_refuses_reversed_range(engine):
    with UnitOfWork(engine) as uow, pytest.raises(ValidationError):
        compliance_report(uow.session, start=AT, end=AT - dt.timedelta(days=1))
