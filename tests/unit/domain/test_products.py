"""Products as data: the shipped file, every validation message, and the loader's inputs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from arrears.domain.delinquency import BucketScheme
from arrears.domain.ledger import Component
from arrears.domain.money import RoundingMode
from arrears.domain.products import (
    AccrualMode,
    DayCount,
    Product,
    ProductKind,
    builtin_products,
    load_products,
)
from arrears.errors import ConfigurationError

VALID = """
[[product]]
code = "a-loan"
name = "A loan"
kind = "closed-end"
currency = "CNY"
allocation = "cn-bank-contract"
bucket_scheme = "cn"

[[product]]
code = "a-card"
name = "A card"
kind = "card"
currency = "USD"
day_count = "annual/365"
allocation = ["fee", "cost", "interest", "penalty", "compound", "principal"]
bucket_scheme = "us"
penalty = "none"

[product.late_fee]
amount = 25.00
grace_days = 5
"""


def test_builtin_products() -> None:
    products = builtin_products()
    assert set(products) >= {
        "cn-consumer-loan",
        "cn-credit-card",
        "cn-civil-code",
        "us-installment",
        "us-card",
        "gb-loan",
    }
    loan = products["cn-consumer-loan"]
    assert (loan.currency, loan.rounding, loan.day_count, loan.basis_days) == (
        "CNY",
        RoundingMode.HALF_UP,
        DayCount.ANNUAL_360,
        360,
    )
    assert loan.penalty is not None and loan.penalty.factor == Decimal("1.5")
    assert loan.compound_interest is not None and loan.compound_interest.enabled
    assert loan.waterfall == (
        Component.COST,
        Component.FEE,
        Component.PENALTY,
        Component.COMPOUND,
        Component.INTEREST,
        Component.PRINCIPAL,
    )
    assert (loan.kind, loan.charge_off_dpd, loan.bucket_scheme) == (
        ProductKind.CLOSED_END,
        120,
        BucketScheme.CN,
    )
    assert products["cn-civil-code"].allocation == "cn-civil-code-561"
    us = products["us-installment"]
    assert (us.currency, us.day_count, us.allocation) == ("USD", DayCount.ANNUAL_365, "us-installment")
    assert us.late_fee is not None
    assert (us.late_fee.amount, us.late_fee.grace_days, us.late_fee.max_per_installment) == (
        Decimal("15.00"),
        10,
        1,
    )
    assert us.late_fee.amount_minor("USD") == 1500
    assert products["us-card"].charge_off_dpd == 180
    assert products["gb-loan"].currency == "GBP"
    # A fresh dict each call: callers cannot change what others see.
    products.pop("gb-loan")
    assert "gb-loan" in builtin_products()


def test_load_from_text_defaults_and_explicit_order() -> None:
    products = load_products(VALID)
    loan, card = products["a-loan"], products["a-card"]
    assert loan.rounding is RoundingMode.HALF_UP
    assert loan.accrual_mode is AccrualMode.EXACT_ROUND_ONCE
    assert loan.charge_off_dpd == 120
    assert card.charge_off_dpd == 180
    assert card.penalty is None
    assert card.waterfall[:3] == (Component.FEE, Component.COST, Component.INTEREST)
    assert card.late_fee is not None and card.late_fee.amount == Decimal("25.00")
    with pytest.raises(Exception, match="frozen"):
        loan.code = "x"  # type: ignore[misc]


def test_load_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(VALID, encoding="utf-8")
    assert set(load_products(path)) == {"a-loan", "a-card"}
    assert set(load_products(str(path))) == {"a-loan", "a-card"}
    with pytest.raises(ConfigurationError, match=r"^absent.toml: cannot read product file"):
        load_products(tmp_path / "absent.toml")


def broken(change: str, old: str) -> str:
    assert old in VALID
    return VALID.replace(old, change)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            broken("penalty = { factor = 0 }", 'penalty = "none"'),
            "products.toml: product[1] 'a-card': penalty.factor: must be > 0",
        ),
        (
            broken('currency = "XYZ"', 'currency = "CNY"'),
            "products.toml: product[0] 'a-loan': currency: unknown currency 'XYZ'; "
            "use an ISO 4217 code such as CNY, USD or GBP",
        ),
        (
            broken('allocation = "nope"', 'allocation = "cn-bank-contract"'),
            "products.toml: product[0] 'a-loan': allocation: unknown waterfall 'nope'; "
            "known: cn-bank-contract, cn-civil-code-561, interest-first, us-card, us-installment",
        ),
        (
            broken(
                'allocation = ["fee", "interest", "principal"]',
                'allocation = ["fee", "cost", "interest", "penalty", "compound", "principal"]',
            ),
            "products.toml: product[1] 'a-card': allocation: "
            "must list every component; missing penalty, compound, cost",
        ),
        (
            broken('kind = "closed-end"\nrounding = "nearest"', 'kind = "closed-end"'),
            "products.toml: product[0] 'a-loan': rounding: "
            "must be one of 'half-up', 'half-even', 'up' or 'down'",
        ),
        (
            broken("grace_days = -1", "grace_days = 5"),
            "products.toml: product[1] 'a-card': late_fee.grace_days: must be >= 0",
        ),
        (
            broken("amount = 25.005", "amount = 25.00"),
            "products.toml: product[1] 'a-card': late_fee.amount: more decimal places than USD allows",
        ),
        (
            broken('bucket_scheme = "cn"\ncolour = "red"', 'bucket_scheme = "cn"'),
            "products.toml: product[0] 'a-loan': colour: unknown field",
        ),
        (
            broken('name = "A loan"', 'code = "a-loan"\nname = "A loan"'),
            "products.toml: product[0]: code: is required",
        ),
        (
            broken('code = "a-loan"', 'code = "a-card"'),
            "products.toml: product[1] 'a-loan': code: duplicate of product[0]",
        ),
        (
            VALID + '\n[[product]]\ncode = "x"\n',
            "products.toml: product[2] 'x': name: is required (and 5 more problems)",
        ),
        ("[[product]\n", "products.toml: not valid TOML: "),
        ("title = 'x'\n[[product]]\ncode='a'\n", "products.toml: unknown top-level key(s) ['title']"),
    ],
)
def test_errors_name_the_file_the_product_and_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_products(text, source="products.toml")
    assert info.value.message.startswith(message)
    assert info.value.code == "configuration_error"


def test_error_fields_are_structured() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_products(broken('penalty = { factor = "-2" }', 'penalty = "none"'), source="p.toml")
    assert info.value.fields == {
        "file": "p.toml",
        "product_index": 1,
        "product_code": "a-card",
        "field": "penalty.factor",
    }


def test_factors_are_exact_and_limited_to_four_places() -> None:
    with pytest.raises(ConfigurationError, match="at most 4 decimal places"):
        load_products(broken("penalty = { factor = 1.00001 }", 'penalty = "none"'))
    product = Product.model_validate(
        {
            "code": "p",
            "name": "P",
            "kind": "card",
            "currency": "CNY",
            "allocation": "us-card",
            "bucket_scheme": "cn",
            "penalty": {"factor": "1.3"},
        }
    )
    assert product.penalty is not None and product.penalty.factor == Decimal("1.3")
    with pytest.raises(Exception, match="floats are not accepted"):
        Product.model_validate({**product.model_dump(), "penalty": {"factor": 1.3}})
