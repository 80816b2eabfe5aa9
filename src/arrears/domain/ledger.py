"""The account ledger: append-only entries over components; balances are folds of entries."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Component", "EntryKind"]


class Component(StrEnum):
    """What an amount owed is made of."""

    PRINCIPAL = "principal"  # 本金
    INTEREST = "interest"  # 利息 (contractual)
    PENALTY = "penalty"  # 罚息 (penalty interest on overdue principal)
    COMPOUND = "compound"  # 复利 (interest on overdue interest)
    FEE = "fee"  # 费用 (late fees, service fees)
    COST = "cost"  # 实现债权的费用 (legal and collection costs)


class EntryKind(StrEnum):
    """Why an entry was written. The sign of the amount says whether it raises (+) or lowers (-) the debt."""

    OPENING = "opening"  # balance taken over from the loan system at import
    CHARGE = "charge"  # scheduled interest falling due, a fee, a cost
    ACCRUAL = "accrual"  # daily penalty or compound interest
    PAYMENT = "payment"  # money received, allocated by the product's waterfall
    WAIVER = "waiver"  # 减免: a concession
    ADJUSTMENT = "adjustment"  # a correction with a reason
    REVERSAL = "reversal"  # undoes an earlier entry (a bounced payment)
