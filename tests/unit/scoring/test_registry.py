from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from arrears.errors import ConfigurationError, ConflictError, NotFoundError, ValidationError
from arrears.scoring.cv import ModelKind
from arrears.scoring.gbm import GBMConfig
from arrears.scoring.registry import (
    FileRegistry,
    ModelPurpose,
    RegistryAction,
    TrainedModel,
    fingerprint_frame,
    train_model,
)

T0 = datetime(2025, 7, 1, 2, 0, tzinfo=UTC)
FAST = GBMConfig(learning_rate=0.2, max_trees=60, early_stopping_rounds=10, inner_folds=3, threads=1)


@pytest.fixture(scope="module")
def data(book):
    return book.head(800).drop("account_id")


@pytest.fixture(scope="module")
def card_model(data) -> TrainedModel:
    return train_model(
        data,
        target="defaulted",
        positive="yes",
        purpose="propensity_to_pay",
        kind="scorecard",
        created_at=T0,
        cv_folds=3,
    )


@pytest.fixture(scope="module")
def gbm_model(data) -> TrainedModel:
    return train_model(
        data,
        target="defaulted",
        positive="yes",
        purpose=ModelPurpose.ROLL_FORWARD,
        kind=ModelKind.GBM,
        created_at=T0,
        gbm_config=FAST,
        cv_folds=3,
    )


def test_trained_model_carries_its_audit_facts(card_model, data):
    assert card_model.training_fingerprint == fingerprint_frame(data)
    assert card_model.created_at == T0
    assert card_model.metrics["rows"] == 800.0
    assert 0.5 < card_model.metrics["auc_mean"] <= 1.0
    assert card_model.params["pdo"] == 20.0 and card_model.params["target"] == "defaulted"
    assert set(card_model.features) <= {"utilisation", "dpd", "product", "noise"}


@pytest.mark.parametrize("which", ["card_model", "gbm_model"])
def test_bytes_round_trip_scores_identically(which, request, data):
    model = request.getfixturevalue(which)
    again = TrainedModel.from_bytes(model.to_bytes())
    assert again.model_id == model.model_id
    assert again.to_bytes() == model.to_bytes()
    a = model.score_frame(data, top=2)
    b = again.score_frame(data, top=2)
    assert a.equals(b)
    assert a.height == data.height
    assert a.get_column("probability").is_between(0, 1, closed="none").all()


def test_fingerprint_changes_with_any_value_name_or_order(data):
    assert fingerprint_frame(data) == fingerprint_frame(data.clone())
    one_value = data.with_columns(data.get_column("dpd").scatter(3, data.get_column("dpd")[3] + 1))
    assert fingerprint_frame(one_value) != fingerprint_frame(data)
    assert fingerprint_frame(data.rename({"noise": "noise2"})) != fingerprint_frame(data)
    assert fingerprint_frame(data.reverse()) != fingerprint_frame(data)


def test_protected_attributes_are_refused_at_training(data):
    with pytest.raises(ValidationError, match="protected attributes"):
        train_model(
            data.rename({"noise": "gender"}),
            target="defaulted",
            positive="yes",
            purpose="roll_forward",
            kind="scorecard",
            created_at=T0,
        )


def test_naive_creation_time_is_refused(data):
    with pytest.raises(ValidationError, match="timezone-aware"):
        train_model(
            data,
            target="defaulted",
            positive="yes",
            purpose="roll_forward",
            kind="gbm",
            created_at=datetime(2025, 1, 1),
        )


def test_untrusted_bytes_are_refused_not_executed():
    for blob in (b"\x80\x04K\x01.", b"{}", json.dumps({"format": "arrears.model/1"}).encode()):
        with pytest.raises(ConfigurationError):
            TrainedModel.from_bytes(blob)


def test_register_promote_rollback_and_audit(tmp_path, card_model, data):
    reg = FileRegistry(tmp_path)
    assert reg.current("propensity_to_pay") is None
    first = reg.register(card_model, actor="analyst", at=T0)
    assert reg.register(card_model, actor="analyst", at=T0) == first  # idempotent
    second_model = TrainedModel.from_bytes(card_model.to_bytes().replace(b'"rows":800.0', b'"rows":801.0'))
    second = reg.register(second_model, actor="analyst", at=T0)
    assert first != second
    assert [m.model_id for m in reg.models("propensity_to_pay")] == sorted(
        [first, second], key=lambda i: (T0, i)
    )

    reg.promote("propensity_to_pay", first, actor="risk-lead", at=T0 + timedelta(hours=1))
    event = reg.promote(ModelPurpose.PROPENSITY_TO_PAY, second, actor="risk-lead", at=T0 + timedelta(hours=2))
    assert (event.model_id, event.previous_model_id) == (second, first)
    assert reg.current("propensity_to_pay").model_id == second

    back = reg.rollback("propensity_to_pay", actor="risk-lead", at=T0 + timedelta(hours=3))
    assert (back.action, back.model_id, back.previous_model_id) == (RegistryAction.ROLLED_BACK, first, second)
    assert reg.current("propensity_to_pay").model_id == first
    with pytest.raises(ConflictError, match="no earlier model"):
        reg.rollback("propensity_to_pay", actor="risk-lead", at=T0)
    assert reg.current("roll_forward") is None

    actions = [(e.action.value, e.model_id, e.actor) for e in reg.events()]
    assert actions == [
        ("registered", first, "analyst"),
        ("registered", second, "analyst"),
        ("promoted", first, "risk-lead"),
        ("promoted", second, "risk-lead"),
        ("rolled_back", first, "risk-lead"),
    ]
    # a fresh registry object over the same folder sees the same state
    assert FileRegistry(tmp_path).current("propensity_to_pay").model_id == first


def test_refused_promotions_leave_state_and_audit_untouched(tmp_path, card_model, gbm_model):
    reg = FileRegistry(tmp_path)
    card_id = reg.register(card_model, actor="a", at=T0)
    gbm_id = reg.register(gbm_model, actor="a", at=T0)
    reg.promote("propensity_to_pay", card_id, actor="a", at=T0)
    before = reg.events()
    with pytest.raises(ValidationError, match="trained for roll_forward"):
        reg.promote("propensity_to_pay", gbm_id, actor="a", at=T0)
    with pytest.raises(ConflictError, match="already promoted"):
        reg.promote("propensity_to_pay", card_id, actor="a", at=T0)
    with pytest.raises(NotFoundError):
        reg.promote("propensity_to_pay", "0123456789abcdef", actor="a", at=T0)
    with pytest.raises(ValidationError, match="malformed model id"):
        reg.get("../../etc/passwd")
    with pytest.raises(ValidationError, match="unknown purpose"):
        reg.current("collections_magic")
    assert reg.events() == before
    assert reg.current("propensity_to_pay").model_id == card_id


def test_the_model_carries_its_training_distribution(card_model, data):
    ref = card_model.reference
    assert set(ref["features"]) == set(card_model.features)
    assert sum(ref["score"]["reference_shares"]) == pytest.approx(1.0)
    again = TrainedModel.from_bytes(card_model.to_bytes())
    assert again.reference == ref and again.model_id == card_model.model_id
    # the training data against itself: no drift at all
    same = card_model.stability(data)
    assert [kind for kind, _ in same].count("score") == 1
    assert all(r.psi == pytest.approx(0.0, abs=1e-12) and not r.is_drifting for _, r in same)


def test_stability_flags_a_shifted_population(card_model, data):
    numeric = [f for f in card_model.features if data.schema[f].is_numeric()]
    target = numeric[0]
    shifted = data.with_columns(pl.col(target) * 0 + data.get_column(target).max())
    results = {r.column: (kind, r) for kind, r in card_model.stability(shifted)}
    assert results[target][1].is_drifting and results[target][1].psi > 0.25
    assert results[target][0] == "feature"
    assert results["score"][0] == "score" and results["score"][1].psi > 0


def test_a_model_without_reference_cannot_be_monitored(card_model, data):
    bare = dataclasses.replace(card_model, reference={})
    with pytest.raises(ValidationError, match="training distribution"):
        bare.stability(data)
    assert "reference" not in json.loads(bare.to_bytes())
