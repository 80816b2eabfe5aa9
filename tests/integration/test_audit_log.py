"""The audit log in the database, on SQLite and PostgreSQL: appends, heads, proofs, and tampering.

Tampering is done the way an intruder would: raw SQL against the tables, behind the application.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, text

import arrears.audit.tables  # noqa: F401  (registers the audit tables on the metadata)
from arrears.audit.canonical import AuditEvent
from arrears.audit.entry import GENESIS_PREVIOUS, decode_entry, encode_entry, event_body
from arrears.audit.log import read_log_state, record_event, record_events
from arrears.audit.merkle import MerkleAccumulator, leaf_hash, root_hash
from arrears.audit.service import (
    export_tree_heads,
    issue_checkpoint,
    latest_tree_head,
    list_events,
    parse_tree_heads,
    prove_event,
)
from arrears.audit.tree_head import generate_signing_key, verify_tree_head
from arrears.audit.verify import verify_log
from arrears.errors import NotFoundError, ValidationError
from arrears.store.db import UnitOfWork, make_engine, upgrade
from arrears.store.tables import metadata

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
AUDIT_TABLES = {"audit_events", "audit_log_state", "audit_tree_heads"}
KEY = generate_signing_key()


def _event(i: int) -> dict[str, Any]:
    return {
        "actor": f"user:{i % 3}",
        "action": "payment.recorded",
        "subject_type": "account",
        "subject_id": f"A-{i}",
        "at": T0 + dt.timedelta(minutes=i),
        "before": {"balance_minor": 10_000 - i},
        "after": {"balance_minor": 9_000 - i},
        "details": {"channel": "bank_transfer"},
    }


def _append(engine: Engine, start: int, count: int) -> range:
    with UnitOfWork(engine) as uow:
        appended = record_events(uow.session, [_event(i) for i in range(start, start + count)])
        uow.commit()
    return appended


def _checkpoint(engine: Engine, minute: int) -> int:
    with UnitOfWork(engine) as uow:
        stored = issue_checkpoint(
            uow.session, at=T0 + dt.timedelta(hours=1, minutes=minute), key=KEY, actor="ops"
        )
        uow.commit()
    return stored.tree_size


def _verify(engine: Engine) -> Any:
    with engine.connect() as conn:
        return verify_log(conn, trusted_keys=[KEY.public_key()])


def _rows(conn: Connection) -> list[tuple[int, bytes, bytes]]:
    return [(r[0], bytes(r[1]), bytes(r[2])) for r in conn.execute(
        text("SELECT seq, entry, leaf_hash FROM audit_events ORDER BY seq")
    )]  # fmt: skip


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        events = conn.execute(text("SELECT COUNT(*) FROM audit_events")).scalar_one()
        heads = conn.execute(text("SELECT COUNT(*) FROM audit_tree_heads")).scalar_one()
        size = read_log_state(conn).tree_size
    return events, heads, size


# --- schema ---------------------------------------------------------------------------------------


def test_the_migration_creates_exactly_the_audit_tables_of_the_models(engine: Engine) -> None:
    def ours(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
        table = name if kind == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in AUDIT_TABLES

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": ours})
        assert compare_metadata(context, metadata) == []
        tables = {t for t in AUDIT_TABLES if conn.dialect.has_table(conn, t)}
    assert tables == AUDIT_TABLES
    assert set(metadata.tables) >= AUDIT_TABLES


def test_events_written_before_the_chain_existed_are_chained_by_the_migration(database_url: str) -> None:
    built = make_engine(database_url)
    try:
        upgrade(built, "0001")
        with built.begin() as conn:
            for i in range(3):
                conn.execute(
                    text(
                        "INSERT INTO audit_events (at, actor, action, subject_type, subject_id, payload) "
                        "VALUES (:at, 'cli', 'portfolio.accounts_imported', 'import_run', :sid, :payload)"
                    ),
                    {
                        "at": (T0 + dt.timedelta(seconds=i)).replace(tzinfo=None)
                        if built.dialect.name == "sqlite"
                        else T0 + dt.timedelta(seconds=i),
                        "sid": str(i + 1),
                        "payload": f'{{"before": null, "after": null, "details": {{"rows_read": {i}}}}}',
                    },
                )
        upgrade(built)
        with built.connect() as conn:
            rows = _rows(conn)
            assert [r[0] for r in rows] == [0, 1, 2]
            assert decode_entry(rows[1][1]).body == AuditEvent(
                actor="cli", action="portfolio.accounts_imported", subject="import_run:2",
                at=T0 + dt.timedelta(seconds=1), details={"rows_read": 1},
            ).canonical_bytes()  # fmt: skip
            assert read_log_state(conn).tree_size == 3
        # New events continue the same chain.
        _append(built, 10, 2)
        report = _verify(built)
        assert report.is_intact, report.problems
        assert report.events == 5
    finally:
        built.dispose()


# --- appending ------------------------------------------------------------------------------------


def test_appends_store_index_entry_and_leaf_hash_and_advance_the_state(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        first = record_event(uow.session, **_event(0))
        rest = record_events(uow.session, [_event(i) for i in range(1, 5)])
        uow.commit()
    assert first == 0
    assert rest == range(1, 5)
    with engine.connect() as conn:
        rows = _rows(conn)
        state = read_log_state(conn)
    entries = []
    previous = GENESIS_PREVIOUS
    for i in range(5):
        e = _event(i)
        body = AuditEvent(
            actor=e["actor"], action=e["action"], subject=f"account:A-{i}", at=e["at"],
            before=e["before"], after=e["after"], details=e["details"],
        ).canonical_bytes()  # fmt: skip
        entry = encode_entry(index=i, previous=previous, body=body)
        previous = leaf_hash(entry)
        entries.append(entry)
    assert [r[1] for r in rows] == entries
    assert [r[2] for r in rows] == [leaf_hash(e) for e in entries]
    assert state.tree_size == 5
    assert state.last_leaf_hash == leaf_hash(entries[4])
    assert state.accumulator().root() == root_hash(entries)


def test_a_refused_batch_leaves_the_log_untouched(engine: Engine) -> None:
    _append(engine, 0, 3)
    before = _counts(engine)
    bad = dict(_event(4), after={"rate": 1.5})  # a float has no canonical form
    with UnitOfWork(engine) as uow, pytest.raises(ValidationError) as caught:
        record_events(uow.session, [_event(3), bad])
    assert caught.value.fields["field"] == "after.rate"
    personal = dict(_event(5), after={"phone": "13800000001"})
    with UnitOfWork(engine) as uow, pytest.raises(ValidationError) as caught:
        record_event(uow.session, **personal)
    assert caught.value.fields["field"] == "after.phone"
    assert _counts(engine) == before
    assert _verify(engine).is_intact


def test_a_salted_commitment_to_a_personal_value_is_accepted(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        record_event(uow.session, **dict(_event(0), after={"phone": "sha256:" + "ab" * 32}))
        uow.commit()
    assert _counts(engine)[0] == 1


def test_rolled_back_events_take_no_index(engine: Engine) -> None:
    _append(engine, 0, 2)
    with UnitOfWork(engine) as uow:
        record_events(uow.session, [_event(2), _event(3)])  # not committed
    assert _append(engine, 4, 1) == range(2, 3)
    assert _verify(engine).is_intact


def test_concurrent_writers_keep_the_sequence_gap_free(engine: Engine) -> None:
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(10):
                with UnitOfWork(engine) as uow:
                    record_event(uow.session, **_event(worker * 100 + i))
                    uow.commit()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as conn:
        assert [r[0] for r in _rows(conn)] == list(range(40))
    report = _verify(engine)
    assert report.is_intact, report.problems
    assert report.events == 40


# --- tree heads and proofs ------------------------------------------------------------------------


def test_checkpoint_signs_the_log_and_records_itself(engine: Engine) -> None:
    _append(engine, 0, 5)
    assert _checkpoint(engine, 0) == 5
    with engine.connect() as conn:
        head = latest_tree_head(conn)
        events = list_events(conn, action="audit.checkpoint_issued")
        entries = [r[1] for r in _rows(conn)]
    assert head is not None
    assert head.head.root_hash == root_hash(entries[:5])
    assert verify_tree_head(head.head, KEY.public_key())
    assert head.issued_by == "ops"
    assert [e.index for e in events] == [5]
    assert events[0].event["details"]["tree_size"] == 5
    report = _verify(engine)
    assert report.is_intact and report.heads_checked == 1 and report.events == 6


def test_prove_gives_a_verified_inclusion_proof_for_every_event(engine: Engine) -> None:
    _append(engine, 0, 11)
    _checkpoint(engine, 0)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM audit_events ORDER BY seq"))]
        proofs = [prove_event(conn, event_id=i) for i in ids[:11]]
        with pytest.raises(NotFoundError):
            prove_event(conn, event_id=ids[11])  # the checkpoint's own event: not under a head yet
        with pytest.raises(NotFoundError):
            prove_event(conn, event_id=10_000)
    assert all(p.is_verified and p.is_signature_valid for p in proofs)
    assert [p.index for p in proofs] == list(range(11))
    assert [len(p.proof) for p in proofs] == [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 2]


def test_prove_does_not_verify_once_a_stored_leaf_hash_is_forged(engine: Engine) -> None:
    _append(engine, 0, 6)
    _checkpoint(engine, 0)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET leaf_hash = :h WHERE seq = 4"), {"h": b"\x07" * 32})
    with engine.connect() as conn:
        event_id = conn.execute(text("SELECT id FROM audit_events WHERE seq = 5")).scalar_one()
        assert not prove_event(conn, event_id=event_id).is_verified


def test_heads_exported_and_read_back_are_checked_against_the_log(engine: Engine) -> None:
    _append(engine, 0, 4)
    _checkpoint(engine, 0)
    _append(engine, 10, 3)
    _checkpoint(engine, 1)
    with engine.connect() as conn:
        document = export_tree_heads(conn)
    kept = parse_tree_heads(document)
    assert [head.tree_size for head, _ in kept] == [4, 8]
    assert all(key is not None for _, key in kept)
    with engine.connect() as conn:
        report = verify_log(conn, trusted_keys=[KEY.public_key()], external_heads=kept)
    assert report.is_intact and report.external_heads_checked == 2
    # The database is rolled back to a fork after the heads were kept: the kept heads catch it.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_tree_heads"))
        conn.execute(text("DELETE FROM audit_events WHERE seq >= 2"))
        acc = MerkleAccumulator()
        rows = _rows(conn)
        for row in rows:
            acc.append(row[2])
        conn.execute(
            text("UPDATE audit_log_state SET tree_size = 2, compact_range = :c, last_leaf_hash = :l"),
            {"c": b"".join(acc.compact_range), "l": rows[-1][2]},
        )
    with engine.connect() as conn:
        assert verify_log(conn, trusted_keys=[KEY.public_key()]).is_intact  # alone, it looks fine
        report = verify_log(conn, trusted_keys=[KEY.public_key()], external_heads=kept)
    assert not report.is_intact
    assert report.first_bad_index == 2


def test_a_head_signed_by_another_key_does_not_verify(engine: Engine) -> None:
    _append(engine, 0, 3)
    _checkpoint(engine, 0)
    with engine.connect() as conn:
        report = verify_log(conn, trusted_keys=[generate_signing_key().public_key()])
    assert [p.kind for p in report.problems] == ["signature"]
    assert report.first_bad_index is None


# --- tampering ------------------------------------------------------------------------------------


def _forge(conn: Connection, seq: int, body: bytes, previous: bytes) -> tuple[bytes, bytes]:
    entry = encode_entry(index=seq, previous=previous, body=body)
    return entry, leaf_hash(entry)


def _rewrite_state(conn: Connection) -> None:
    """What a careful intruder does last: make the state row agree with the rows as they now are."""
    rows = _rows(conn)
    acc = MerkleAccumulator()
    for row in rows:
        acc.append(row[2])
    conn.execute(
        text("UPDATE audit_log_state SET tree_size = :n, compact_range = :c, last_leaf_hash = :l"),
        {"n": len(rows), "c": b"".join(acc.compact_range), "l": rows[-1][2]},
    )


@pytest.fixture
def logged(engine: Engine) -> Engine:
    """A log of 12 events with a signed head at 8 (event 8 is the checkpoint's own)."""
    _append(engine, 0, 8)
    _checkpoint(engine, 0)
    _append(engine, 8, 3)
    assert _verify(engine).is_intact
    return engine


def _tampered(engine: Engine, *statements: tuple[str, dict[str, Any]]) -> Any:
    with engine.begin() as conn:
        for sql, params in statements:
            conn.execute(text(sql), params)
    report = _verify(engine)
    assert not report.is_intact
    return report


def test_an_edited_entry_is_found_at_its_index(logged: Engine) -> None:
    with logged.connect() as conn:
        entry = _rows(conn)[5][1]
    forged = entry.replace(b'"balance_minor":9', b'"balance_minor":8')
    assert forged != entry
    report = _tampered(logged, ("UPDATE audit_events SET entry = :e WHERE seq = 5", {"e": forged}))
    assert report.first_bad_index == 5
    assert report.problems[0].kind == "edited"


def test_an_entry_edited_with_its_hash_recomputed_is_found_by_its_successor(logged: Engine) -> None:
    with logged.connect() as conn:
        rows = _rows(conn)
    decoded = decode_entry(rows[3][1])
    entry, leaf = _forge(None, 3, decoded.body.replace(b"user:0", b"user:2"), decoded.previous)  # type: ignore[arg-type]
    report = _tampered(
        logged, ("UPDATE audit_events SET entry = :e, leaf_hash = :h WHERE seq = 3", {"e": entry, "h": leaf})
    )
    assert report.first_bad_index == 3


def test_the_last_entry_edited_with_its_hash_recomputed_is_found(logged: Engine) -> None:
    with logged.connect() as conn:
        rows = _rows(conn)
    last = len(rows) - 1
    decoded = decode_entry(rows[last][1])
    entry, leaf = _forge(None, last, decoded.body.replace(b"A-10", b"A-99"), decoded.previous)  # type: ignore[arg-type]
    report = _tampered(
        logged,
        (
            "UPDATE audit_events SET entry = :e, leaf_hash = :h WHERE seq = :s",
            {"e": entry, "h": leaf, "s": last},
        ),
    )
    assert report.first_bad_index == last


def test_a_deleted_event_is_found_at_its_index(logged: Engine) -> None:
    report = _tampered(logged, ("DELETE FROM audit_events WHERE seq = 6", {}))
    assert report.first_bad_index == 6
    assert report.problems[0].kind == "missing"


def test_a_deleted_event_with_later_events_renumbered_is_found(logged: Engine) -> None:
    report = _tampered(
        logged,
        ("DELETE FROM audit_events WHERE seq = 6", {}),
        ("UPDATE audit_events SET seq = -seq WHERE seq > 6", {}),
        ("UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0", {}),
    )
    assert report.first_bad_index == 6


def test_the_last_event_deleted_is_found(logged: Engine) -> None:
    report = _tampered(logged, ("DELETE FROM audit_events WHERE seq = 11", {}))
    assert report.first_bad_index == 11


def test_an_inserted_event_is_found_at_its_index(logged: Engine) -> None:
    with logged.begin() as conn:
        rows = _rows(conn)
        body = event_body(actor="user:1", action="payment.reversed", subject="account:A-4",
                          at=T0 + dt.timedelta(minutes=4, seconds=30), before=None, after=None, details=None)  # fmt: skip
        entry, leaf = _forge(conn, 4, body, rows[3][2])
        conn.execute(text("UPDATE audit_events SET seq = -seq WHERE seq >= 4"))
        conn.execute(text("UPDATE audit_events SET seq = -seq + 1 WHERE seq < 0"))
        conn.execute(
            text(
                "INSERT INTO audit_events (seq, at, actor, action, subject_type, subject_id, entry, leaf_hash) "
                "VALUES (4, :at, 'user:1', 'payment.reversed', 'account', 'A-4', :e, :h)"
            ),
            {"at": T0 if logged.dialect.name != "sqlite" else T0.replace(tzinfo=None), "e": entry, "h": leaf},
        )
        _rewrite_state(conn)
    report = _verify(logged)
    assert not report.is_intact
    assert report.first_bad_index == 4
    assert "inserted" in {p.kind for p in report.problems}


def test_reordered_events_are_found_at_the_first_moved_index(logged: Engine) -> None:
    report = _tampered(
        logged,
        ("UPDATE audit_events SET seq = -1 WHERE seq = 2", {}),
        ("UPDATE audit_events SET seq = 2 WHERE seq = 7", {}),
        ("UPDATE audit_events SET seq = 7 WHERE seq = -1", {}),
    )
    assert report.first_bad_index == 2
    assert report.problems[0].kind == "misplaced"


def test_a_consistent_rewrite_of_the_tail_is_caught_by_the_signed_head(logged: Engine) -> None:
    with logged.begin() as conn:
        rows = _rows(conn)
        previous = rows[5][2]
        for seq in range(6, len(rows)):
            decoded = decode_entry(rows[seq][1])
            entry, leaf = _forge(conn, seq, decoded.body.replace(b"bank_transfer", b"cash"), previous)
            conn.execute(
                text("UPDATE audit_events SET entry = :e, leaf_hash = :h WHERE seq = :s"),
                {"e": entry, "h": leaf, "s": seq},
            )
            previous = leaf
        _rewrite_state(conn)
    report = _verify(logged)
    assert [p.kind for p in report.problems] == ["root_mismatch"]
    assert report.first_bad_index == 0  # no head below 8 matched, so the change is somewhere in 0..7


def test_a_forged_tree_head_is_found(logged: Engine) -> None:
    report = _tampered(logged, ("UPDATE audit_tree_heads SET root_hash = :r", {"r": b"\x00" * 32}))
    assert {p.kind for p in report.problems} == {"signature", "root_mismatch"}


def _mixed_events() -> list[dict[str, Any]]:
    """Cycle-shaped events with one shared time, and odd ones: other zones, decimals, enums, tuples."""
    from decimal import Decimal
    from enum import StrEnum

    class Kind(StrEnum):
        CASE = "case"

    at = T0 + dt.timedelta(hours=3)
    cycle = [
        {
            "actor": "cycle",
            "action": "case.open",
            "subject_type": "case",
            "subject_id": str(case_id),
            "at": at,
            "after": {"stage": "new", "creditor": "银行", "owner": None, "owner_kind": "team"},
            "details": {
                "accounts": [f"ACC-{case_id}", 'quote"back\\slash'],
                "as_of": "2025-03-01",
                "bulk": True,
            },
        }
        for case_id in range(1, 41)
    ]
    odd = [
        {
            "actor": "user:1",
            "action": "payment.recorded",
            "subject_type": Kind.CASE,
            "subject_id": "7",
            "at": dt.datetime(2025, 3, 1, 17, 0, 0, 250, tzinfo=dt.timezone(dt.timedelta(hours=8))),
            "before": {"balance_minor": 100, "amount": Decimal("12.50"), "pair": ("a", 1)},
            "details": None,
        },
        {**_event(3), "details": {"phone": "sha256:ab", "stage": Kind.CASE}},
    ]
    return cycle[:20] + odd + cycle[20:] + [_event(i) for i in range(5)]


def _stored(conn: Connection, first: int) -> list[tuple[Any, ...]]:
    rows = conn.execute(
        text(
            "SELECT seq, CAST(at AS TEXT), actor, action, subject_type, subject_id, "
            "entry, leaf_hash FROM audit_events WHERE seq >= :first ORDER BY seq"
        ),
        {"first": first},
    )
    return [tuple(bytes(v) if isinstance(v, bytes | memoryview) else v for v in row) for row in rows]


def test_batch_append_stores_the_bytes_of_the_one_by_one_path(engine: Engine) -> None:
    _append(engine, 0, 5)  # a log that already holds events
    with engine.connect() as conn:
        start = conn.execute(
            text("SELECT tree_size, compact_range, last_leaf_hash FROM audit_log_state")
        ).one()
    events = _mixed_events()
    with UnitOfWork(engine) as uow:
        assert record_events(uow.session, events) == range(5, 5 + len(events))
        uow.commit()
    with engine.connect() as conn:
        batch_rows = _stored(conn, 5)
        batch_state = conn.execute(
            text("SELECT tree_size, compact_range, last_leaf_hash FROM audit_log_state")
        ).one()
    assert _verify(engine).is_intact
    # The same events again from the same state, each through record_event.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq >= 5"))
        conn.execute(
            text(
                "UPDATE audit_log_state SET tree_size = :size, compact_range = :compact, last_leaf_hash = :last"
            ),
            {"size": start[0], "compact": start[1], "last": start[2]},
        )
    with UnitOfWork(engine) as uow:
        assert [record_event(uow.session, **event) for event in events] == list(range(5, 5 + len(events)))
        uow.commit()
    with engine.connect() as conn:
        assert _stored(conn, 5) == batch_rows
        one_state = conn.execute(
            text("SELECT tree_size, compact_range, last_leaf_hash FROM audit_log_state")
        ).one()
    assert tuple(map(bytes, batch_state[1:])) == tuple(map(bytes, one_state[1:]))
    assert batch_state[0] == one_state[0] == 5 + len(events)
    assert len(batch_rows) == len(events)
    assert (
        decode_entry(batch_rows[0][6])
        .body.decode("utf-8")
        .startswith('{"action":"case.open","actor":"cycle","after":{"creditor":"银行"')
    )
    assert _verify(engine).is_intact
