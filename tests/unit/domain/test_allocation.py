"""Waterfalls (T7), Reg Z card allocation and the vectorised allocator."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.allocation import (
    WATERFALLS,
    Allocation,
    CardBalance,
    allocate,
    allocate_card,
    allocate_frame,
    get_waterfall,
    resolve_order,
)
from arrears.domain.ledger import Component as C
from arrears.errors import ConfigurationError, ValidationError

# T7 owed amounts, in fen.
T7_OWED = {C.FEE: 5000, C.PENALTY: 1234, C.COMPOUND: 123, C.INTEREST: 20000, C.PRINCIPAL: 500000}


def test_t7_cn_bank_contract_order() -> None:
    result = allocate(30000, T7_OWED, get_waterfall("cn-bank-contract").order)
    assert result.applied == {
        C.COST: 0,
        C.FEE: 5000,
        C.PENALTY: 1234,
        C.COMPOUND: 123,
        C.INTEREST: 20000,
        C.PRINCIPAL: 3643,
    }
    assert result.excess_minor == 0
    assert T7_OWED[C.PRINCIPAL] - result.applied[C.PRINCIPAL] == 496357


def test_t7_interest_first_variant_leaves_fees() -> None:
    result = allocate(30000, T7_OWED, resolve_order("interest-first"))
    assert result.applied[C.FEE] == 0
    assert result.applied[C.PENALTY] == 1234
    assert result.applied[C.COMPOUND] == 123
    assert result.applied[C.INTEREST] == 20000
    assert result.applied[C.PRINCIPAL] == 8643
    assert T7_OWED[C.PRINCIPAL] - result.applied[C.PRINCIPAL] == 491357


def test_civil_code_561_puts_costs_first_then_interest_then_principal() -> None:
    owed = {C.COST: 1000, C.FEE: 500, C.PENALTY: 300, C.INTEREST: 2000, C.PRINCIPAL: 10000}
    result = allocate(3500, owed, resolve_order("cn-civil-code-561"))
    assert result.applied == {
        C.COST: 1000,
        C.INTEREST: 2000,
        C.PENALTY: 300,
        C.COMPOUND: 0,
        C.PRINCIPAL: 200,
        C.FEE: 0,
    }


def test_us_installment_fees_then_interest_then_principal() -> None:
    owed = {C.FEE: 1500, C.INTEREST: 4000, C.PRINCIPAL: 10000}
    result = allocate(6000, owed, resolve_order("us-installment"))
    assert (result.applied[C.FEE], result.applied[C.INTEREST], result.applied[C.PRINCIPAL]) == (
        1500,
        4000,
        500,
    )


def test_overpayment_is_excess() -> None:
    result = allocate(10000, {C.INTEREST: 100, C.PRINCIPAL: 900}, [C.INTEREST, C.PRINCIPAL])
    assert result == Allocation({C.INTEREST: 100, C.PRINCIPAL: 900}, 9000)
    assert result.applied_minor == 1000


def test_every_registered_waterfall_covers_every_component_once() -> None:
    for w in WATERFALLS.values():
        assert sorted(w.order) == sorted(C), w.name


def test_unknown_waterfall_and_bad_lists_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown waterfall 'nope'"):
        resolve_order("nope")
    with pytest.raises(ValidationError, match="listed twice"):
        resolve_order([C.FEE, C.FEE])
    with pytest.raises(ValidationError):
        resolve_order(["fee", "tip"])
    with pytest.raises(ValidationError, match="negative"):
        allocate(-1, T7_OWED, resolve_order("us-installment"))


# -- properties -----------------------------------------------------------------------------------

owed_st = st.dictionaries(st.sampled_from(list(C)), st.integers(0, 10**9))
order_st = st.permutations(list(C))


@settings(max_examples=200, deadline=None)
@given(payment=st.integers(0, 4 * 10**9), owed=owed_st, order=order_st)
def test_allocation_invariants(payment: int, owed: dict[C, int], order: list[C]) -> None:
    result = allocate(payment, owed, order)
    assert sum(result.applied.values()) + result.excess_minor == payment
    for c in order:
        assert 0 <= result.applied[c] <= owed.get(c, 0)
    # Order respected: nothing reaches a component while an earlier one is left unpaid.
    for i, c in enumerate(order):
        if result.applied[c] < owed.get(c, 0):
            assert all(result.applied[later] == 0 for later in order[i + 1 :])
            assert result.excess_minor == 0
    if result.excess_minor:
        assert all(result.applied[c] == owed.get(c, 0) for c in order)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 10**7), owed_st), min_size=1, max_size=30),
    order=order_st,
)
def test_allocate_frame_equals_allocate_row_by_row(
    rows: list[tuple[int, dict[C, int]]], order: list[C]
) -> None:
    df = pl.DataFrame(
        {
            "payment_minor": [p for p, _ in rows],
            **{f"{c}_minor": [o.get(c, 0) for _, o in rows] for c in C},
        }
    )
    out = allocate_frame(df, order)
    for i, (payment, owed) in enumerate(rows):
        expected = allocate(payment, owed, order)
        row = out.row(i, named=True)
        assert {c: row[f"applied_{c}_minor"] for c in order} == dict(expected.applied)
        assert row["excess_minor"] == expected.excess_minor


def test_allocate_frame_t7_and_missing_columns() -> None:
    df = pl.DataFrame({"payment_minor": [30000], **{f"{c}_minor": [T7_OWED.get(c, 0)] for c in C}})
    out = allocate_frame(df, "cn-bank-contract")
    assert out.select(
        "applied_fee_minor", "applied_penalty_minor", "applied_principal_minor", "excess_minor"
    ).row(0) == (5000, 1234, 3643, 0)
    with pytest.raises(ValidationError, match="missing columns"):
        allocate_frame(df.drop("fee_minor"), "cn-bank-contract")
    with pytest.raises(ValidationError, match="negative"):
        allocate_frame(df.with_columns(payment_minor=pl.lit(-5)), "cn-bank-contract")


# -- Reg Z cards (T7) -------------------------------------------------------------------------------

T7_CARD = [
    CardBalance("cash_advance", Decimal("0.2499"), 50000),
    CardBalance("purchases", Decimal("0.1999"), 100000),
    CardBalance("balance_transfer", Decimal("0"), 200000),
]


def test_t7_card_payment_600() -> None:
    paid = allocate_card(60000, 10000, T7_CARD, as_of=date(2026, 3, 1))
    assert paid == {"cash_advance": 50000, "purchases": 0, "balance_transfer": 10000}
    left = {b.id: b.balance_minor - paid[b.id] for b in T7_CARD}
    assert left == {"cash_advance": 0, "purchases": 100000, "balance_transfer": 190000}


def test_t7_card_payment_800() -> None:
    paid = allocate_card(80000, 10000, T7_CARD, as_of=date(2026, 3, 1))
    left = {b.id: b.balance_minor - paid[b.id] for b in T7_CARD}
    assert left == {"cash_advance": 0, "purchases": 80000, "balance_transfer": 190000}


def test_payment_below_minimum_goes_lowest_apr_first() -> None:
    paid = allocate_card(5000, 10000, T7_CARD, as_of=date(2026, 3, 1))
    assert paid == {"cash_advance": 0, "purchases": 0, "balance_transfer": 5000}


def test_deferred_interest_balance_takes_excess_in_last_two_cycles() -> None:
    balances = [
        CardBalance("purchases", Decimal("0.1999"), 100000),
        CardBalance("promo", Decimal("0.2600"), 50000, deferred_promo_ends_on=date(2026, 5, 15)),
        CardBalance("cash_advance", Decimal("0.2999"), 30000),
    ]
    # 1026.53(b)(1): within two cycles of expiry the excess goes to the deferred balance first,
    # even though the cash advance carries the higher APR.
    near = allocate_card(60000, 5000, balances, as_of=date(2026, 4, 1))
    assert near == {"purchases": 5000, "promo": 50000, "cash_advance": 5000}
    # Months before expiry the ordinary highest-APR-first rule applies.
    far = allocate_card(60000, 5000, balances, as_of=date(2026, 1, 1))
    assert far == {"purchases": 5000, "promo": 25000, "cash_advance": 30000}
    # After expiry it is an ordinary balance again.
    after = allocate_card(60000, 5000, balances, as_of=date(2026, 5, 15))
    assert after == far


def test_card_overpayment_leaves_remainder_unallocated() -> None:
    paid = allocate_card(400000, 10000, T7_CARD, as_of=date(2026, 3, 1))
    assert paid == {"cash_advance": 50000, "purchases": 100000, "balance_transfer": 200000}
    assert 400000 - sum(paid.values()) == 50000


@settings(max_examples=150, deadline=None)
@given(
    payment=st.integers(0, 10**6),
    minimum=st.integers(0, 10**5),
    raw=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 10**6)), min_size=1, max_size=5),
)
def test_card_allocation_invariants(payment: int, minimum: int, raw: list[tuple[int, int]]) -> None:
    balances = [CardBalance(f"b{i}", Decimal(apr) / 10000, bal) for i, (apr, bal) in enumerate(raw)]
    paid = allocate_card(payment, minimum, balances, as_of=date(2026, 3, 1))
    total = sum(b.balance_minor for b in balances)
    assert sum(paid.values()) == min(payment, total)
    for b in balances:
        assert 0 <= paid[b.id] <= b.balance_minor
    # 12 CFR 1026.53(a): the excess over the minimum goes to the highest APRs first, so for every APR
    # level the balances above it received at least min(excess, what they owed).
    excess = payment - min(payment, minimum)
    for level in {b.apr for b in balances}:
        above = [b for b in balances if b.apr > level]
        assert sum(paid[b.id] for b in above) >= min(excess, sum(b.balance_minor for b in above))
