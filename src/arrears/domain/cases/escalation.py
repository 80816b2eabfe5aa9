"""Escalation rules and legal-referral criteria, pure.

Escalation rules come from the case policy; :func:`escalation_frame` evaluates every rule on every
case at once (whole columns), :func:`fired_rules` on one case. :func:`legal_refusals` lists why a case
may not go to court, never referring a time-barred debt (12 CFR 1006.26(b); CONC 7.15.3G).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Final

import polars as pl

from arrears.domain.cases.enums import HoldKind
from arrears.domain.cases.policy import EscalationRule
from arrears.domain.schedules import add_months

__all__ = [
    "LEGAL_BLOCKING_HOLDS",
    "SIGNALS",
    "escalation_frame",
    "fired_rules",
    "legal_refusals",
    "limitation_expires_on",
]

# The signals rules read, one column each in the frame form.
SIGNALS: Final = ("broken_promises", "dpd", "days_without_right_party", "refusals")

LEGAL_BLOCKING_HOLDS: Final = frozenset(
    {HoldKind.DISPUTE, HoldKind.BANKRUPTCY, HoldKind.DECEASED, HoldKind.BREATHING_SPACE}
)


def _rule_expr(rule: EscalationRule) -> pl.Expr:
    parts = [pl.col(name).fill_null(0) >= threshold for name, threshold in rule.conditions().items()]
    return pl.all_horizontal(parts)


def escalation_frame(signals: pl.DataFrame, rules: Iterable[EscalationRule]) -> pl.DataFrame:
    """For each row of ``signals`` (case_id and the :data:`SIGNALS` columns), the ids of rules that fire.

    Returns case_id, fired (a list of rule ids in policy order; empty when none fires).
    """
    rules = tuple(rules)
    if not rules:
        return signals.select("case_id", pl.lit([], dtype=pl.List(pl.String)).alias("fired"))
    fired = pl.concat_list(
        [
            pl.when(_rule_expr(r)).then(pl.lit([r.id])).otherwise(pl.lit([], dtype=pl.List(pl.String)))
            for r in rules
        ]
    )
    return signals.select("case_id", fired.alias("fired"))


def fired_rules(signals: Mapping[str, int], rules: Iterable[EscalationRule]) -> list[str]:
    """The ids of the rules that fire for one case's signals."""
    frame = pl.DataFrame({"case_id": [0], **{s: [int(signals.get(s, 0))] for s in SIGNALS}})
    return list(escalation_frame(frame, rules)["fired"][0])


def limitation_expires_on(last_activity_on: dt.date, years: int) -> dt.date:
    """The day a debt becomes time-barred: ``years`` after the later of default and last payment.

    民法典 第188条 (3 years in China); Limitation Act 1980 s5 (6 years in England and Wales); US
    states vary. The policy holds the years; this is the conservative reading that the clock starts
    at the last acknowledgement by payment.
    """
    return add_months(last_activity_on, 12 * years)


def legal_refusals(
    *,
    balance_minor: int,
    min_balance_minor: int | None,
    currency: str,
    expires_on: dt.date,
    as_of: dt.date,
    holds: Iterable[HoldKind],
) -> list[str]:
    """Why a case may not be referred to legal; empty when it may."""
    refusals = []
    if min_balance_minor is None:
        refusals.append(f"no minimum balance for legal referral is set for {currency}")
    elif balance_minor < min_balance_minor:
        refusals.append(f"balance {balance_minor} is below the minimum {min_balance_minor} (minor units)")
    if as_of >= expires_on:
        # 12 CFR 1006.26(b): no suing, or threatening to sue, on a time-barred debt.
        refusals.append(f"the debt is time-barred since {expires_on.isoformat()}")
    blocking = sorted(h.value for h in holds if h in LEGAL_BLOCKING_HOLDS)
    if blocking:
        refusals.append(f"active hold: {', '.join(blocking)}")
    return refusals
