"""The daily cycle's scorer on SQLite and PostgreSQL: features from the platform's tables, exact scores."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine

from arrears.cases.tables import Case, CaseAccount, ContactRecord, Promise
from arrears.cycle.tables import DailyPosition
from arrears.errors import ConfigurationError
from arrears.portfolio.products import ensure_builtin_products
from arrears.scoring.gbm import GBMConfig
from arrears.scoring.registry import TrainedModel, train_model
from arrears.scoring.service import (
    CYCLE_COLUMNS,
    cycle_features,
    promote_model,
    register_model,
    score_for_cycle,
)
from arrears.store import personal
from arrears.store import tables as core
from arrears.store.db import UnitOfWork

AS_OF = dt.date(2026, 6, 30)
NOW = dt.datetime(2026, 6, 30, 20, 0, tzinfo=dt.UTC)
FEATURES = ("dpd", "payments_90d", "rpc_90d", "promises_broken_180d")


def _training(n: int = 1500, seed: int = 5) -> pl.DataFrame:
    """Synthetic history: no payment is likelier with high DPD and broken promises, less likely with
    recent payments and conversations."""
    rng = np.random.default_rng(seed)
    dpd = rng.integers(0, 180, n)
    payments = rng.poisson(1.0, n)
    rpc = rng.poisson(1.5, n)
    broken = rng.poisson(0.5, n)
    logit = -0.5 + 0.02 * dpd - 0.9 * payments - 0.5 * rpc + 0.8 * broken
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pl.DataFrame(
        {
            "dpd": dpd,
            "payments_90d": payments,
            "rpc_90d": rpc,
            "promises_broken_180d": broken,
            "no_payment": np.where(y, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return train_model(
        _training(),
        target="no_payment",
        positive="yes",
        purpose="propensity_to_pay",
        kind="scorecard",
        created_at=NOW,
        cv_folds=2,
    )


def _seed(engine: Engine) -> dict[str, int]:
    """Four accounts with known histories; returns external id → account id."""
    ids: dict[str, int] = {}
    day = AS_OF
    with UnitOfWork(engine) as uow:
        s = uow.session
        ensure_builtin_products(s, now=NOW)
        for ext, dpd in (("A1", 45), ("A2", 5), ("A3", 120), ("A4", 60)):
            debtor = core.Debtor(
                external_id=f"D-{ext}", jurisdiction="CN", timezone="Asia/Shanghai", language="zh",
                name=personal.seal(personal.PersonalKind.NAME, f"debtor {ext}"), row_hash="x" * 32,
                created_at=NOW, updated_at=NOW,
            )  # fmt: skip
            s.add(debtor)
            s.flush()
            account = core.Account(
                external_id=ext, debtor_id=debtor.id, product_code="cn-consumer-loan", currency="CNY",
                principal_minor=100_000, annual_rate="0.12", term_months=12, schedule_method="manual",
                opened_on=dt.date(2025, 1, 1), first_due_on=dt.date(2025, 2, 1),
                schedule={"due_on": [], "principal": [], "interest": []},
                charged_through_on=dt.date(2025, 1, 1), status="open", row_hash="y" * 32,
                created_at=NOW, updated_at=NOW,
            )  # fmt: skip
            s.add(account)
            s.flush()
            ids[ext] = account.id
            s.add(
                DailyPosition(
                    as_of=day,
                    account_id=account.id,
                    currency="CNY",
                    dpd=dpd,
                    bucket="x",
                    principal_minor=90_000,
                    interest_minor=0,
                    penalty_minor=0,
                    compound_minor=0,
                    fee_minor=0,
                    cost_minor=0,
                    overdue_minor=10_000,
                    oldest_unpaid_due_on=None,
                )
            )
            s.add(
                core.LedgerEntry(
                    account_id=account.id,
                    key="open",
                    kind="opening",
                    effective_on=dt.date(2025, 1, 1),
                    posted_at=NOW,
                    principal_minor=100_000,
                )
            )
            case = Case(
                debtor_id=debtor.id, creditor="bank", currency="CNY", stage="early", owner_kind="team",
                opened_at=NOW, stage_changed_at=NOW, updated_at=NOW,
            )  # fmt: skip
            s.add(case)
            s.flush()
            s.add(CaseAccount(case_id=case.id, account_id=account.id, added_at=NOW))
            s.flush()

            def pay(key: str, days_ago: int, amount: int, account_id: int = account.id) -> None:
                s.add(
                    core.LedgerEntry(
                        account_id=account_id,
                        key=key,
                        kind="payment",
                        effective_on=day - dt.timedelta(days=days_ago),
                        posted_at=NOW,
                        principal_minor=-amount,
                    )
                )

            def contact(
                days_ago: int, outcome: str, recipient: str = "debtor", debtor_id: int = debtor.id
            ) -> None:
                s.add(
                    ContactRecord(
                        debtor_id=debtor_id,
                        at=NOW - dt.timedelta(days=days_ago),
                        channel="phone",
                        direction="outbound",
                        recipient=recipient,
                        made_by="collector",
                        agent="c1",
                        outcome=outcome,
                    )
                )

            def promise(days_ago: int, status: str, case_id: int = case.id) -> None:
                made = day - dt.timedelta(days=days_ago)
                s.add(
                    Promise(
                        case_id=case_id,
                        amount_minor=1_000,
                        currency="CNY",
                        made_on=made,
                        due_on=made + dt.timedelta(days=7),
                        channel="phone",
                        status=status,
                        created_at=NOW,
                        created_by="c1",
                    )
                )

            if ext == "A1":  # paying, talking, one broken promise
                pay("p1", 10, 5_000)
                pay("p2", 40, 5_000)
                for days_ago, outcome in ((3, "promise_made"), (20, "right_party_conversation"),
                                          (50, "refused_to_pay"), (60, "no_answer")):  # fmt: skip
                    contact(days_ago, outcome)
                promise(30, "broken")
                promise(3, "pending")
            elif ext == "A3":  # an old payment, only third parties reached, two broken promises
                pay("p1", 100, 2_000)
                contact(5, "right_party_conversation", recipient="spouse")
                contact(6, "no_answer")
                contact(200, "right_party_conversation")  # outside every window
                promise(60, "broken")
                promise(150, "broken")
            elif ext == "A4":  # not asked for: must not appear
                pay("p1", 1, 90_000)
        uow.commit()
    return ids


def test_none_without_a_promoted_model(engine: Engine, model: TrainedModel) -> None:
    ids = _seed(engine)
    with UnitOfWork(engine) as uow:
        register_model(uow.session, model=model, actor="analyst", at=NOW)  # registered, not promoted
        uow.commit()
    with engine.connect() as conn:
        assert score_for_cycle(conn, account_ids=[ids["A1"]], as_of=AS_OF) is None


def test_scores_accounts_from_the_platform_tables(engine: Engine, model: TrainedModel) -> None:
    ids = _seed(engine)
    with UnitOfWork(engine) as uow:
        register_model(uow.session, model=model, actor="analyst", at=NOW)
        promote_model(uow.session, model_id=model.model_id, actor="lead", at=NOW)
        uow.commit()
    with engine.connect() as conn:
        out = score_for_cycle(conn, account_ids=[ids["A3"], ids["A1"], ids["A2"], ids["A1"]], as_of=AS_OF)
    assert out is not None
    assert tuple(out.columns) == CYCLE_COLUMNS
    # The features the platform's tables give, worked out by hand from _seed:
    # A1: 2 payments in 90 days; conversations 3, 20 and 50 days ago (no_answer is not one); 1 broken.
    # A2: nothing. A3: the payment is 100 days old; the spouse is not the right party; 2 broken.
    expected_features = pl.DataFrame(
        {
            "account_id": [ids["A1"], ids["A2"], ids["A3"]],
            "dpd": [45, 5, 120],
            "payments_90d": [2, 0, 0],
            "rpc_90d": [3, 0, 0],
            "promises_broken_180d": [1, 0, 2],
        }
    )
    by_model = model.score_frame(expected_features, keep=["account_id"], top=1)
    paying = 1.0 - by_model.get_column("probability").to_numpy()
    assert out.get_column("account_id").to_list() == [ids["A1"], ids["A2"], ids["A3"]]
    assert out.get_column("score").to_list() == [int(v) for v in np.rint(1000 * paying)]
    assert out.get_column("probability").to_list() == pytest.approx(paying.tolist(), abs=1e-12)
    assert out.get_column("reason").to_list() == by_model.get_column("reason_1").to_list()
    assert out.get_column("model_id").to_list() == [model.model_id] * 3
    # the story the data tells: the paying, talking account scores highest, the silent one lowest
    scores = dict(zip(out.get_column("account_id").to_list(), out.get_column("score").to_list(), strict=True))
    assert scores[ids["A1"]] > scores[ids["A2"]] > scores[ids["A3"]]
    assert out.get_column("reason").to_list()[2] in FEATURES


def test_cycle_features_from_the_platform_tables(engine: Engine) -> None:
    ids = _seed(engine)
    with engine.connect() as conn:
        got = cycle_features(conn, account_ids=[ids["A2"], ids["A1"], ids["A3"]], as_of=AS_OF)
    by_id = {int(r["account_id"]): r for r in got.iter_rows(named=True)}
    assert set(by_id) == {ids["A1"], ids["A2"], ids["A3"]}
    a1, a2, a3 = by_id[ids["A1"]], by_id[ids["A2"]], by_id[ids["A3"]]
    pick = ("dpd", "payments_90d", "paid_90d_minor", "balance_minor", "days_since_last_payment",
            "contact_attempts_90d", "rpc_90d", "refusals_90d", "days_since_last_rpc",
            "promises_made_180d", "promises_broken_180d", "has_open_promise", "product", "days_on_book")  # fmt: skip
    assert [a1[k] for k in pick] == [
        45,
        2,
        10_000,
        90_000,
        10,
        4,
        3,
        1,
        3,
        2,
        1,
        True,
        "cn-consumer-loan",
        545,
    ]
    assert [a2[k] for k in pick] == [
        5,
        0,
        0,
        100_000,
        None,
        0,
        0,
        0,
        None,
        0,
        0,
        False,
        "cn-consumer-loan",
        545,
    ]
    assert [a3[k] for k in pick] == [
        120,
        0,
        0,
        98_000,
        100,
        2,
        0,
        0,
        200,
        2,
        2,
        False,
        "cn-consumer-loan",
        545,
    ]
    assert a1["rpc_rate_90d"] == 0.75


def test_a_model_with_features_the_platform_lacks_is_refused(engine: Engine) -> None:
    odd = train_model(
        _training().rename({"dpd": "bureau_score"}),
        target="no_payment",
        positive="yes",
        purpose="propensity_to_pay",
        kind="scorecard",
        created_at=NOW,
        cv_folds=2,
    )
    ids = _seed(engine)
    with UnitOfWork(engine) as uow:
        register_model(uow.session, model=odd, actor="analyst", at=NOW)
        promote_model(uow.session, model_id=odd.model_id, actor="lead", at=NOW)
        uow.commit()
    with engine.connect() as conn, pytest.raises(ConfigurationError, match="bureau_score"):
        score_for_cycle(conn, account_ids=[ids["A1"]], as_of=AS_OF)


def test_a_gradient_boosting_model_with_and_without_reasons(engine: Engine) -> None:
    gbm = train_model(
        _training(),
        target="no_payment",
        positive="yes",
        purpose="propensity_to_pay",
        kind="gbm",
        created_at=NOW,
        cv_folds=2,
        gbm_config=GBMConfig.for_batch(threads=1, inner_folds=3),
    )
    ids = _seed(engine)
    with UnitOfWork(engine) as uow:
        register_model(uow.session, model=gbm, actor="analyst", at=NOW)
        promote_model(uow.session, model_id=gbm.model_id, actor="lead", at=NOW)
        uow.commit()
    wanted = [ids["A1"], ids["A2"], ids["A3"]]
    with engine.connect() as conn:
        full = score_for_cycle(conn, account_ids=wanted, as_of=AS_OF)
        quick = score_for_cycle(conn, account_ids=wanted, as_of=AS_OF, reasons=False)
        features = cycle_features(conn, account_ids=wanted, as_of=AS_OF)
    assert full is not None and quick is not None
    by_model = gbm.score_frame(
        features.with_columns(pl.col("account_id").cast(pl.Int64)), keep=["account_id"], top=1
    ).sort("account_id")
    assert full.get_column("account_id").to_list() == wanted
    assert full.get_column("reason").to_list() == by_model.get_column("reason_1").to_list()
    assert full.get_column("probability").to_list() == pytest.approx(
        (1 - by_model.get_column("probability").to_numpy()).tolist(), abs=1e-12
    )
    assert quick.get_column("reason").to_list() == [None, None, None]
    assert quick.drop("reason").equals(full.drop("reason"))


def test_no_accounts_gives_an_empty_frame(engine: Engine, model: TrainedModel) -> None:
    with UnitOfWork(engine) as uow:
        register_model(uow.session, model=model, actor="analyst", at=NOW)
        promote_model(uow.session, model_id=model.model_id, actor="lead", at=NOW)
        uow.commit()
    with engine.connect() as conn:
        out = score_for_cycle(conn, account_ids=[], as_of=AS_OF)
    assert out is not None
    assert out.height == 0 and tuple(out.columns) == CYCLE_COLUMNS
