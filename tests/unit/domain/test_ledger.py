"""Entries, folds, validation, payment posting, bounced payments and the vectorised fold."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from arrears.domain.ledger import (
    Balances,
    Component,
    Entry,
    EntryKind,
    ProblemCode,
    fold,
    fold_frame,
    post_payment,
    reverse_payment,
    validate_entries,
)
from arrears.errors import ValidationError

C = Component
K = EntryKind
D = date(2026, 3, 1)


def charge(key: str, component: Component, amount: int) -> Entry:
    return Entry(component, K.CHARGE, amount, D, key)


def test_enum_values_are_stable() -> None:
    assert [c.value for c in C] == ["principal", "interest", "penalty", "compound", "fee", "cost"]
    assert [k.value for k in K] == [
        "opening",
        "charge",
        "accrual",
        "payment",
        "waiver",
        "adjustment",
        "reversal",
    ]


def test_fold_sums_signed_amounts_per_component() -> None:
    entries = [
        Entry(C.PRINCIPAL, K.OPENING, 500000, D, "open:principal"),
        charge("int:1", C.INTEREST, 20000),
        Entry(C.PENALTY, K.ACCRUAL, 204, D, "accrual:2026-03-01:penalty"),
        Entry(C.INTEREST, K.PAYMENT, -15000, D, "pay-1:interest"),
    ]
    b = fold(entries)
    assert b[C.PRINCIPAL] == 500000
    assert b[C.INTEREST] == 5000
    assert b[C.PENALTY] == 204
    assert b[C.FEE] == 0
    assert b.total == 505204
    assert b.nonzero() == {C.PRINCIPAL: 500000, C.INTEREST: 5000, C.PENALTY: 204}


def test_balances_are_an_immutable_mapping_with_arithmetic() -> None:
    a = Balances({C.PRINCIPAL: 100, "interest": 5})
    b = Balances({C.INTEREST: 3})
    assert (a + b).to_dict() == {
        "principal": 100,
        "interest": 8,
        "penalty": 0,
        "compound": 0,
        "fee": 0,
        "cost": 0,
    }
    assert (a - b)[C.INTEREST] == 2
    assert (-a)[C.PRINCIPAL] == -100
    assert a.plus(C.FEE, 7).amount(C.FEE) == 7
    assert a.get(C.FEE) == 0
    assert a.get("tip", -1) == -1  # type: ignore[call-overload]
    assert "tip" not in a
    assert a[C.FEE] == 0
    assert a == {C.PRINCIPAL: 100, C.INTEREST: 5}
    assert a != {C.PRINCIPAL: 100}
    assert len(a) == 6
    assert Balances.zero().total == 0
    assert hash(a) == hash(Balances({C.INTEREST: 5, C.PRINCIPAL: 100}))
    with pytest.raises(TypeError):
        a[C.FEE] = 1  # type: ignore[index]


def test_entry_refuses_non_integer_amounts() -> None:
    with pytest.raises(ValidationError, match="integer"):
        Entry(C.FEE, K.CHARGE, 1.5, D, "x")  # type: ignore[arg-type]


# -- validation ---------------------------------------------------------------------------------------


def codes(entries: list[Entry]) -> list[tuple[ProblemCode, int]]:
    return [(p.code, p.index) for p in validate_entries(entries)]


def test_a_clean_ledger_has_no_problems() -> None:
    entries = [
        charge("c1", C.PRINCIPAL, 1000),
        Entry(C.PRINCIPAL, K.PAYMENT, -400, D, "p1:principal", source="p1"),
        Entry(C.PRINCIPAL, K.REVERSAL, 400, D, "reversal:p1:principal", reverses="p1:principal"),
    ]
    assert validate_entries(entries) == []


def test_validation_reports_every_problem_without_raising() -> None:
    entries = [
        charge("c1", C.PRINCIPAL, 1000),
        charge("c1", C.INTEREST, 10),  # duplicate key
        Entry(C.INTEREST, K.PAYMENT, 50, D, "p1:interest"),  # payment raising the debt
        Entry(C.FEE, K.REVERSAL, -5, D, "r0", reverses="nope"),  # unknown target
        Entry(C.PRINCIPAL, K.WAIVER, -2000, D, "w1"),  # drives principal below zero
        Entry(C.FEE, K.CHARGE, 0, D, "z1"),  # zero amount
        Entry(C.PRINCIPAL, K.REVERSAL, 2000, D, "r1", reverses="w1"),
        Entry(C.PRINCIPAL, K.REVERSAL, 2000, D, "r2", reverses="w1"),  # already reversed
        Entry(C.PRINCIPAL, K.REVERSAL, -2000, D, "r3", reverses="r1"),  # reversing a reversal
        Entry(C.INTEREST, K.REVERSAL, -999, D, "r4", reverses="c1"),  # does not offset c1
        Entry(C.FEE, K.REVERSAL, 5, D, "r5"),  # no target
        Entry(C.FEE, K.CHARGE, 5, D, "c9", reverses="c1"),  # reverses on a charge
        Entry(C.FEE, K.CHARGE, 5, D, ""),
    ]
    assert codes(entries) == [
        (ProblemCode.DUPLICATE_KEY, 1),
        (ProblemCode.WRONG_SIGN, 2),
        (ProblemCode.UNKNOWN_REVERSAL_TARGET, 3),
        (ProblemCode.NEGATIVE_BALANCE, 3),
        (ProblemCode.NEGATIVE_BALANCE, 4),
        (ProblemCode.ZERO_AMOUNT, 5),
        (ProblemCode.ALREADY_REVERSED, 7),
        (ProblemCode.REVERSES_REVERSAL, 8),
        (ProblemCode.REVERSAL_MISMATCH, 9),
        (ProblemCode.NEGATIVE_BALANCE, 9),
        (ProblemCode.REVERSAL_WITHOUT_TARGET, 10),
        (ProblemCode.REVERSES_ON_NON_REVERSAL, 11),
        (ProblemCode.EMPTY_KEY, 12),
    ]
    negative = next(p for p in validate_entries(entries) if p.index == 4)
    assert negative.key == "w1"
    assert negative.message == "principal would fall to -1000 (was 1000)"


# -- payments -----------------------------------------------------------------------------------------


def test_post_payment_writes_one_negative_entry_per_component_paid() -> None:
    balances = Balances(
        {C.FEE: 5000, C.PENALTY: 1234, C.COMPOUND: 123, C.INTEREST: 20000, C.PRINCIPAL: 500000}
    )
    posting = post_payment(
        balances=balances, payment_minor=30000, waterfall="cn-bank-contract", effective_on=D, key="pay-9"
    )
    assert [(e.component, e.amount_minor, e.key) for e in posting.entries] == [
        (C.FEE, -5000, "pay-9:fee"),
        (C.PENALTY, -1234, "pay-9:penalty"),
        (C.COMPOUND, -123, "pay-9:compound"),
        (C.INTEREST, -20000, "pay-9:interest"),
        (C.PRINCIPAL, -3643, "pay-9:principal"),
    ]
    assert all(e.kind is K.PAYMENT and e.source == "pay-9" for e in posting.entries)
    assert posting.excess_minor == 0
    assert (balances + fold(posting.entries))[C.PRINCIPAL] == 496357


def test_overpayment_is_returned_not_posted() -> None:
    posting = post_payment(
        balances=Balances({C.PRINCIPAL: 700}),
        payment_minor=1000,
        waterfall="us-installment",
        effective_on=D,
        key="p",
    )
    assert [e.amount_minor for e in posting.entries] == [-700]
    assert posting.excess_minor == 300


def test_reverse_payment_reallocates_later_payments() -> None:
    ledger = [charge("c1", C.INTEREST, 1000), charge("c2", C.PRINCIPAL, 10000)]
    order = [C.INTEREST, C.PRINCIPAL]
    for key, amount in (("p1", 1500), ("p2", 800)):
        ledger += post_payment(
            balances=fold(ledger), payment_minor=amount, waterfall=order, effective_on=D, key=key
        ).entries
    # p1 paid interest 1000 + principal 500; p2 paid principal 800.
    new = reverse_payment(ledger, "p1", effective_on=date(2026, 3, 5), waterfall=order)
    assert [(e.kind, e.component, e.amount_minor, e.key, e.reverses) for e in new] == [
        (K.REVERSAL, C.INTEREST, 1000, "bounce:p1:interest", "p1:interest"),
        (K.REVERSAL, C.PRINCIPAL, 500, "bounce:p1:principal", "p1:principal"),
        (K.REVERSAL, C.PRINCIPAL, 800, "reallocate:p2:principal", "p2:principal"),
        (K.PAYMENT, C.INTEREST, -800, "p2:interest:r1", None),
    ]
    assert fold(ledger + new) == {C.INTEREST: 200, C.PRINCIPAL: 10000}
    assert validate_entries(ledger + new) == []
    with pytest.raises(ValidationError, match="already been reversed"):
        reverse_payment(ledger + new, "p1", effective_on=D, waterfall=order)
    with pytest.raises(ValidationError, match="no payment"):
        reverse_payment(ledger, "p7", effective_on=D, waterfall=order)


# A scenario is a list of events: ("charge", component index, amount) or ("pay", amount).
event_st = st.one_of(
    st.tuples(st.just("charge"), st.integers(0, 5), st.integers(1, 5000)),
    st.tuples(st.just("pay"), st.integers(1, 8000)),
)


def build(
    opening: int, events: list[tuple[Any, ...]], skip: set[int], order: list[Component]
) -> tuple[list[Entry], dict[str, int]]:
    ledger: list[Entry] = [Entry(C.PRINCIPAL, K.OPENING, opening, D, "open")]
    received: dict[str, int] = {}
    for i, ev in enumerate(events):
        if i in skip:
            continue
        if ev[0] == "charge":
            ledger.append(charge(f"c{i}", list(C)[ev[1]], ev[2]))
        else:
            received[f"p{i}"] = ev[1]
            ledger += post_payment(
                balances=fold(ledger), payment_minor=ev[1], waterfall=order, effective_on=D, key=f"p{i}"
            ).entries
    return ledger, received


def live_payments(ledger: list[Entry]) -> set[str]:
    reversed_keys = {e.reverses for e in ledger}
    return {e.source for e in ledger if e.kind is K.PAYMENT and e.key not in reversed_keys and e.source}


@settings(max_examples=150, deadline=None)
@given(
    opening=st.integers(1, 30000),
    events=st.lists(event_st, min_size=1, max_size=14),
    order=st.permutations(list(C)),
    data=st.data(),
)
def test_bounce_equals_never_received(
    opening: int, events: list[tuple[Any, ...]], order: list[Component], data: st.DataObject
) -> None:
    ledger, received = build(opening, events, set(), order)
    paid = [i for i, ev in enumerate(events) if ev[0] == "pay"]
    # A payment that met no debt at all wrote no entries (it is held unapplied outside the ledger),
    # so the ledger cannot place it in time; such histories are out of scope here.
    assume(paid and live_payments(ledger) == {f"p{i}" for i in paid})
    first = data.draw(st.sampled_from(paid))
    ledger += reverse_payment(ledger, f"p{first}", effective_on=D, waterfall=order, received_minor=received)
    expected, _ = build(opening, events, {first}, order)
    assert fold(ledger) == fold(expected)
    assert validate_entries(ledger) == []
    # A second bounce on the corrected ledger matches a history without both payments.
    others = sorted(live_payments(ledger) - {f"p{first}"})
    if not others:
        return
    second = data.draw(st.sampled_from(others))
    ledger += reverse_payment(ledger, second, effective_on=D, waterfall=order, received_minor=received)
    expected, _ = build(opening, events, {first, int(second[1:])}, order)
    assert fold(ledger) == fold(expected)
    assert validate_entries(ledger) == []


def test_reverse_payment_reapplies_a_later_overpayment_with_received_amounts() -> None:
    order = [C.INTEREST, C.PRINCIPAL]
    ledger = [charge("c1", C.PRINCIPAL, 1000)]
    ledger += post_payment(
        balances=fold(ledger), payment_minor=600, waterfall=order, effective_on=D, key="p1"
    ).entries
    later = post_payment(balances=fold(ledger), payment_minor=700, waterfall=order, effective_on=D, key="p2")
    assert later.excess_minor == 300
    ledger += later.entries
    # Without the received amount only the 400 applied is known; with it, all 700 is re-applied.
    short = reverse_payment(ledger, "p1", effective_on=D, waterfall=order)
    assert fold(ledger + short)[C.PRINCIPAL] == 600
    full = reverse_payment(ledger, "p1", effective_on=D, waterfall=order, received_minor={"p2": 700})
    assert fold(ledger + full)[C.PRINCIPAL] == 300


# -- vectorised fold --------------------------------------------------------------------------------


def test_fold_frame_one_row_per_account() -> None:
    df = pl.DataFrame(
        {
            "account_id": ["b", "a", "a", "b", "a"],
            "component": ["principal", "principal", "interest", "fee", "principal"],
            "amount_minor": [300, 1000, 50, 15, -400],
        }
    )
    out = fold_frame(df)
    assert out.columns == [
        "account_id",
        "principal_minor",
        "interest_minor",
        "penalty_minor",
        "compound_minor",
        "fee_minor",
        "cost_minor",
        "total_minor",
    ]
    assert out.rows() == [("a", 600, 50, 0, 0, 0, 0, 650), ("b", 300, 0, 0, 0, 15, 0, 315)]
    with pytest.raises(ValidationError, match="unknown components"):
        fold_frame(df.with_columns(component=pl.lit("tip")))


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(list(C)), st.integers(-(10**6), 10**6)),
        min_size=1,
        max_size=60,
    )
)
def test_fold_frame_equals_fold(rows: list[tuple[int, Component, int]]) -> None:
    df = pl.DataFrame(
        {
            "account_id": [a for a, _, _ in rows],
            "component": [c.value for _, c, _ in rows],
            "amount_minor": [x for _, _, x in rows],
        }
    )
    out = {r["account_id"]: r for r in fold_frame(df).iter_rows(named=True)}
    for account in {a for a, _, _ in rows}:
        b = fold(Entry(c, K.ADJUSTMENT, x, D, f"k{i}") for i, (a, c, x) in enumerate(rows) if a == account)
        assert {c: out[account][f"{c}_minor"] for c in C} == b
        assert out[account]["total_minor"] == b.total
