"""Segmenting accounts: each account goes to the first segment, in file order, whose condition it meets."""

from __future__ import annotations

import polars as pl

from arrears.strategy.conditions import with_feature_defaults
from arrears.strategy.dsl import Strategy

__all__ = ["segment_accounts", "segment_expr"]


def segment_expr(strategy: Strategy) -> pl.Expr:
    """One expression giving the id of the first matching segment, or null when none matches."""
    chain = pl.lit(None, dtype=pl.String)
    # Built from the last segment backwards so that the first one in the file is tested first.
    for seg in reversed(strategy.segments):
        chain = pl.when(seg.condition.expr).then(pl.lit(seg.id, dtype=pl.String)).otherwise(chain)
    return chain.alias("segment")


def segment_accounts(features: pl.DataFrame, strategy: Strategy) -> pl.DataFrame:
    """``features`` with missing feature columns defaulted and a ``segment`` column added.

    Whole-column work: one ``when/then`` chain over the frame, so the first matching segment wins
    exactly as written in the file.
    """
    return with_feature_defaults(features).with_columns(segment_expr(strategy))
