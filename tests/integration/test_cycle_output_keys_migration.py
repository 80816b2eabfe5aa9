"""Migration 0011 drops the per-row key checks of the cycle's output tables, and downgrade restores them."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from arrears.store.db import _alembic_config, current_revision, head_revision, make_engine, upgrade

DROPPED = {
    ("cycle_actions", "fk_cycle_actions_account_id_accounts"),
    ("cycle_actions", "fk_cycle_actions_debtor_id_debtors"),
    ("outbox_messages", "fk_outbox_messages_account_id_accounts"),
    ("work_items", "fk_work_items_account_id_accounts"),
    ("segment_entries", "fk_segment_entries_account_id_accounts"),
    ("experiment_assignments", "fk_experiment_assignments_account_id_accounts"),
}
KEPT = {
    ("outbox_messages", "fk_outbox_messages_action_id_cycle_actions"),
    ("work_items", "fk_work_items_collector_id_collectors"),
    ("ledger_entries", "fk_ledger_entries_account_id_accounts"),
    ("case_accounts", "fk_case_accounts_account_id_accounts"),
    ("cases", "fk_cases_debtor_id_debtors"),
    ("accrual_carries", "fk_accrual_carries_account_id_accounts"),
}
TABLES = sorted({t for t, _ in DROPPED | KEPT})


def _keys(engine: object) -> set[tuple[str, str]]:
    inspector = inspect(engine)
    return {(t, fk["name"]) for t in TABLES for fk in inspector.get_foreign_keys(t)}


def test_keys_dropped_on_upgrade_and_restored_on_downgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        keys = _keys(engine)
        assert not keys & DROPPED
        assert keys >= KEPT
        command.downgrade(_alembic_config(engine), "0008")
        restored = _keys(engine)
        assert restored >= DROPPED | KEPT
        # going down to 0008 undoes 0011 and leaves both revisions it follows, and the other branches
        revisions = set((current_revision(engine) or "").split(", "))
        assert "0011" not in revisions
        assert revisions >= {"0002", "0003", "0004", "0005", "0007", "0008", "0009", "0010"}
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert not _keys(engine) & DROPPED
    finally:
        engine.dispose()
