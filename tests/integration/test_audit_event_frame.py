"""record_event_frame on SQLite and PostgreSQL: the same stored events, to the byte, as record_events.

The same events are appended once as dicts (``record_events``) into one database and once as a frame
into another; every stored column (time, names, entry, leaf hash) and the state row must be
equal, and the log verifies. Bad rows (an over-long name, personal data in the clear, a real) are
refused before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

import arrears.audit.tables  # noqa: F401  (registers the audit tables on the metadata)
from arrears.audit.log import read_log_state, record_event_frame, record_events
from arrears.audit.verify import verify_log
from arrears.errors import ValidationError
from arrears.store.db import UnitOfWork, make_engine, upgrade
from tests.conftest import _new_database

AT = dt.datetime(2026, 11, 21, 22, 30, 1, 250, tzinfo=dt.timezone(dt.timedelta(hours=8)))
TEXT = st.text(alphabet=st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=12)
NAME = st.text(alphabet=st.characters(blacklist_characters="\x00", codec="utf-8"), min_size=1, max_size=30)
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "actor": NAME,
            "action": NAME,
            "subject_type": st.text(
                alphabet=st.characters(blacklist_characters="\x00", codec="utf-8"), min_size=1, max_size=32
            ),
            "subject_id": NAME,
            "accounts": st.none() | st.lists(TEXT, max_size=4),
            "amount": st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
            "flag": st.booleans(),
            "note": st.none() | TEXT,
            "has_before": st.booleans(),
        }
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def engines(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Engine]]:
    """Two empty databases of one kind, at head."""
    made: list[Engine] = []
    cleanups: list[Iterator[str]] = []
    for n in range(2):
        urls = _new_database(request.param, tmp_path_factory.mktemp(f"frame{n}"))
        cleanups.append(urls)
        engine = make_engine(next(urls))
        upgrade(engine)
        made.append(engine)
    try:
        yield made
    finally:
        for engine in made:
            engine.dispose()
        for urls in cleanups:
            next(urls, None)


def _as_dicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events = []
    for row in rows:
        events.append(
            {
                "actor": row["actor"],
                "action": row["action"],
                "subject_type": row["subject_type"],
                "subject_id": row["subject_id"],
                "at": AT,
                # Fields out of order on purpose: the canonical form sorts them.
                "after": {"stage": "new", "owner": None, "amounts": {"z": row["amount"], "a": 1}},
                "before": {"stage": "old", "flag": row["flag"]} if row["has_before"] else None,
                "details": {"bulk": True, "note": row["note"], "accounts": row["accounts"]},
            }
        )
    return events


def _as_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows,
        schema={
            "actor": pl.String,
            "action": pl.String,
            "subject_type": pl.String,
            "subject_id": pl.String,
            "accounts": pl.List(pl.String),
            "amount": pl.Int64,
            "flag": pl.Boolean,
            "note": pl.String,
            "has_before": pl.Boolean,
        },
    )
    return frame.select(
        "actor",
        "action",
        "subject_type",
        "subject_id",
        pl.struct(
            pl.lit("new").alias("stage"),
            pl.lit(None).alias("owner"),
            pl.struct(pl.col("amount").alias("z"), pl.lit(1).alias("a")).alias("amounts"),
        ).alias("after"),
        pl.when("has_before").then(pl.struct(pl.lit("old").alias("stage"), pl.col("flag"))).alias("before"),
        pl.struct(pl.lit(True).alias("bulk"), "note", "accounts").alias("details"),
    )


def _stored(engine: Engine) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT seq, at, actor, action, subject_type, subject_id, entry, leaf_hash "
                "FROM audit_events ORDER BY seq"
            )
        ).all()
        state = read_log_state(conn)
        assert verify_log(conn).is_intact
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows], (
        state.tree_size,
        state.compact_range,
        state.last_leaf_hash,
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=ROWS, second=ROWS)
def test_a_frame_stores_what_record_events_stores(
    engines: list[Engine], first: list[dict[str, Any]], second: list[dict[str, Any]]
) -> None:
    by_dicts, by_frame = engines
    for rows in (first, second):  # two appends: the second continues the chain
        with UnitOfWork(by_dicts) as uow:
            expected = record_events(uow.session, _as_dicts(rows))
            uow.commit()
        with UnitOfWork(by_frame) as uow:
            got = record_event_frame(uow.session, _as_frame(rows), at=AT)
            uow.commit()
        assert got == expected
    assert _stored(by_frame) == _stored(by_dicts)


def _frame(**overrides: Any) -> pl.DataFrame:
    base: dict[str, Any] = {
        "actor": ["cycle"] * 2,
        "action": ["case.open"] * 2,
        "subject_type": ["case"] * 2,
        "subject_id": ["1", "2"],
    }
    base.update(overrides)
    return pl.DataFrame(base)


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        (_frame(actor=["cycle", "x" * 65]), "actor"),
        (_frame(subject_id=["1", ""]), "subject_id"),
        (_frame(subject_id=["1", None]), "subject_id"),
        (_frame().drop("action"), "action"),
        (_frame(details=[{"phone": None}, {"phone": "13800000000"}]), "details.phone"),
        (_frame(details=[{"phone": None}, {"phone": 13800000000}]), "details.phone"),
        (_frame(after=[{"ratio": 0.5}, {"ratio": 1.5}]), "after.ratio"),
        (_frame(after=[{"on": dt.date(2026, 1, 1)}, None]), "after.on"),
        (_frame(colour=["red", "blue"]), "event"),
    ],
)
def test_a_bad_frame_is_refused_and_writes_nothing(
    database_url: str, frame: pl.DataFrame, field: str
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        with UnitOfWork(engine) as uow, pytest.raises(ValidationError) as caught:
            record_event_frame(uow.session, frame, at=AT)
        assert caught.value.fields.get("field") == field
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 0
            assert read_log_state(conn).tree_size == 0
    finally:
        engine.dispose()


def test_commitments_of_personal_fields_are_accepted(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        with UnitOfWork(engine) as uow:
            appended = record_event_frame(
                uow.session, _frame(details=[{"phone": None}, {"phone": "sha256:abc"}]), at=AT
            )
            uow.commit()
        assert appended == range(0, 2)
        with engine.connect() as conn:
            entries = conn.execute(text("SELECT entry FROM audit_events ORDER BY seq")).scalars().all()
        # The hashed entry ends with the event's canonical body.
        assert bytes(entries[1]).endswith(
            b'{"action":"case.open","actor":"cycle","after":null,"at":"2026-11-21T14:30:01.000250Z",'
            b'"before":null,"details":{"phone":"sha256:abc"},"subject":"case:2"}'
        )
    finally:
        engine.dispose()
