"""The rule-based collection score used until a trained model is promoted.

A documented, monotone rule on 0-1000 (higher = more likely to pay), as whole-column Polars:

    score = 700 − 3 × min(dpd, 180) − 60 × min(promises_broken, 5) + 80 × paid_last_30d
            − 100 × first_payment_default − 2 × min(days_since_rpc, 60)

clamped to [0, 1000]. Its probability of payment is ``score / 1000``. Each term is a reason code: the
largest negative term is the main reason a score is low (PIPL art. 24 explanations).
"""

from __future__ import annotations

import polars as pl

__all__ = ["RULE_SCORE_VERSION", "rule_score", "rule_score_reasons"]

RULE_SCORE_VERSION = "rule-2026.1"


def _terms() -> dict[str, pl.Expr]:
    return {
        "days_past_due": -3 * pl.min_horizontal(pl.col("dpd").fill_null(0), pl.lit(180)),
        "promises_broken": -60 * pl.min_horizontal(pl.col("promises_broken").fill_null(0), pl.lit(5)),
        "paid_last_30d": 80 * pl.col("paid_last_30d").fill_null(False).cast(pl.Int64),
        "first_payment_default": -100 * pl.col("first_payment_default").fill_null(False).cast(pl.Int64),
        "days_since_rpc": -2 * pl.min_horizontal(pl.col("days_since_rpc").fill_null(60), pl.lit(60)),
    }


def rule_score() -> pl.Expr:
    """The score as an Int64 expression over the feature columns it names."""
    total = pl.lit(700) + pl.sum_horizontal(list(_terms().values()))
    return pl.min_horizontal(pl.max_horizontal(total, pl.lit(0)), pl.lit(1000)).cast(pl.Int64).alias("score")


def rule_score_reasons() -> pl.Expr:
    """The name of the term that lowered the score most (null when none lowered it)."""
    terms = _terms()
    names = list(terms)
    worst = pl.min_horizontal(list(terms.values()))
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for name in reversed(names):
        expr = pl.when((terms[name] == worst) & (worst < 0)).then(pl.lit(name)).otherwise(expr)
    return expr.alias("score_reason")
