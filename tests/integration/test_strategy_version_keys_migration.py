"""Migration 0013 drops the per-row strategy version key of segment entries and experiment
assignments (``record_day`` checks the version once), and downgrade restores it."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect

from arrears.store.db import _alembic_config, current_revision, head_revision, make_engine, upgrade

KEYS = {
    ("segment_entries", "fk_segment_entries_strategy_version_id_strategy_versions"),
    ("experiment_assignments", "fk_experiment_assignments_strategy_version_id_strategy_versions"),
}


def _keys(engine: Engine) -> set[tuple[str, str]]:
    inspector = inspect(engine)
    return {
        (t, fk["name"])
        for t in ("segment_entries", "experiment_assignments")
        for fk in inspector.get_foreign_keys(t)
    }


def test_version_keys_dropped_on_upgrade_and_restored_on_downgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        assert _keys(engine) == set()
        command.downgrade(_alembic_config(engine), "0012")
        assert _keys(engine) == KEYS
        revisions = set((current_revision(engine) or "").split(", "))
        assert "0012" in revisions and "0013" not in revisions
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert _keys(engine) == set()
    finally:
        engine.dispose()
