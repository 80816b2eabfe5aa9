"""Tables of the audit log besides its events: the log's state and the signed tree heads.

The state is one row (``id = 1``) holding the tree size, the compact range (the roots of the perfect
subtrees that cover the tree, largest first, concatenated) and the last leaf hash, so an append costs
O(log n) and never reads earlier events. Every append locks this row first, which serialises writers.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.store.tables import Base, UtcDateTime

__all__ = ["STATE_ROW_ID", "AuditLogState", "AuditTreeHead"]

STATE_ROW_ID = 1


class AuditLogState(Base):
    """Where the audit log stands: its size, compact range and last leaf hash (one row)."""

    __tablename__ = "audit_log_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    compact_range: Mapped[bytes] = mapped_column(LargeBinary)
    last_leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer)


class AuditTreeHead(Base):
    """A signed tree head as issued (RFC 6962 §3.5); never changed afterwards."""

    __tablename__ = "audit_tree_heads"
    __table_args__ = (Index("ix_audit_tree_heads_tree_size", "tree_size"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    signed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[str] = mapped_column(String(64))
