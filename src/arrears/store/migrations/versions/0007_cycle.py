"""daily cycle: step runs, accrual carries, daily positions

Revision ID: 0007
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cycle_step_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("partitions", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycle_step_runs")),
        sa.UniqueConstraint("as_of", "step", "partition", name="uq_cycle_step_runs_day_step_part"),
    )
    op.create_table(
        "accrual_carries",
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("last_accrued_on", sa.Date(), nullable=False),
        sa.Column("penalty_carry_units", sa.String(length=64), nullable=False),
        sa.Column("compound_carry_units", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_accrual_carries_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_accrual_carries")),
    )
    op.create_table(
        "daily_positions",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=8), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("penalty_minor", sa.BigInteger(), nullable=False),
        sa.Column("compound_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("overdue_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "account_id", name=op.f("pk_daily_positions")),
    )


def downgrade() -> None:
    op.drop_table("daily_positions")
    op.drop_table("accrual_carries")
    op.drop_table("cycle_step_runs")
