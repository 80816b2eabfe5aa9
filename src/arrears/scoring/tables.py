"""Tables of the model registry. Created by migration 0009.

``scoring_models`` holds every registered model, write-once, as the canonical JSON document of
:meth:`arrears.scoring.registry.TrainedModel.to_bytes` (never a pickle) with the fields an audit asks
about repeated as columns. ``scoring_slots`` holds one row per purpose: the promoted model and the
promotion stack that a rollback pops. ``scoring_registry_events`` is the registry's own history
(registrations, promotions, rollbacks); each row is also written to the audit log in the same
transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.store.tables import Base, UtcDateTime

__all__ = ["RegisteredModel", "RegistryEventRow", "ScoringSlot", "scoring_tables"]

_ID = BigInteger().with_variant(Integer, "sqlite")


def scoring_tables() -> tuple[str, ...]:
    """The names of the registry's tables."""
    return ("scoring_models", "scoring_registry_events", "scoring_slots")


class RegisteredModel(Base):
    """One trained model. ``document`` is authoritative; the other columns are for search and audit."""

    __tablename__ = "scoring_models"
    model_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    training_fingerprint: Mapped[str] = mapped_column(String(64))
    features: Mapped[list[str]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    registered_by: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)


class ScoringSlot(Base):
    """The model promoted for a purpose, and the promotion stack (oldest first, current last)."""

    __tablename__ = "scoring_slots"
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("scoring_models.model_id"))
    history: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class RegistryEventRow(Base):
    """One registration, promotion or rollback (append-only)."""

    __tablename__ = "scoring_registry_events"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[str] = mapped_column(ForeignKey("scoring_models.model_id"))
    previous_model_id: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    __table_args__ = (Index("ix_scoring_registry_events_purpose_at", "purpose", "at"),)
