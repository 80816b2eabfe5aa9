"""Migration 0014 drops the unverified copy of each audit event's document (``payload``); the view
``audit_event_documents`` decodes it from the hashed entry, and downgrade fills the column back."""

from __future__ import annotations

import datetime as dt
import json

from alembic import command
from sqlalchemy import Engine, inspect, text

from arrears.audit.entry import decode_entry
from arrears.audit.log import record_events
from arrears.audit.verify import verify_log
from arrears.store.db import (
    UnitOfWork,
    _alembic_config,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)

T0 = dt.datetime(2026, 11, 21, 14, 30, tzinfo=dt.UTC)


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("audit_events")}


def _events() -> list[dict[str, object]]:
    return [
        {"actor": "cycle", "action": "case.open", "subject_type": "case", "subject_id": str(i),
         "at": T0 + dt.timedelta(seconds=i), "after": {"stage": "new", "note": "逾期 M1"},
         "details": {"rules": ["dpd-1"], "count": i}}
        for i in range(3)
    ]  # fmt: skip


def _entries(engine: Engine) -> list[tuple[int, bytes]]:
    with engine.connect() as conn:
        return [
            (int(s), bytes(e))
            for s, e in conn.execute(text("SELECT seq, entry FROM audit_events ORDER BY seq"))
        ]


def _documents(engine: Engine) -> list[tuple[int, object]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, document FROM audit_event_documents ORDER BY seq")).all()
    return [(int(s), json.loads(d) if isinstance(d, str) else d) for s, d in rows]


def test_payload_dropped_viewed_from_the_entry_and_restored_on_downgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        assert "payload" not in _columns(engine)
        with UnitOfWork(engine) as uow:
            record_events(uow.session, _events())
            uow.commit()
        entries = _entries(engine)
        assert [s for s, _ in entries] == [0, 1, 2]
        expected = [(s, decode_entry(e).event()) for s, e in entries]
        assert expected[1][1]["after"] == {"note": "逾期 M1", "stage": "new"}
        assert _documents(engine) == expected

        command.downgrade(_alembic_config(engine), "0013")
        revisions = set((current_revision(engine) or "").split(", "))
        assert {"0013", "0002"} <= revisions and "0014" not in revisions
        assert "payload" in _columns(engine)
        with engine.connect() as conn:
            payloads = conn.execute(
                text("SELECT seq, CAST(payload AS TEXT) FROM audit_events ORDER BY seq")
            ).all()
            assert not conn.dialect.has_table(conn, "audit_event_documents")
        # The copy is the hashed document to the byte, as the application wrote it before 0014.
        assert [(int(s), p.encode("utf-8")) for s, p in payloads] == [
            (s, decode_entry(e).body) for s, e in entries
        ]

        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert "payload" not in _columns(engine)
        assert _entries(engine) == entries
        assert _documents(engine) == expected
        with engine.connect() as conn:
            report = verify_log(conn, trusted_keys=[])
        assert report.is_intact, report.problems
        assert report.events == 3
    finally:
        engine.dispose()
