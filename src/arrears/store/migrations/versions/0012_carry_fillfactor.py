"""accrual carries: room on every page for the day's new row versions (PostgreSQL)

Revision ID: 0012
Revises: 0011

The accrue step rewrites the carry row of every accruing account every day, in one ``UPDATE ...
FROM``. On PostgreSQL an update writes a new row version; when the page is full that version goes to
another page and the primary key gets a new entry for it. With pages filled only half way at insert
(``fillfactor`` 50), the new version stays on its page and no index is touched (a heap-only update);
the old versions are pruned from the page when it is next read. The table doubles in size (78 MB
for a million accounts, then 158 MB) and the step's update takes about 40 % less time. The setting
applies to pages written from now on (a ``VACUUM FULL`` rewrites the existing ones). SQLite has no
such setting and is left alone.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

FILLFACTOR = 50


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE accrual_carries SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE accrual_carries RESET (fillfactor)")
