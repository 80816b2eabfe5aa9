"""audit chain: leaf index, entry bytes and leaf hash on audit events; log state; signed tree heads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 09:00:00.000000

Events written before this revision are given their leaf entries here, in the order of their ids, so
that the log verifies from its first event. The encoding is written out in this file (migrations
never import the application): it is the v1 leaf of ``arrears.audit.entry`` over the canonical JSON
of ``arrears.audit.canonical``, and the integration tests check the two agree.
"""

from __future__ import annotations

import hashlib
import json
import struct
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ZERO = bytes(32)


def _timestamp(value: Any) -> str:
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _backfill(bind: sa.Connection) -> tuple[int, bytes, bytes]:
    """Give existing events their entries; returns (size, compact range, last leaf hash)."""
    events = sa.table(
        "audit_events",
        sa.column("id"), sa.column("seq"), sa.column("at"), sa.column("actor"), sa.column("action"),
        sa.column("subject_type"), sa.column("subject_id"), sa.column("payload"),
        sa.column("entry"), sa.column("leaf_hash"),
    )  # fmt: skip
    rows = bind.execute(
        sa.text(
            "SELECT id, at, actor, action, subject_type, subject_id, payload FROM audit_events ORDER BY id"
        )
    ).all()
    stack: list[tuple[int, bytes]] = []  # (height, subtree root): the compact range
    previous = _ZERO
    updates = []
    for seq, (row_id, at, actor, action, subject_type, subject_id, payload) in enumerate(rows):
        if isinstance(payload, str):
            payload = json.loads(payload)
        payload = payload or {}
        body = json.dumps(
            {
                "action": action,
                "actor": actor,
                "after": payload.get("after"),
                "at": _timestamp(at),
                "before": payload.get("before"),
                "details": payload.get("details") or {},
                "subject": f"{subject_type}:{subject_id}",
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        entry = struct.pack(">BQ", 1, seq) + previous + body
        leaf = hashlib.sha256(b"\x00" + entry).digest()
        height, current = 0, leaf
        while stack and stack[-1][0] == height:
            current = _node(stack.pop()[1], current)
            height += 1
        stack.append((height, current))
        previous = leaf
        updates.append({"k_id": row_id, "v_seq": seq, "v_entry": entry, "v_leaf": leaf})
    if updates:
        bind.execute(
            events.update()
            .where(events.c.id == sa.bindparam("k_id"))
            .values(
                seq=sa.bindparam("v_seq"), entry=sa.bindparam("v_entry"), leaf_hash=sa.bindparam("v_leaf")
            ),
            updates,
        )
    return len(rows), b"".join(root for _, root in stack), previous


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("entry", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("leaf_hash", sa.LargeBinary(), nullable=True))

    size, compact_range, last_leaf = _backfill(op.get_bind())

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("entry", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("leaf_hash", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])
        batch_op.create_index("ix_audit_events_subject", ["subject_type", "subject_id"], unique=False)
        batch_op.create_index("ix_audit_events_actor", ["actor"], unique=False)

    state = op.create_table(
        "audit_log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("compact_range", sa.LargeBinary(), nullable=False),
        sa.Column("last_leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log_state")),
    )
    op.bulk_insert(
        state,
        [
            {
                "id": 1,
                "tree_size": size,
                "compact_range": compact_range,
                "last_leaf_hash": last_leaf,
                "version": 1,
            }
        ],
    )
    op.create_table(
        "audit_tree_heads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_tree_heads")),
    )
    op.create_index("ix_audit_tree_heads_tree_size", "audit_tree_heads", ["tree_size"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_tree_heads_tree_size", table_name="audit_tree_heads")
    op.drop_table("audit_tree_heads")
    op.drop_table("audit_log_state")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_actor")
        batch_op.drop_index("ix_audit_events_subject")
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_column("leaf_hash")
        batch_op.drop_column("entry")
        batch_op.drop_column("seq")
