"""segment entries and experiment assignments: the strategy version checked once per write, not per row

Revision ID: 0013
Revises: 0012

The plan step writes a segment entry for every account that moves and an experiment assignment for
every account put in an arm: on a book's first day, one of each per account in a segment or an
experiment. Every row of one write names the same strategy version, the one the step has just read
in its transaction, and versions are never deleted or edited. A database-enforced key looked that
one row up again for every row written; on PostgreSQL each lookup also locks it (a
million-account first day's segment entries took 7.0 s to load with the key, 3.1 s without). The keys are
dropped; ``record_day`` checks the version once before it writes (an unknown version, or one of
another strategy, is refused with nothing written). Downgrade puts the keys back. On SQLite a
constraint cannot be dropped in place, so the two tables are copied into new ones without it
(Alembic's batch mode).
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_TABLES = ("segment_entries", "experiment_assignments")


def _name(table: str) -> str:
    return f"fk_{table}_strategy_version_id_strategy_versions"


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_name(table), type_="foreignkey")


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(_name(table), "strategy_versions", ["strategy_version_id"], ["id"])
