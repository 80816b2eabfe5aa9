"""cycle output tables: account and debtor references checked by the cycle, not per row by the database

Revision ID: 0011
Revises: 0007, 0008

The daily cycle writes its output in bulk, every day, for every account it works: actions, outbox
messages, work items, segment entries and experiment assignments. Each names its account (actions
also their debtor) by an id the cycle has just read in the same transaction, and accounts and
debtors are never deleted. A database-enforced key on those columns only repeated that check once
per row, which on PostgreSQL is a locking lookup of the account for every row written (about a tenth
of a first day). These keys are dropped; the keys to configuration (strategy versions, collectors),
from outbox messages to their actions, and every key of the master, case and ledger tables stay.
Downgrade puts them back. On SQLite a constraint cannot be dropped in place, so the five tables are
copied into new ones without it (Alembic's batch mode): the upgrade takes time in proportion to
the rows they hold.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = ("0007", "0008")
branch_labels = None
depends_on = None

# (table, column, referenced table): each dropped key is fk_<table>_<column>_<referenced table>
_KEYS = (
    ("cycle_actions", "account_id", "accounts"),
    ("cycle_actions", "debtor_id", "debtors"),
    ("outbox_messages", "account_id", "accounts"),
    ("work_items", "account_id", "accounts"),
    ("segment_entries", "account_id", "accounts"),
    ("experiment_assignments", "account_id", "accounts"),
)


def _by_table() -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, referenced in _KEYS:
        tables.setdefault(table, []).append((column, referenced))
    return tables


def upgrade() -> None:
    for table, keys in _by_table().items():
        with op.batch_alter_table(table) as batch:
            for column, referenced in keys:
                batch.drop_constraint(f"fk_{table}_{column}_{referenced}", type_="foreignkey")


def downgrade() -> None:
    for table, keys in _by_table().items():
        with op.batch_alter_table(table) as batch:
            for column, referenced in keys:
                batch.create_foreign_key(f"fk_{table}_{column}_{referenced}", referenced, [column], ["id"])
