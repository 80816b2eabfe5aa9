"""audit events: the event's document stored once, inside its hashed entry

Revision ID: 0014
Revises: 0013, 0002

Every audit event held its canonical JSON document twice: inside ``entry`` (the bytes hashed as its
leaf, which are authoritative) and again in ``payload``, an unverified copy kept for queries. On a
million-account book's first day the cycle writes about 920,000 events, and the copy was some 260
bytes of each (about 40 % of the log's size). ``payload`` is dropped; the view
``audit_event_documents`` gives each event's document as JSON, decoded from its entry (the bytes after
the 41-byte head), for anyone who searched the copy. Downgrade puts the column back, filled from the
entries, and drops the view. On SQLite the table is copied into one without the column (Alembic's
batch mode): 6.2 s for a log of 917,208 events, whose table went from 595 to 354 MB (the file itself
shrinks only with ``VACUUM``). On PostgreSQL the column is dropped in place, at once, and its space
is reused as rows are vacuumed.
A later migration that rebuilds ``audit_events`` on SQLite must drop the view first and create it
again after.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = ("0013", "0002")  # after the audit chain's columns exist
branch_labels = None
depends_on = None

_HEAD = 41  # version byte, big-endian leaf index, previous leaf hash (arrears.audit.entry.HEADER_SIZE)


def _document_sql(dialect: str) -> str:
    """The SQL expression of an event's document decoded from its entry."""
    if dialect == "postgresql":
        return f"convert_from(substring(entry from {_HEAD + 1}), 'UTF8')::json"
    return f"CAST(substr(entry, {_HEAD + 1}) AS TEXT)"


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("payload")
    dialect = op.get_bind().dialect.name
    op.execute(
        "CREATE VIEW audit_event_documents AS SELECT id, seq, at, actor, action, subject_type, subject_id, "
        f"{_document_sql(dialect)} AS document FROM audit_events"
    )


def downgrade() -> None:
    op.execute("DROP VIEW audit_event_documents")
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
    op.execute(f"UPDATE audit_events SET payload = {_document_sql(op.get_bind().dialect.name)}")
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("payload", existing_type=sa.JSON(), nullable=False)
