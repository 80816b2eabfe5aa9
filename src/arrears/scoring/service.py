"""Scoring use cases on the database: the model registry and the daily cycle's scorer.

Registry changes are one service function each (:func:`register_model`, :func:`promote_model`,
:func:`rollback_model`), keyword-only with a required ``actor``; each writes its registry event and its
audit event in the caller's transaction and never commits. :class:`DatabaseRegistry` offers the
:class:`~arrears.scoring.registry.FileRegistry` interface over them.

:func:`score_for_cycle` scores accounts with the model promoted for ``propensity_to_pay``, computing
the model's features from the platform's tables with :func:`~arrears.scoring.features.build_features`.

Convention, for both purposes: a model's *event* is the outcome collection wants to avoid (the
account does not pay; the account rolls to the next bucket). Reason codes therefore name what pushed
an account towards it, i.e. what pulled its score down, and the cycle's ``score`` is
``round(1000 × (1 − P(event)))``: higher pays more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import polars as pl
from sqlalchemy import BigInteger, Connection, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from arrears.audit.log import record_event
from arrears.cases.tables import CaseAccount, ContactRecord, Promise
from arrears.cycle.tables import DailyPosition
from arrears.domain.cases.enums import ContactOutcome
from arrears.errors import ConfigurationError, ConflictError, NotFoundError, ValidationError
from arrears.scoring.features import FEATURE_COLUMNS, INPUT_COLUMNS, build_features
from arrears.scoring.registry import ModelPurpose, RegistryAction, RegistryEvent, TrainedModel
from arrears.scoring.tables import RegisteredModel, RegistryEventRow, ScoringSlot
from arrears.store.tables import Account, LedgerEntry

__all__ = [
    "CYCLE_COLUMNS",
    "DatabaseRegistry",
    "current_model",
    "cycle_features",
    "get_model",
    "list_models",
    "promote_model",
    "register_model",
    "registry_events",
    "rollback_model",
    "score_for_cycle",
]

CYCLE_COLUMNS: Final = ("account_id", "score", "probability", "reason", "model_id")
_SUBJECT: Final = "scoring_model"
# Ids per query when loading history: bounded so SQLite's parameter limit is never reached.
_CHUNK: Final = 5_000


def _purpose(value: ModelPurpose | str) -> ModelPurpose:
    try:
        return ModelPurpose(value)
    except ValueError:
        raise ValidationError(
            f"unknown purpose {value!r}; use {', '.join(p.value for p in ModelPurpose)}", purpose=str(value)
        ) from None


def _require_aware(value: dt.datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{name} must be timezone-aware", field=name)


def _event(
    session: Session,
    *,
    action: RegistryAction,
    purpose: ModelPurpose,
    model_id: str,
    previous_model_id: str | None,
    actor: str,
    at: dt.datetime,
    details: dict[str, Any] | None = None,
) -> RegistryEvent:
    session.add(
        RegistryEventRow(
            action=action.value,
            purpose=purpose.value,
            model_id=model_id,
            previous_model_id=previous_model_id,
            actor=actor,
            at=at,
        )
    )
    # The audit entry names models and purposes only: a model holds no personal data.
    record_event(
        session,
        actor=actor,
        action=f"scoring.model_{action.value}",
        subject_type=_SUBJECT,
        subject_id=model_id,
        at=at,
        before={"model_id": previous_model_id} if action is not RegistryAction.REGISTERED else None,
        after={"model_id": model_id, "purpose": purpose.value},
        details=details,
    )
    session.flush()
    return RegistryEvent(action, purpose, model_id, previous_model_id, actor, at)


def register_model(session: Session, *, model: TrainedModel, actor: str, at: dt.datetime) -> str:
    """Store a trained model and audit it; its id. The same model twice is stored and audited once."""
    _require_aware(at, "at")
    model_id = model.model_id
    if session.get(RegisteredModel, model_id) is not None:
        return model_id
    session.add(
        RegisteredModel(
            model_id=model_id,
            purpose=model.purpose.value,
            kind=model.kind.value,
            training_fingerprint=model.training_fingerprint,
            features=list(model.features),
            params=model.params,
            metrics=model.metrics,
            created_at=model.created_at,
            registered_at=at,
            registered_by=actor,
            document=model.to_bytes().decode(),
        )
    )
    session.flush()
    _event(
        session,
        action=RegistryAction.REGISTERED,
        purpose=model.purpose,
        model_id=model_id,
        previous_model_id=None,
        actor=actor,
        at=at,
        details={
            "kind": model.kind.value,
            "training_fingerprint": model.training_fingerprint,
            "features": list(model.features),
        },
    )
    return model_id


def _row(session: Session, model_id: str) -> RegisteredModel:
    if not (model_id.isalnum() and len(model_id) <= 16):
        raise ValidationError(f"malformed model id {model_id!r}", model_id=model_id)
    row = session.get(RegisteredModel, model_id)
    if row is None:
        raise NotFoundError(f"no model {model_id} in the registry", model_id=model_id)
    return row


def get_model(session: Session, model_id: str) -> TrainedModel:
    """A registered model by id (:class:`NotFoundError` if there is none)."""
    return TrainedModel.from_bytes(_row(session, model_id).document.encode())


def list_models(session: Session, *, purpose: ModelPurpose | str | None = None) -> list[dict[str, Any]]:
    """Registered models (of one purpose if given), oldest first, with whether each is promoted.

    Returns the registry columns (no model payloads): ``model_id``, ``purpose``, ``kind``,
    ``created_at``, ``registered_at``, ``registered_by``, ``training_fingerprint``, ``features``,
    ``metrics``, ``is_promoted``.
    """
    query = select(RegisteredModel).order_by(RegisteredModel.created_at, RegisteredModel.model_id)
    if purpose is not None:
        query = query.where(RegisteredModel.purpose == _purpose(purpose).value)
    promoted = {s.model_id for s in session.scalars(select(ScoringSlot))}
    return [
        {
            "model_id": r.model_id,
            "purpose": r.purpose,
            "kind": r.kind,
            "created_at": r.created_at,
            "registered_at": r.registered_at,
            "registered_by": r.registered_by,
            "training_fingerprint": r.training_fingerprint,
            "features": list(r.features),
            "metrics": dict(r.metrics),
            "is_promoted": r.model_id in promoted,
        }
        for r in session.scalars(query)
    ]


def _flush_slot(session: Session, purpose: ModelPurpose) -> None:
    # Two operators promoting at once: the version column (or the slot's primary key, for the first
    # promotion) lets one win; the other is told to look again instead of seeing a database error.
    try:
        session.flush()
    except (StaleDataError, IntegrityError):
        raise ConflictError(
            f"the {purpose.value} model was changed by someone else meanwhile; check `arrears score "
            "models` and try again",
            purpose=purpose.value,
        ) from None


def promote_model(
    session: Session,
    *,
    model_id: str,
    actor: str,
    at: dt.datetime,
    purpose: ModelPurpose | str | None = None,
) -> RegistryEvent:
    """Make ``model_id`` the model that scores its purpose; audited.

    ``purpose``, when given, must be the one the model was trained for. Promoting the model already
    in force is a :class:`ConflictError`.
    """
    _require_aware(at, "at")
    row = _row(session, model_id)
    slot_purpose = _purpose(row.purpose)
    if purpose is not None and _purpose(purpose) is not slot_purpose:
        raise ValidationError(
            f"model {model_id} was trained for {slot_purpose.value}, not {_purpose(purpose).value}",
            model_id=model_id,
            purpose=_purpose(purpose).value,
        )
    slot = session.get(ScoringSlot, slot_purpose.value)
    previous = slot.model_id if slot is not None else None
    if previous == model_id:
        raise ConflictError(
            f"model {model_id} is already promoted for {slot_purpose.value}", model_id=model_id
        )
    if slot is None:
        session.add(
            ScoringSlot(purpose=slot_purpose.value, model_id=model_id, history=[model_id], updated_at=at)
        )
    else:
        slot.model_id = model_id
        slot.history = [*slot.history, model_id]
        slot.updated_at = at
    _flush_slot(session, slot_purpose)
    return _event(
        session,
        action=RegistryAction.PROMOTED,
        purpose=slot_purpose,
        model_id=model_id,
        previous_model_id=previous,
        actor=actor,
        at=at,
    )


def rollback_model(
    session: Session, *, purpose: ModelPurpose | str, actor: str, at: dt.datetime
) -> RegistryEvent:
    """Return ``purpose`` to the model promoted before the current one; audited.

    :class:`ConflictError` when there is no earlier model to return to.
    """
    _require_aware(at, "at")
    slot_purpose = _purpose(purpose)
    slot = session.get(ScoringSlot, slot_purpose.value)
    if slot is None or len(slot.history) < 2:
        raise ConflictError(
            f"no earlier model to roll back to for {slot_purpose.value}", purpose=slot_purpose.value
        )
    current, restored = slot.history[-1], slot.history[-2]
    slot.model_id = restored
    slot.history = list(slot.history[:-1])
    slot.updated_at = at
    _flush_slot(session, slot_purpose)
    return _event(
        session,
        action=RegistryAction.ROLLED_BACK,
        purpose=slot_purpose,
        model_id=restored,
        previous_model_id=current,
        actor=actor,
        at=at,
    )


def current_model(session: Session, purpose: ModelPurpose | str) -> TrainedModel | None:
    """The model promoted for ``purpose``, or ``None``."""
    slot = session.get(ScoringSlot, _purpose(purpose).value)
    return None if slot is None else get_model(session, slot.model_id)


def registry_events(session: Session) -> list[RegistryEvent]:
    """The registry's history, oldest first."""
    rows = session.scalars(select(RegistryEventRow).order_by(RegistryEventRow.id))
    return [
        RegistryEvent(
            RegistryAction(r.action), ModelPurpose(r.purpose), r.model_id, r.previous_model_id, r.actor, r.at
        )
        for r in rows
    ]


class DatabaseRegistry:
    """The :class:`~arrears.scoring.registry.FileRegistry` interface over the database, in the session's
    transaction (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def register(self, model: TrainedModel, *, actor: str, at: dt.datetime) -> str:
        """See :func:`register_model`."""
        return register_model(self.session, model=model, actor=actor, at=at)

    def get(self, model_id: str) -> TrainedModel:
        """See :func:`get_model`."""
        return get_model(self.session, model_id)

    def models(self, purpose: ModelPurpose | str | None = None) -> list[TrainedModel]:
        """Stored models (of one purpose if given), oldest first."""
        return [self.get(m["model_id"]) for m in list_models(self.session, purpose=purpose)]

    def promote(
        self, purpose: ModelPurpose | str, model_id: str, *, actor: str, at: dt.datetime
    ) -> RegistryEvent:
        """See :func:`promote_model`."""
        return promote_model(self.session, model_id=model_id, purpose=purpose, actor=actor, at=at)

    def rollback(self, purpose: ModelPurpose | str, *, actor: str, at: dt.datetime) -> RegistryEvent:
        """See :func:`rollback_model`."""
        return rollback_model(self.session, purpose=purpose, actor=actor, at=at)

    def current(self, purpose: ModelPurpose | str) -> TrainedModel | None:
        """See :func:`current_model`."""
        return current_model(self.session, purpose)

    def events(self) -> list[RegistryEvent]:
        """See :func:`registry_events`."""
        return registry_events(self.session)


# ---------------------------------------------------------------------------------------------------
# The daily cycle's scorer

# Platform contact outcomes in the vocabulary of arrears.scoring.features (RIGHT_PARTY_OUTCOMES);
# every other right-party outcome is a plain conversation.
_OUTCOME_WORDS: Final = {
    ContactOutcome.PROMISE_MADE.value: "promise",
    ContactOutcome.REFUSED_TO_PAY.value: "refused",
    ContactOutcome.DISPUTE_RAISED.value: "dispute",
}


def _frame(conn: Connection, query: Any, schema: dict[str, Any]) -> pl.DataFrame:
    rows = conn.execute(query).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i : i + _CHUNK]) for i in range(0, len(ids), _CHUNK)]


def _platform_frames(conn: Connection, account_ids: Sequence[int], as_of: dt.date) -> dict[str, pl.DataFrame]:
    """The five input frames of :func:`build_features` for ``account_ids``, read in bulk."""
    frames: dict[str, list[pl.DataFrame]] = {name: [] for name in INPUT_COLUMNS}
    amount = (
        LedgerEntry.principal_minor
        + LedgerEntry.interest_minor
        + LedgerEntry.penalty_minor
        + LedgerEntry.compound_minor
        + LedgerEntry.fee_minor
        + LedgerEntry.cost_minor
    )
    balance = (
        DailyPosition.principal_minor
        + DailyPosition.interest_minor
        + DailyPosition.penalty_minor
        + DailyPosition.compound_minor
        + DailyPosition.fee_minor
        + DailyPosition.cost_minor
    )
    earliest = as_of - dt.timedelta(days=400)  # every windowed feature looks back at most 360 days
    ids64 = {"account_id": pl.Int64}
    for chunk in _chunks(account_ids):
        accounts = _frame(
            conn,
            select(Account.id, Account.debtor_id, Account.product_code, Account.opened_on).where(
                Account.id.in_(chunk)
            ),
            {**ids64, "debtor_id": pl.Int64, "product": pl.String, "opened_on": pl.Date},
        )
        frames["accounts"].append(accounts)
        # one row per account, day and kind: the features need no finer grain, and daily accrual
        # postings collapse
        frames["entries"].append(
            _frame(
                conn,
                select(
                    LedgerEntry.account_id,
                    LedgerEntry.effective_on,
                    LedgerEntry.kind,
                    cast(func.sum(amount), BigInteger),
                )
                .where(LedgerEntry.account_id.in_(chunk), LedgerEntry.effective_on <= as_of)
                .group_by(LedgerEntry.account_id, LedgerEntry.effective_on, LedgerEntry.kind),
                {**ids64, "posted_on": pl.Date, "kind": pl.String, "amount_minor": pl.Int64},
            )
        )
        frames["snapshots"].append(
            _frame(
                conn,
                select(DailyPosition.account_id, DailyPosition.as_of, DailyPosition.dpd, balance).where(
                    DailyPosition.account_id.in_(chunk),
                    DailyPosition.as_of <= as_of,
                    DailyPosition.as_of > earliest,
                ),
                {**ids64, "snapshot_on": pl.Date, "dpd": pl.Int64, "balance_minor": pl.Int64},
            )
        )
        # promises are made in a case; they count for every account the case holds
        frames["promises"].append(
            _frame(
                conn,
                select(
                    CaseAccount.account_id,
                    Promise.made_on,
                    Promise.due_on,
                    Promise.amount_minor,
                    Promise.status,
                )
                .join(Promise, Promise.case_id == CaseAccount.case_id)
                .where(
                    CaseAccount.account_id.in_(chunk),
                    CaseAccount.is_excluded.is_(False),
                    Promise.made_on <= as_of,
                    Promise.made_on > earliest,
                ),
                {
                    **ids64,
                    "made_on": pl.Date,
                    "due_on": pl.Date,
                    "amount_minor": pl.Int64,
                    "status": pl.String,
                },
            )
        )
        # contacts are with a debtor; they count for each of the debtor's accounts
        debtors = accounts.get_column("debtor_id").unique().to_list()
        contacts = _frame(
            conn,
            select(
                ContactRecord.debtor_id,
                ContactRecord.at,
                ContactRecord.channel,
                ContactRecord.outcome,
                ContactRecord.recipient,
            ).where(
                ContactRecord.debtor_id.in_(debtors),
                ContactRecord.at < dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC),
                ContactRecord.at >= dt.datetime.combine(earliest, dt.time(), dt.UTC),
            ),
            {
                "debtor_id": pl.Int64,
                "attempted_at": pl.Datetime("us", "UTC"),
                "channel": pl.String,
                "outcome": pl.String,
                "recipient": pl.String,
            },
        )
        frames["contacts"].append(
            contacts.join(accounts.select("account_id", "debtor_id"), on="debtor_id").select(
                "account_id", "attempted_at", "channel", "outcome", "recipient"
            )
        )
    if not account_ids:
        return {n: pl.DataFrame(schema=dict(cols)) for n, cols in INPUT_COLUMNS.items()}
    merged = {name: pl.concat(parts) for name, parts in frames.items()}
    right_party = [o.value for o in ContactOutcome if o.is_right_party]
    merged["contacts"] = merged["contacts"].select(
        "account_id",
        "attempted_at",
        "channel",
        # a right-party contact is a conversation with the debtor in person, not with a third party
        pl.when(pl.col("outcome").is_in(right_party) & (pl.col("recipient") == "debtor"))
        .then(pl.col("outcome").replace_strict(_OUTCOME_WORDS, default="right_party"))
        .otherwise(pl.col("outcome"))
        .alias("outcome"),
    )
    merged["accounts"] = merged["accounts"].drop("debtor_id")
    # build_features keys accounts by text (ids from any source); the cycle's are integers
    return {name: f.with_columns(pl.col("account_id").cast(pl.String)) for name, f in merged.items()}


def _current_model(conn: Connection, purpose: ModelPurpose) -> tuple[str, TrainedModel] | None:
    row = conn.execute(
        select(RegisteredModel.model_id, RegisteredModel.document)
        .join(ScoringSlot, ScoringSlot.model_id == RegisteredModel.model_id)
        .where(ScoringSlot.purpose == purpose.value)
    ).first()
    if row is None:
        return None
    return row[0], TrainedModel.from_bytes(row[1].encode())


def cycle_features(conn: Connection, *, account_ids: Sequence[int], as_of: dt.date) -> pl.DataFrame:
    """The model features (:data:`~arrears.scoring.features.FEATURE_COLUMNS`) of ``account_ids`` as of
    ``as_of``, from the platform's tables; ``account_id`` stays text, as :func:`build_features` keys it.

    Contacts count for every account of the debtor contacted, and only a conversation with the
    debtor in person is a right-party contact; promises count for every account of their case.
    """
    frames = _platform_frames(conn, sorted(set(account_ids)), as_of)
    return build_features(
        frames["accounts"],
        frames["entries"],
        frames["contacts"],
        frames["promises"],
        frames["snapshots"],
        as_of=as_of,
    )


def score_for_cycle(
    conn: Connection, *, account_ids: list[int], as_of: dt.date, reasons: bool = True
) -> pl.DataFrame | None:
    """Score ``account_ids`` as of ``as_of`` with the model promoted for propensity to pay.

    ``None`` when no model is promoted for ``propensity_to_pay``. Otherwise one row per known account,
    ordered by ``account_id``, with the columns of :data:`CYCLE_COLUMNS`: ``score`` (integer 0–1000,
    higher pays more), ``probability`` (of paying, i.e. 1 − the model's event probability), ``reason``
    (the top reason code, null when no feature pulled the score down) and ``model_id``.

    A scorecard's reason costs nothing extra. A LightGBM model's reason needs its per-feature
    contributions (TreeSHAP), about ten times the prediction itself; with ``reasons=False`` the
    ``reason`` column is null and the book is scored at prediction speed, and the accounts a decision
    is taken on can be explained afterwards.

    Features are computed from accounts, ledger entries, daily positions, promises and the contact
    log with :func:`build_features`, all in whole columns. The promoted model must use only features
    of :data:`~arrears.scoring.features.FEATURE_COLUMNS` (:class:`ConfigurationError` otherwise).
    """
    found = _current_model(conn, ModelPurpose.PROPENSITY_TO_PAY)
    if found is None:
        return None
    model_id, model = found
    unknown = [f for f in model.features if f not in FEATURE_COLUMNS]
    if unknown:
        raise ConfigurationError(
            f"the promoted propensity_to_pay model {model_id} uses features the platform does not "
            f"compute: {', '.join(unknown)}",
            model_id=model_id,
            features=unknown,
        )
    features = cycle_features(conn, account_ids=account_ids, as_of=as_of)
    scored = model.score_frame(features, keep=["account_id"], top=1, reasons=reasons)
    reason = (
        scored.get_column("reason_1")
        if "reason_1" in scored.columns
        else pl.Series("reason", [None] * scored.height, dtype=pl.String)
    )
    paying = 1.0 - scored.get_column("probability").to_numpy()
    return pl.DataFrame(
        {
            "account_id": scored.get_column("account_id").cast(pl.Int64),
            "score": np.rint(1000.0 * paying).astype(np.int64),
            "probability": paying,
            "reason": reason,
            "model_id": pl.Series([model_id] * scored.height, dtype=pl.String),
        }
    ).sort("account_id")
