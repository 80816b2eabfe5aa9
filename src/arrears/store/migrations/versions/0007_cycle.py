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
        sa.Column("oldest_unpaid_due_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("as_of", "account_id", name=op.f("pk_daily_positions")),
    )
    op.create_table(
        "cycle_actions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("debtor_id", _ID, nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("strategy_id", sa.String(length=64), nullable=False),
        sa.Column("segment", sa.String(length=64), nullable=True),
        sa.Column("experiment", sa.String(length=64), nullable=True),
        sa.Column("variant", sa.String(length=64), nullable=True),
        sa.Column("path", sa.String(length=64), nullable=True),
        sa.Column("day", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=24), nullable=True),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("tone", sa.String(length=24), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("escalate_to", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("score_model", sa.String(length=64), nullable=True),
        sa.Column("balance_minor", sa.BigInteger(), nullable=True),
        sa.Column("contact_point_id", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rules", sa.String(length=1000), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_cycle_actions_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtors.id"], name=op.f("fk_cycle_actions_debtor_id_debtors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycle_actions")),
    )
    op.create_index(op.f("ix_cycle_actions_as_of"), "cycle_actions", ["as_of"], unique=False)
    op.create_table(
        "outbox_messages",
        sa.Column("id", _ID, nullable=False),
        sa.Column("action_id", _ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=24), nullable=False),
        sa.Column("contact_point_id", sa.BigInteger(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=96), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"], ["cycle_actions.id"], name=op.f("fk_outbox_messages_action_id_cycle_actions")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_outbox_messages_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("action_id", name=op.f("uq_outbox_messages_action_id")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_messages_idempotency_key")),
    )


def downgrade() -> None:
    op.drop_table("outbox_messages")
    op.drop_index(op.f("ix_cycle_actions_as_of"), table_name="cycle_actions")
    op.drop_table("cycle_actions")
    op.drop_table("daily_positions")
    op.drop_table("accrual_carries")
    op.drop_table("cycle_step_runs")
