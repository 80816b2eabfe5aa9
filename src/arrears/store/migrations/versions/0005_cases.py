"""cases: collection cases, contacts, confirmation, negotiation, legal matters and closures

Revision ID: 0005
Revises: 0001
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("debtor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("creditor", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("identity_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_right_party_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("broken_promises", sa.Integer(), nullable=False),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.Column("resolution_reason", sa.String(length=32), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up_until_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"], name=op.f("fk_cases_debtor_id_debtors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_debtor_id"), ["debtor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_stage"), ["stage"], unique=False)

    op.create_table(
        "case_accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("is_excluded", sa.Boolean(), nullable=False),
        sa.Column("excluded_reason", sa.Text(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_case_accounts_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_accounts_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_accounts")),
        sa.UniqueConstraint("case_id", "account_id", name="uq_case_accounts_case_account"),
    )
    with op.batch_alter_table("case_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_accounts_account_id"), ["account_id"], unique=False)

    op.create_table(
        "case_holds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("placed_by", sa.String(length=64), nullable=False),
        sa.Column("until_on", sa.Date(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_holds_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_holds")),
    )
    with op.batch_alter_table("case_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_holds_case_id"), ["case_id"], unique=False)

    op.create_table(
        "closure_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("waived_minor", sa.BigInteger(), nullable=False),
        sa.Column("remaining_minor", sa.BigInteger(), nullable=False),
        sa.Column("accounts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_closure_records_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closure_records")),
    )
    with op.batch_alter_table("closure_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_closure_records_case_id"), ["case_id"], unique=False)

    op.create_table(
        "concessions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("concession_minor", sa.BigInteger(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("settlement_minor", sa.BigInteger(), nullable=True),
        sa.Column("pay_by_on", sa.Date(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_role", sa.String(length=32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_role", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_concessions_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concessions")),
    )
    with op.batch_alter_table("concessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_concessions_case_id"), ["case_id"], unique=False)

    op.create_table(
        "debt_itemisations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("itemisation_on", sa.Date(), nullable=False),
        sa.Column("as_of_on", sa.Date(), nullable=False),
        sa.Column("itemisation_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("fees_minor", sa.BigInteger(), nullable=False),
        sa.Column("payments_minor", sa.BigInteger(), nullable=False),
        sa.Column("credits_minor", sa.BigInteger(), nullable=False),
        sa.Column("current_minor", sa.BigInteger(), nullable=False),
        sa.Column("notice_provided_on", sa.Date(), nullable=True),
        sa.Column("assumed_receipt_on", sa.Date(), nullable=True),
        sa.Column("validation_ends_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_debt_itemisations_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debt_itemisations")),
    )
    with op.batch_alter_table("debt_itemisations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debt_itemisations_case_id"), ["case_id"], unique=False)

    op.create_table(
        "identity_checks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("verified_by", sa.String(length=64), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_passed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_identity_checks_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_checks")),
    )
    with op.batch_alter_table("identity_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_checks_case_id"), ["case_id"], unique=False)

    op.create_table(
        "legal_matters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("step", sa.String(length=24), nullable=False),
        sa.Column("court", sa.String(length=128), nullable=True),
        sa.Column("reference_no", sa.String(length=64), nullable=True),
        sa.Column("deadline_on", sa.Date(), nullable=True),
        sa.Column("deadline_label", sa.String(length=128), nullable=True),
        sa.Column("is_asset_frozen", sa.Boolean(), nullable=False),
        sa.Column("costs_minor", sa.BigInteger(), nullable=False),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_legal_matters_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_matters")),
    )
    with op.batch_alter_table("legal_matters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_matters_case_id"), ["case_id"], unique=False)

    op.create_table(
        "plans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("instalments", sa.JSON(), nullable=False),
        sa.Column("max_sustainable_minor", sa.BigInteger(), nullable=True),
        sa.Column("is_above_affordability", sa.Boolean(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspended_until_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_plans_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plans_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_plans_status"), ["status"], unique=False)

    op.create_table(
        "promises",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("judged_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_promises_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises")),
    )
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_promises_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_promises_status"), ["status"], unique=False)

    op.create_table(
        "case_contacts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("debtor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("contact_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("endpoint", sa.Text(), nullable=True),
        sa.Column("recipient", sa.String(length=24), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("made_by", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("recording_ref", sa.String(length=256), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_contacts_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["contact_point_id"],
            ["contact_points.id"],
            name=op.f("fk_case_contacts_contact_point_id_contact_points"),
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtors.id"], name=op.f("fk_case_contacts_debtor_id_debtors")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_case_contacts_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_contacts")),
    )
    with op.batch_alter_table("case_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_contacts_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_case_contacts_debtor_at", ["debtor_id", "at"], unique=False)

    op.create_table(
        "disputes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_within_validation_period", sa.Boolean(), nullable=False),
        sa.Column("pauses_collection", sa.Boolean(), nullable=False),
        sa.Column("hold_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("verification_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_disputes_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_disputes_case_id_cases")),
        sa.ForeignKeyConstraint(["hold_id"], ["case_holds.id"], name=op.f("fk_disputes_hold_id_case_holds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disputes_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_case_id"))

    op.drop_table("disputes")
    with op.batch_alter_table("case_contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_case_contacts_debtor_at")
        batch_op.drop_index(batch_op.f("ix_case_contacts_case_id"))

    op.drop_table("case_contacts")
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promises_status"))
        batch_op.drop_index(batch_op.f("ix_promises_case_id"))

    op.drop_table("promises")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plans_status"))
        batch_op.drop_index(batch_op.f("ix_plans_case_id"))

    op.drop_table("plans")
    with op.batch_alter_table("legal_matters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_matters_case_id"))

    op.drop_table("legal_matters")
    with op.batch_alter_table("identity_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_checks_case_id"))

    op.drop_table("identity_checks")
    with op.batch_alter_table("debt_itemisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debt_itemisations_case_id"))

    op.drop_table("debt_itemisations")
    with op.batch_alter_table("concessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_concessions_case_id"))

    op.drop_table("concessions")
    with op.batch_alter_table("closure_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closure_records_case_id"))

    op.drop_table("closure_records")
    with op.batch_alter_table("case_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_holds_case_id"))

    op.drop_table("case_holds")
    with op.batch_alter_table("case_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_accounts_account_id"))

    op.drop_table("case_accounts")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_stage"))
        batch_op.drop_index(batch_op.f("ix_cases_debtor_id"))

    op.drop_table("cases")
