"""The committed docs equal the generated ones; the batch form agrees with the single check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from arrears.compliance import check, check_batch
from arrears.compliance.docs import render


def test_committed_docs_match_packs():
    root = Path(__file__).resolve().parents[3]
    assert (root / "docs" / "compliance.md").read_text(encoding="utf-8") == render()


def test_every_rule_has_provenance_and_both_statements():
    from arrears.domain.compliance import load_packs

    for pack in load_packs().packs.values():
        for rule in pack.rules:
            assert rule.citation and rule.statement and rule.statement_zh, rule.id
            assert rule.source_tier.value in {"A", "B", "C"}


def test_batch_matches_single_checks(req, ev):
    now = dt.datetime(2026, 6, 7, 20, 0, tzinfo=dt.UTC)
    cases = []
    history_rows = []
    proposed_rows = []
    for i in range(6):
        body = req(now="2026-06-07T20:00:00Z")
        body["debtor"]["id"] = f"d{i}"
        cases.append({"debtor": body["debtor"], "debts": body["debts"]})
        for d in range(1, 2 + i):
            history_rows.append({"debtor_id": f"d{i}", "at": dt.datetime(2026, 6, d, 17, tzinfo=dt.UTC), "channel": "call",
                                 "direction": "outbound", "person": None, "contact_point": "m1", "debts": ["A"],
                                 "outcome": "conversation" if i == 5 else "no_answer"})  # fmt: skip
        proposed_rows.append({"debtor_id": f"d{i}", "channel": "call", "contact_point": "m1", "debts": ["A"]})
    history = pl.DataFrame(history_rows, schema_overrides={"at": pl.Datetime("us", "UTC")})
    out = check_batch(
        now=now,
        actor="third_party_collector",
        cases=cases,
        history=history,
        proposed=pl.DataFrame(proposed_rows),
    )
    assert out["outcome"].to_list() == ["allow"] * 5 + ["delay"]
    for i, row in enumerate(out.iter_rows(named=True)):
        body = req(now="2026-06-07T20:00:00Z")
        body["debtor"]["id"] = f"d{i}"
        body["history"] = [
            {
                k: (v.isoformat() if isinstance(v, dt.datetime) else v)
                for k, v in h.items()
                if k != "debtor_id"
            }
            for h in history_rows
            if h["debtor_id"] == f"d{i}"
        ]
        single = check(body)
        assert row["outcome"] == single.outcome.value
        assert row["next_allowed_at"] == single.next_allowed_at
        assert row["rules"] == list(single.rule_ids)
