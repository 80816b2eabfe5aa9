"""compliance decisions: one row per decision taken for a real action

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-28 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compliance_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("next_allowed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("packs", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_decisions")),
    )
    op.create_index(
        "ix_compliance_decisions_decided_at", "compliance_decisions", ["decided_at"], unique=False
    )
    op.create_index("ix_compliance_decisions_subject", "compliance_decisions", ["subject"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_compliance_decisions_subject", table_name="compliance_decisions")
    op.drop_index("ix_compliance_decisions_decided_at", table_name="compliance_decisions")
    op.drop_table("compliance_decisions")
