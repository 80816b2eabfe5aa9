"""access and privacy: users, roles, API keys, assignments, agreements, consents, holds, erasures

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-28 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _version() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("version", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", _ID, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=True),
        sa.Column("agency", sa.String(length=64), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        _when("locked_until", True),
        _when("last_login_at", True),
        _when("created_at"),
        _when("updated_at"),
        _version(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index(op.f("ix_users_agency"), "users", ["agency"], unique=False)
    op.create_table(
        "user_roles",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        _when("granted_at"),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_roles")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        _when("created_at"),
        _when("expires_at", True),
        _when("revoked_at", True),
        _when("last_used_at", True),
        _version(),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"], unique=False)
    op.create_table(
        "account_assignments",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("agency", sa.String(length=64), nullable=True),
        _when("assigned_at"),
        _when("ended_at", True),
        _version(),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_assignments_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_account_assignments_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_assignments")),
    )
    for column in ("account_id", "user_id", "agency"):
        op.create_index(
            op.f(f"ix_account_assignments_{column}"), "account_assignments", [column], unique=False
        )

    op.create_table(
        "data_agreements",
        sa.Column("id", _ID, nullable=False),
        sa.Column("counterparty", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        _when("revoked_at", True),
        _when("created_at"),
        _version(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_agreements")),
    )
    op.create_index(
        op.f("ix_data_agreements_counterparty"), "data_agreements", ["counterparty"], unique=False
    )
    op.create_table(
        "consents",
        sa.Column("id", _ID, nullable=False),
        sa.Column("debtor_id", _ID, nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("counterparty", sa.String(length=64), nullable=True),
        sa.Column("evidence", sa.String(length=128), nullable=False),
        _when("given_at"),
        _when("withdrawn_at", True),
        _version(),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"], name=op.f("fk_consents_debtor_id_debtors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_debtor_id"), "consents", ["debtor_id"], unique=False)
    op.create_table(
        "legal_holds",
        sa.Column("id", _ID, nullable=False),
        sa.Column("debtor_id", _ID, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _when("placed_at"),
        sa.Column("placed_by", sa.String(length=64), nullable=False),
        _when("released_at", True),
        _version(),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"], name=op.f("fk_legal_holds_debtor_id_debtors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index(op.f("ix_legal_holds_debtor_id"), "legal_holds", ["debtor_id"], unique=False)
    op.create_table(
        "erasures",
        sa.Column("id", _ID, nullable=False),
        sa.Column("debtor_id", _ID, nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _when("erased_at"),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"], name=op.f("fk_erasures_debtor_id_debtors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
        sa.UniqueConstraint("debtor_id", name=op.f("uq_erasures_debtor_id")),
    )
    op.create_table(
        "key_rotation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        _when("started_at"),
        _when("finished_at", True),
        sa.Column("cursors", sa.JSON(), nullable=False),
        sa.Column("rows_rotated", sa.Integer(), nullable=False),
        _version(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_rotation_runs")),
    )


def downgrade() -> None:
    for table in ("key_rotation_runs", "erasures", "legal_holds", "consents", "data_agreements",
                  "account_assignments", "api_keys", "user_roles", "users"):  # fmt: skip
        op.drop_table(table)
