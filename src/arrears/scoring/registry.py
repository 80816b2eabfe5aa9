"""Trained models as plain data, and a file-system model registry.

A :class:`TrainedModel` is JSON: the scorecard's bin and points tables, or LightGBM's own text model
plus the category coding. Loading one never executes stored code (no pickle), so a model file from
elsewhere can at worst be refused as malformed.

:class:`FileRegistry` keeps one promoted model per purpose with a promotion history, and appends an
audit event for every registration, promotion and rollback. A database-backed registry offers the
same methods (``register``, ``get``, ``models``, ``promote``, ``rollback``, ``current``,
``events``). It assumes one writer at a time (the daily cycle or an operator's command).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.errors import ConfigurationError, ConflictError, NotFoundError, ValidationError
from arrears.scoring.cv import ModelKind, cross_validate
from arrears.scoring.data import prepare_target
from arrears.scoring.features import DEFAULT_DENY_LIST, check_allowed
from arrears.scoring.gbm import GBMConfig, GBMModel, fit_gbm
from arrears.scoring.monitoring import PSI_WARNING, StabilityBins, StabilityResult
from arrears.scoring.scorecard import Scorecard, ScorecardConfig, fit_scorecard

__all__ = [
    "FileRegistry",
    "ModelPurpose",
    "RegistryAction",
    "RegistryEvent",
    "TrainedModel",
    "fingerprint_frame",
    "train_model",
]

FORMAT: Final = "arrears.model/1"


class ModelPurpose(StrEnum):
    """What a model predicts, i.e. which slot of the registry it can be promoted into."""

    PROPENSITY_TO_PAY = "propensity_to_pay"
    ROLL_FORWARD = "roll_forward"


class RegistryAction(StrEnum):
    """Audited registry actions."""

    REGISTERED = "registered"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"


def _purpose(value: ModelPurpose | str) -> ModelPurpose:
    try:
        return ModelPurpose(value)
    except ValueError:
        raise ValidationError(
            f"unknown purpose {value!r}; use {', '.join(p.value for p in ModelPurpose)}", purpose=str(value)
        ) from None


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{name} must be timezone-aware", field=name)


def fingerprint_frame(frame: pl.DataFrame) -> str:
    """SHA-256 of the training data: column names, types and values, in row order.

    Computed over Arrow IPC bytes, so it is stable for a given Polars version; it identifies the
    exact data a model saw, which is what an audit needs.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([[n, str(t)] for n, t in frame.schema.items()]).encode())
    buffer = frame.write_ipc(None, compression="uncompressed")
    digest.update(buffer.getvalue())
    return digest.hexdigest()


@dataclass(frozen=True)
class TrainedModel:
    """A trained model with everything an audit asks about it.

    ``params`` are the fit settings, ``metrics`` the cross-validated figures, ``training_fingerprint``
    the :func:`fingerprint_frame` of the training data and ``created_at`` an aware timestamp given
    by the caller. ``payload`` is the model itself as JSON-ready tables. ``reference`` holds the
    training data's distribution (:class:`StabilityBins` per feature, and of the predicted
    probability) against which :meth:`stability` measures drift; a model without one cannot be
    monitored but still scores.
    """

    purpose: ModelPurpose
    kind: ModelKind
    features: tuple[str, ...]
    params: dict[str, Any]
    metrics: dict[str, float]
    training_fingerprint: str
    created_at: datetime
    payload: dict[str, Any]
    reference: dict[str, Any] = field(default_factory=dict)
    _model: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _require_aware(self.created_at, "created_at")

    def _document(self) -> dict[str, Any]:
        # "reference" enters the document only when present, so ids of models stored without it hold
        return ({"reference": self.reference} if self.reference else {}) | {
            "format": FORMAT,
            "purpose": self.purpose.value,
            "kind": self.kind.value,
            "features": list(self.features),
            "params": self.params,
            "metrics": self.metrics,
            "training_fingerprint": self.training_fingerprint,
            "created_at": self.created_at.isoformat(),
            "payload": self.payload,
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys), UTF-8."""
        return json.dumps(self._document(), sort_keys=True, separators=(",", ":"), allow_nan=False).encode()

    @property
    def model_id(self) -> str:
        """Content address: the first 16 hex digits of the SHA-256 of :meth:`to_bytes`."""
        return hashlib.sha256(self.to_bytes()).hexdigest()[:16]

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedModel:
        """Parse :meth:`to_bytes` output; refuse anything else with :class:`ConfigurationError`."""
        try:
            doc = json.loads(data.decode())
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ConfigurationError(f"not an arrears model (expected format {FORMAT})")
            model = cls(
                purpose=ModelPurpose(doc["purpose"]),
                kind=ModelKind(doc["kind"]),
                features=tuple(str(f) for f in doc["features"]),
                params=dict(doc["params"]),
                metrics={str(k): float(v) for k, v in doc["metrics"].items()},
                training_fingerprint=str(doc["training_fingerprint"]),
                created_at=datetime.fromisoformat(doc["created_at"]),
                payload=dict(doc["payload"]),
                reference=dict(doc.get("reference") or {}),
            )
        except ConfigurationError:
            raise
        except (
            UnicodeDecodeError,
            json.JSONDecodeError,
            KeyError,
            TypeError,
            ValueError,
            ValidationError,
        ) as exc:
            raise ConfigurationError("stored model is malformed", detail=str(exc)) from None
        model.model()  # validates the payload too
        return model

    def model(self) -> Scorecard | GBMModel:
        """The fitted model object (built once from the payload)."""
        if self._model is None:
            built: Scorecard | GBMModel = (
                Scorecard.from_dict(self.payload)
                if self.kind is ModelKind.SCORECARD
                else GBMModel.from_dict(self.payload)
            )
            object.__setattr__(self, "_model", built)
        return self._model  # type: ignore[no-any-return]

    def probability(self, frame: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Calibrated probability of the event for each row."""
        return np.asarray(self.model().predict_proba(frame), dtype=np.float64)

    def stability(
        self, frame: pl.DataFrame, *, threshold: float = PSI_WARNING
    ) -> list[tuple[str, StabilityResult]]:
        """PSI of ``frame`` against the training data, per feature and for the score.

        Returns ``(kind, result)`` pairs, ``kind`` being ``"feature"`` or ``"score"``, largest PSI first.
        The score's PSI is taken on the predicted probability: bins are quantiles of the reference, so
        any monotone scale of the score (points, 0–1000) falls into the same bins and gives the same PSI.
        """
        if not self.reference:
            raise ValidationError(
                "this model was stored without its training distribution, so PSI cannot be computed",
                model_id=self.model_id,
            )
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise ValidationError(f"columns missing for PSI: {', '.join(missing)}", missing=missing)
        if frame.height == 0:
            raise ValidationError("PSI needs at least one row")
        out: list[tuple[str, StabilityResult]] = []
        for name, bins in self.reference["features"].items():
            value = StabilityBins.from_dict(bins).psi(frame.get_column(name))
            out.append(("feature", StabilityResult(name, value, value > threshold)))
        score_bins = StabilityBins.from_dict(self.reference["score"])
        value = score_bins.psi(pl.Series("score", self.probability(frame)))
        out.append(("score", StabilityResult("score", value, value > threshold)))
        return sorted(out, key=lambda item: item[1].psi, reverse=True)

    def score_frame(
        self, frame: pl.DataFrame, *, keep: Sequence[str] = (), top: int = 4, reasons: bool = True
    ) -> pl.DataFrame:
        """Batch scoring (see the model's own ``score_frame``); a scorecard always gives its reasons,
        which cost it next to nothing."""
        model = self.model()
        if isinstance(model, GBMModel):
            return model.score_frame(frame, keep=keep, top=top, reasons=reasons)
        return model.score_frame(frame, keep=keep, top=top)


def train_model(
    frame: pl.DataFrame,
    *,
    target: str,
    purpose: ModelPurpose | str,
    kind: ModelKind | str,
    created_at: datetime,
    positive: str | None = None,
    features: Sequence[str] | None = None,
    deny: Sequence[str] = DEFAULT_DENY_LIST,
    scorecard_config: ScorecardConfig | None = None,
    gbm_config: GBMConfig | None = None,
    cv_folds: int = 5,
    cv_repeats: int = 1,
    seed: int = 42,
) -> TrainedModel:
    """Train a model for a registry purpose on platform data, refusing protected attributes.

    The metrics are cross-validated (``cv_folds`` × ``cv_repeats``) before the final fit on every row.
    """
    _require_aware(created_at, "created_at")
    try:
        model_purpose = ModelPurpose(purpose)
        model_kind = ModelKind(kind)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    names = list(features) if features is not None else [c for c in frame.columns if c != target]
    if target in names:
        raise ValidationError("the target cannot be a feature", target=target)
    check_allowed(names, deny=deny)
    y = prepare_target(frame, target, positive)
    data = frame.select(names)
    result = cross_validate(
        frame.select([*names, target]),
        target=target,
        positive=positive,
        models=model_kind.value,
        folds=cv_folds,
        repeats=cv_repeats,
        seed=seed,
        scorecard_config=scorecard_config,
        gbm_config=gbm_config,
    )
    metrics = {
        **result.models[model_kind.value].summary(),
        "rows": float(frame.height),
        "event_rate": float(y.mean()),
    }
    fitted: Scorecard | GBMModel
    if model_kind is ModelKind.SCORECARD:
        fitted = fit_scorecard(data, y, config=scorecard_config)
        params = fitted.to_dict()["config"]
    else:
        fitted = fit_gbm(data, y, config=gbm_config)
        params = fitted.to_dict()["config"]
    reference = {
        "features": {f: StabilityBins.fit(data.get_column(f)).to_dict() for f in fitted.features},
        "score": StabilityBins.fit(pl.Series("score", fitted.predict_proba(data))).to_dict(),
    }
    return TrainedModel(
        purpose=model_purpose,
        kind=model_kind,
        features=tuple(fitted.features),
        params={**params, "target": target, "positive": positive, "seed": seed},
        metrics=metrics,
        training_fingerprint=fingerprint_frame(frame.select([*names, target])),
        created_at=created_at,
        payload=fitted.to_dict(),
        reference=reference,
    )


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """One audited registry action."""

    action: RegistryAction
    purpose: ModelPurpose | None
    model_id: str
    previous_model_id: str | None
    actor: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "action": self.action.value,
            "purpose": self.purpose.value if self.purpose else None,
            "model_id": self.model_id,
            "previous_model_id": self.previous_model_id,
            "actor": self.actor,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegistryEvent:
        """Inverse of :meth:`to_dict`."""
        return cls(
            action=RegistryAction(data["action"]),
            purpose=ModelPurpose(data["purpose"]) if data["purpose"] else None,
            model_id=str(data["model_id"]),
            previous_model_id=data["previous_model_id"],
            actor=str(data["actor"]),
            at=datetime.fromisoformat(data["at"]),
        )


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileRegistry:
    """A model registry in a directory::

    models/<model_id>.json      the models, write-once
    promoted/<purpose>.json     promotion history of a purpose, current model last
    events.jsonl                audit trail, one JSON event per line
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _model_path(self, model_id: str) -> Path:
        if not model_id.isalnum():
            raise ValidationError(f"malformed model id {model_id!r}", model_id=model_id)
        return self.directory / "models" / f"{model_id}.json"

    def _history_path(self, purpose: ModelPurpose) -> Path:
        return self.directory / "promoted" / f"{purpose.value}.json"

    def _history(self, purpose: ModelPurpose) -> list[str]:
        path = self._history_path(purpose)
        if not path.exists():
            return []
        return [str(m) for m in json.loads(path.read_text())["history"]]

    def _append_event(self, event: RegistryEvent) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "events.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event.to_dict(), sort_keys=True) + "\n")

    def register(self, model: TrainedModel, *, actor: str, at: datetime) -> str:
        """Store a model (idempotent: the same model twice is stored and audited once); its id."""
        _require_aware(at, "at")
        model_id = model.model_id
        path = self._model_path(model_id)
        if path.exists():
            return model_id
        _atomic_write(path, model.to_bytes())
        self._append_event(RegistryEvent(RegistryAction.REGISTERED, model.purpose, model_id, None, actor, at))
        return model_id

    def get(self, model_id: str) -> TrainedModel:
        """A stored model by id."""
        path = self._model_path(model_id)
        if not path.exists():
            raise NotFoundError(f"no model {model_id} in the registry", model_id=model_id)
        return TrainedModel.from_bytes(path.read_bytes())

    def models(self, purpose: ModelPurpose | str | None = None) -> list[TrainedModel]:
        """Stored models (of one purpose if given), oldest first."""
        folder = self.directory / "models"
        found = [TrainedModel.from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.json"))]
        if purpose is not None:
            found = [m for m in found if m.purpose is _purpose(purpose)]
        return sorted(found, key=lambda m: (m.created_at, m.model_id))

    def promote(
        self, purpose: ModelPurpose | str, model_id: str, *, actor: str, at: datetime
    ) -> RegistryEvent:
        """Make ``model_id`` the model that scores ``purpose``; audited."""
        _require_aware(at, "at")
        slot = _purpose(purpose)
        model = self.get(model_id)
        if model.purpose is not slot:
            raise ValidationError(
                f"model {model_id} was trained for {model.purpose.value}, not {slot.value}",
                model_id=model_id,
                purpose=slot.value,
            )
        history = self._history(slot)
        previous = history[-1] if history else None
        if previous == model_id:
            raise ConflictError(f"model {model_id} is already promoted for {slot.value}", model_id=model_id)
        _atomic_write(self._history_path(slot), json.dumps({"history": [*history, model_id]}).encode())
        event = RegistryEvent(RegistryAction.PROMOTED, slot, model_id, previous, actor, at)
        self._append_event(event)
        return event

    def rollback(self, purpose: ModelPurpose | str, *, actor: str, at: datetime) -> RegistryEvent:
        """Return ``purpose`` to the model promoted before the current one; audited."""
        _require_aware(at, "at")
        slot = _purpose(purpose)
        history = self._history(slot)
        if len(history) < 2:
            raise ConflictError(f"no earlier model to roll back to for {slot.value}", purpose=slot.value)
        _atomic_write(self._history_path(slot), json.dumps({"history": history[:-1]}).encode())
        event = RegistryEvent(RegistryAction.ROLLED_BACK, slot, history[-2], history[-1], actor, at)
        self._append_event(event)
        return event

    def current(self, purpose: ModelPurpose | str) -> TrainedModel | None:
        """The promoted model for ``purpose``, or ``None`` if none has been promoted."""
        history = self._history(_purpose(purpose))
        return self.get(history[-1]) if history else None

    def events(self) -> list[RegistryEvent]:
        """The audit trail, oldest first."""
        path = self.directory / "events.jsonl"
        if not path.exists():
            return []
        return [RegistryEvent.from_dict(json.loads(line)) for line in path.read_text().splitlines() if line]
