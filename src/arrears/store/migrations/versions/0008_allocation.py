"""allocation: work item task fields and idempotency key, collector scores, agency recall rule

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Batch mode: SQLite cannot add a unique constraint to an existing table in place.
    with op.batch_alter_table("work_items") as batch:
        batch.add_column(sa.Column("action_id", sa.String(length=64), server_default="", nullable=False))
        batch.add_column(sa.Column("case_id", _ID, nullable=True))
        batch.add_column(sa.Column("balance_minor", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(
            sa.Column("pay_probability", sa.String(length=40), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("bucket", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("product", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("rank", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("reassignments", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch.create_unique_constraint(
            "uq_work_items_day_account_action", ["queued_on", "account_id", "action_id"]
        )
        batch.create_index("ix_work_items_account_status", ["account_id", "status"], unique=False)
    with op.batch_alter_table("collectors") as batch:
        batch.add_column(sa.Column("score", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("recall_idle_days", sa.Integer(), nullable=True))
    op.create_index("ix_placements_agency_placed", "placements", ["agency_id", "placed_on"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_placements_agency_placed", table_name="placements")
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("recall_idle_days")
    with op.batch_alter_table("collectors") as batch:
        batch.drop_column("score")
    with op.batch_alter_table("work_items") as batch:
        batch.drop_index("ix_work_items_account_status")
        batch.drop_constraint("uq_work_items_day_account_action", type_="unique")
        for column in (
            "outcome", "completed_at", "reassignments", "rank", "product", "bucket", "language",
            "pay_probability", "balance_minor", "case_id", "action_id",
        ):  # fmt: skip
            batch.drop_column(column)
