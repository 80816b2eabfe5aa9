"""The model registry in the database, on SQLite and PostgreSQL: schema, services, audit, refusals."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine, func, inspect, select

from arrears.errors import ConflictError, NotFoundError, ValidationError
from arrears.scoring.registry import ModelPurpose, RegistryAction, TrainedModel, train_model
from arrears.scoring.service import (
    DatabaseRegistry,
    current_model,
    list_models,
    promote_model,
    register_model,
    registry_events,
    rollback_model,
)
from arrears.scoring.tables import RegisteredModel, RegistryEventRow, ScoringSlot, scoring_tables
from arrears.store.db import UnitOfWork
from arrears.store.tables import AuditEvent, metadata
from tests.schema import schema_diffs

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def _book(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    dpd = rng.poisson(20, n).astype(float)
    paid = rng.poisson(2, n).astype(float)
    logit = -1.0 + 0.06 * dpd - 0.7 * paid
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pl.DataFrame({"dpd": dpd, "payments_90d": paid, "no_payment": np.where(y, "yes", "no")})


def _train(purpose: str, seed: int, created_at: dt.datetime = T0) -> TrainedModel:
    return train_model(
        _book(400, seed),
        target="no_payment",
        positive="yes",
        purpose=purpose,
        kind="scorecard",
        created_at=created_at,
        cv_folds=2,
    )


@pytest.fixture(scope="module")
def models() -> dict[str, TrainedModel]:
    return {
        "a": _train("propensity_to_pay", 1),
        "b": _train("propensity_to_pay", 2, T0 + dt.timedelta(days=1)),
        "roll": _train("roll_forward", 3),
    }


def test_migration_creates_exactly_the_registry_tables(engine: Engine) -> None:
    assert set(scoring_tables()) <= set(inspect(engine).get_table_names())
    assert schema_diffs(engine, scoring_tables()) == []
    declared = {t.name for t in metadata.sorted_tables if t.name.startswith("scoring_")}
    assert declared == set(scoring_tables())


def _counts(engine: Engine) -> tuple[int, int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.scalar(select(func.count()).select_from(t)) or 0)
            for t in (RegisteredModel, ScoringSlot, RegistryEventRow, AuditEvent)
        )


def _slots(engine: Engine) -> list[tuple[str, str, list[str], int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(ScoringSlot.purpose, ScoringSlot.model_id, ScoringSlot.history, ScoringSlot.version)
        ).all()
    return sorted((r[0], r[1], list(r[2]), r[3]) for r in rows)


def _register_all(engine: Engine, models: dict[str, TrainedModel]) -> None:
    with UnitOfWork(engine) as uow:
        for key in ("a", "b", "roll"):
            register_model(uow.session, model=models[key], actor="analyst", at=T0)
        uow.commit()


def test_register_stores_the_canonical_document_and_audits_once(engine, models) -> None:
    a = models["a"]
    with UnitOfWork(engine) as uow:
        first = register_model(uow.session, model=a, actor="analyst", at=T0)
        again = register_model(uow.session, model=a, actor="analyst", at=T0 + dt.timedelta(hours=1))
        uow.commit()
    assert first == again == a.model_id
    assert _counts(engine) == (1, 0, 1, 1)
    with engine.connect() as conn:
        row = conn.execute(select(RegisteredModel)).one()
        audit = conn.execute(select(AuditEvent.actor, AuditEvent.action, AuditEvent.subject_id)).one()
    assert row.document.encode() == a.to_bytes()
    assert (row.purpose, row.kind, row.training_fingerprint) == (
        "propensity_to_pay",
        "scorecard",
        a.training_fingerprint,
    )
    assert row.features == list(a.features)
    assert row.created_at == T0 and row.registered_by == "analyst"
    assert tuple(audit) == ("analyst", "scoring.model_registered", a.model_id)
    with UnitOfWork(engine) as uow:
        loaded = DatabaseRegistry(uow.session).get(a.model_id)
    assert loaded.to_bytes() == a.to_bytes()
    assert loaded.model_id == a.model_id


def test_promote_then_promote_then_rollback(engine, models) -> None:
    a, b = models["a"].model_id, models["b"].model_id
    _register_all(engine, models)
    t1, t2, t3 = (T0 + dt.timedelta(days=d) for d in (2, 3, 4))
    with UnitOfWork(engine) as uow:
        first = promote_model(uow.session, model_id=a, actor="lead", at=t1)
        uow.commit()
    with UnitOfWork(engine) as uow:
        second = promote_model(uow.session, model_id=b, actor="lead", at=t2, purpose="propensity_to_pay")
        uow.commit()
    assert (first.previous_model_id, second.previous_model_id) == (None, a)
    assert _slots(engine) == [("propensity_to_pay", b, [a, b], 2)]
    with UnitOfWork(engine) as uow:
        back = rollback_model(uow.session, purpose="propensity_to_pay", actor="lead", at=t3)
        uow.commit()
    assert (back.action, back.model_id, back.previous_model_id) == (RegistryAction.ROLLED_BACK, a, b)
    assert _slots(engine) == [("propensity_to_pay", a, [a], 3)]
    with UnitOfWork(engine) as uow:
        s = uow.session
        assert current_model(s, ModelPurpose.PROPENSITY_TO_PAY).model_id == a  # type: ignore[union-attr]
        assert current_model(s, "roll_forward") is None
        events = [(e.action.value, e.model_id, e.previous_model_id, e.at) for e in registry_events(s)]
        listed = [(m["model_id"], m["is_promoted"]) for m in list_models(s, purpose="propensity_to_pay")]
    assert events[3:] == [("promoted", a, None, t1), ("promoted", b, a, t2), ("rolled_back", a, b, t3)]
    assert [e[0] for e in events[:3]] == ["registered"] * 3
    assert listed == [(a, True), (b, False)]
    with engine.connect() as conn:
        actions = conn.execute(
            select(AuditEvent.action, AuditEvent.subject_id, AuditEvent.actor).order_by(AuditEvent.seq)
        ).all()
    assert [tuple(r) for r in actions[3:]] == [
        ("scoring.model_promoted", a, "lead"),
        ("scoring.model_promoted", b, "lead"),
        ("scoring.model_rolled_back", a, "lead"),
    ]


@pytest.mark.parametrize(
    ("attempt", "error"),
    [
        (lambda s: promote_model(s, model_id="feedfeedfeedfeed", actor="x", at=T0), NotFoundError),
        (lambda s: promote_model(s, model_id="bad id!", actor="x", at=T0), ValidationError),
        (lambda s: rollback_model(s, purpose="propensity_to_pay", actor="x", at=T0), ConflictError),
        (lambda s: rollback_model(s, purpose="roll_forward", actor="x", at=T0), ConflictError),
        (lambda s: rollback_model(s, purpose="world_peace", actor="x", at=T0), ValidationError),
    ],
)
def test_refused_actions_leave_nothing_behind(engine, models, attempt, error) -> None:
    _register_all(engine, models)
    with UnitOfWork(engine) as uow:
        promote_model(uow.session, model_id=models["a"].model_id, actor="lead", at=T0)
        uow.commit()
    before = (_counts(engine), _slots(engine))
    with pytest.raises(error), UnitOfWork(engine) as uow:
        attempt(uow.session)
        uow.commit()
    assert (_counts(engine), _slots(engine)) == before


def test_refusals_that_name_a_model(engine, models) -> None:
    _register_all(engine, models)
    a, roll = models["a"].model_id, models["roll"].model_id
    with UnitOfWork(engine) as uow:
        promote_model(uow.session, model_id=a, actor="lead", at=T0)
        uow.commit()
    before = (_counts(engine), _slots(engine))
    with pytest.raises(ConflictError, match="already promoted"), UnitOfWork(engine) as uow:
        promote_model(uow.session, model_id=a, actor="lead", at=T0)
    with pytest.raises(ValidationError, match="trained for roll_forward"), UnitOfWork(engine) as uow:
        promote_model(uow.session, model_id=roll, purpose="propensity_to_pay", actor="lead", at=T0)
    with pytest.raises(ValidationError, match="timezone-aware"), UnitOfWork(engine) as uow:
        promote_model(uow.session, model_id=roll, actor="lead", at=dt.datetime(2026, 1, 1))
    assert (_counts(engine), _slots(engine)) == before


def test_database_registry_has_the_file_registry_interface(engine, models) -> None:
    with UnitOfWork(engine) as uow:
        reg = DatabaseRegistry(uow.session)
        ids = [reg.register(models[k], actor="analyst", at=T0) for k in ("b", "a", "roll")]
        reg.promote("roll_forward", ids[2], actor="lead", at=T0)
        same_day = sorted([models["a"].model_id, models["roll"].model_id])
        assert [m.model_id for m in reg.models()] == [*same_day, ids[0]]
        assert [m.model_id for m in reg.models("propensity_to_pay")] == [models["a"].model_id, ids[0]]
        assert reg.current("roll_forward").model_id == ids[2]  # type: ignore[union-attr]
        assert [e.action for e in reg.events()] == [RegistryAction.REGISTERED] * 3 + [RegistryAction.PROMOTED]
        uow.commit()


def test_a_concurrent_promotion_is_a_conflict_not_a_database_error(engine, models) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE), so two promotions cannot interleave")
    from sqlalchemy.orm import Session

    _register_all(engine, models)
    a, b = models["a"].model_id, models["b"].model_id
    with UnitOfWork(engine) as uow:
        promote_model(uow.session, model_id=a, actor="lead", at=T0)
        uow.commit()
    slow = Session(engine, autoflush=False)
    try:
        held = slow.get(ScoringSlot, "propensity_to_pay")  # reads version 1, a in force
        assert held is not None and held.version == 1
        with UnitOfWork(engine) as uow:  # someone else promotes b meanwhile
            promote_model(uow.session, model_id=b, actor="other", at=T0)
            uow.commit()
        before = (_counts(engine), _slots(engine))
        with pytest.raises(ConflictError, match="changed by someone else"):
            promote_model(slow, model_id=b, actor="lead", at=T0)
        slow.rollback()
    finally:
        slow.close()
    assert (_counts(engine), _slots(engine)) == before
