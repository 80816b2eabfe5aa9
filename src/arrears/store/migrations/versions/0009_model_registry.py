"""model registry: scoring models, promoted slots, registry events

Revision ID: 0009
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "scoring_models",
        sa.Column("model_id", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("training_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_scoring_models")),
    )
    with op.batch_alter_table("scoring_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scoring_models_purpose"), ["purpose"], unique=False)

    op.create_table(
        "scoring_slots",
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=16), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["scoring_models.model_id"], name=op.f("fk_scoring_slots_model_id_scoring_models")
        ),
        sa.PrimaryKeyConstraint("purpose", name=op.f("pk_scoring_slots")),
    )
    op.create_table(
        "scoring_registry_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=16), nullable=False),
        sa.Column("previous_model_id", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["scoring_models.model_id"],
            name=op.f("fk_scoring_registry_events_model_id_scoring_models"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_registry_events")),
    )
    with op.batch_alter_table("scoring_registry_events", schema=None) as batch_op:
        batch_op.create_index("ix_scoring_registry_events_purpose_at", ["purpose", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scoring_registry_events", schema=None) as batch_op:
        batch_op.drop_index("ix_scoring_registry_events_purpose_at")
    op.drop_table("scoring_registry_events")
    op.drop_table("scoring_slots")
    with op.batch_alter_table("scoring_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scoring_models_purpose"))
    op.drop_table("scoring_models")
