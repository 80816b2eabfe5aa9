"""The plan step's compliance inputs read over whole columns (both databases): the contact history,
and the cases as a table whose mappings are the engine's view of each debtor."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, select

from arrears.cases import confirmation, contacts, service
from arrears.cases.tables import Case
from arrears.compliance import check_batch
from arrears.cycle.plan_step import _case_accounts, _cases_input, _contact_points, _history
from arrears.store import tables
from arrears.store.db import UnitOfWork

from .test_cycle_case_facts import NOW, _setup

AT = dt.datetime(2026, 6, 21, 3, 0, tzinfo=dt.UTC)  # 11:00 in Shanghai


def _book(engine: Engine, tmp_path: Path) -> dict[str, int]:
    """Three debtors with open cases: D1 with a contact log, D2 with a cease hold, D3 a written dispute."""
    _setup(engine, tmp_path)
    with UnitOfWork(engine) as uow:
        session = uow.session
        case_of = {
            str(ext): int(cid)
            for ext, cid in session.execute(
                select(tables.Debtor.external_id, Case.id).join(Case, Case.debtor_id == tables.Debtor.id)
            )
        }
        log = [("voicemail", "message_left", "ai_voice"), ("call", "no_answer", "collector"),
               ("sms", "not_in_service", "collector"), ("call", "right_party_conversation", "collector")]  # fmt: skip
        for hours, (channel, outcome, made_by) in enumerate(log):
            contacts.log_contact(session, case_id=case_of["D1"], channel=channel, outcome=outcome,
                                 made_by=made_by, actor="alice", at=NOW + dt.timedelta(hours=hours + 1))  # fmt: skip
        service.place_hold(session, case_id=case_of["D2"], kind="cease_contact", actor="alice", at=NOW)
        confirmation.record_dispute(session, case_id=case_of["D3"], form="written", received_at=NOW,
                                    account_external_id="A3", actor="alice", at=NOW)  # fmt: skip
        uow.commit()
    with engine.connect() as conn:
        return {str(k): int(v) for k, v in conn.execute(select(tables.Debtor.external_id, tables.Debtor.id))}


def test_history_and_case_table_as_the_engine_reads_them(engine: Engine, tmp_path: Path) -> None:
    debtors = _book(engine, tmp_path)
    ids = sorted(debtors.values())
    with engine.connect() as conn:
        points = _contact_points(conn, ids)
        case_accounts = _case_accounts(conn, ids)
        d = tables.Debtor
        facts = pl.DataFrame(
            conn.execute(
                select(d.id, d.jurisdiction, d.timezone, d.address_country, d.address_region, d.address_city)
            ).all(),
            schema=[
                "debtor_id",
                "jurisdiction",
                "timezone",
                "address_country",
                "address_region",
                "address_city",
            ],
            orient="row",
        )
        table = _cases_input(conn, facts, points, case_accounts)
        debts_of = case_accounts.group_by("case_id").agg(pl.col("external_id").sort().alias("debts"))
        history = _history(conn, ids, NOW - dt.timedelta(days=35), debts_of)
    d1 = str(debtors["D1"])
    assert history.sort("at").drop("at").rows() == [
        (d1, "voicemail_message", "outbound", None, None, ["A1"], "voicemail_message", True),
        (d1, "call", "outbound", None, None, ["A1"], "no_answer", False),
        (d1, "sms", "outbound", None, None, ["A1"], "bounced", False),
        (d1, "call", "outbound", None, None, ["A1"], "conversation", False),
    ]
    by_id = {table[i]["debtor"]["id"]: table[i] for i in range(len(table))}
    assert set(by_id) == {str(i) for i in ids}
    d2, d3 = by_id[str(debtors["D2"])], by_id[str(debtors["D3"])]
    assert d2["debtor"]["flags"] == {"cease_requested_at": NOW.isoformat(), "cease_in_writing": True}
    assert d3["debts"] == [{"id": "A3", "dispute": {"received_at": NOW.isoformat(), "in_writing": True}}]
    assert by_id[d1]["debtor"]["flags"] == {} and by_id[d1]["debts"] == [{"id": "A1"}]
    assert sorted((p["kind"], p["place"], p["value"]) for p in by_id[d1]["debtor"]["contact_points"]) == [
        ("email", "other", "Zhang.Wei@Example.com"),
        ("phone", "mobile", "+8613800138000"),
    ]
    # The table and its mappings are judged alike (the flagged and disputed debtors by the engine).
    first_phone = points.filter(pl.col("kind") == "phone").group_by("debtor_id").agg(pl.col("id").min())
    proposed = pl.DataFrame(
        {
            "debtor_id": [str(d) for d in first_phone["debtor_id"]],
            "channel": ["call"] * first_phone.height,
            "contact_point": [str(p) for p in first_phone["id"]],
        }
    )
    by_table = check_batch(
        now=AT, actor="third_party_collector", cases=table, history=history, proposed=proposed
    )
    mappings = [table[i] for i in range(len(table))]
    by_mappings = check_batch(now=AT, actor="third_party_collector", cases=mappings, history=history,
                              proposed=proposed)  # fmt: skip
    assert by_table.equals(by_mappings)
    decided = {d: (o, r) for d, o, r in by_table.select("debtor_id", "outcome", "rules").iter_rows()}
    assert decided == {
        d1: ("allow", []),
        str(debtors["D2"]): ("allow", []),
        str(debtors["D3"]): ("review", ["CN.CC.69"]),
    }
