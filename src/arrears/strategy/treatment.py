"""The day's actions from treatment paths.

Every account in a segment with a path has a day offset: days since it entered the segment. A step
fires on the day its ``day`` equals the offset. Before steps, the path's rules are applied in this
order: an account meeting the path's **exit** condition gets nothing today; otherwise the first
**escalation** rule that holds (its condition, or exactly ``after_days`` in the segment) gives one
``escalate`` action naming its target, and no contact steps that day. Control-arm accounts have no
path and get no actions. All of it is whole-column work (joins and when/then chains).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import polars as pl

from arrears.strategy.conditions import with_feature_defaults
from arrears.strategy.dsl import Strategy

__all__ = ["ACTION_SCHEMA", "ActionKind", "steps_frame", "todays_actions"]


class ActionKind(StrEnum):
    CONTACT = "contact"
    ESCALATE = "escalate"


ACTION_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Int64(),
    "segment": pl.String(),
    "experiment": pl.String(),
    "variant": pl.String(),
    "path": pl.String(),
    "day": pl.Int32(),
    "kind": pl.String(),
    "channel": pl.String(),
    "template": pl.String(),
    "tone": pl.String(),
    "priority": pl.Int8(),
    "escalate_to": pl.String(),
}


def steps_frame(strategy: Strategy) -> pl.DataFrame:
    """Every step of every path: path, day, channel, template, tone, priority."""
    rows = [
        (p.id, s.day, str(s.channel), s.template, str(s.tone), s.priority)
        for p in strategy.paths.values()
        for s in p.steps
    ]
    return pl.DataFrame(
        rows,
        schema={
            "path": pl.String,
            "day": pl.Int32,
            "channel": pl.String,
            "template": pl.String,
            "tone": pl.String,
            "priority": pl.Int8,
        },
        orient="row",
    )


def todays_actions(frame: pl.DataFrame, strategy: Strategy, *, as_of: dt.date) -> pl.DataFrame:
    """Actions for ``as_of`` (columns :data:`ACTION_SCHEMA`), ordered by priority then account.

    ``frame``: account_id, segment, experiment, variant, path (from
    :func:`arrears.strategy.experiments.assign_variants`), ``entered_on`` (the date the account
    entered its current segment) and the features the exit and escalation conditions read.
    """
    base = with_feature_defaults(frame).filter(pl.col("path").is_not_null())
    offset = (pl.lit(as_of) - pl.col("entered_on")).dt.total_days().cast(pl.Int32)
    exited = pl.lit(False)
    escalate_to = pl.lit(None, dtype=pl.String)
    for path in strategy.paths.values():
        on_path = pl.col("path") == path.id
        if path.exit is not None:
            exited = pl.when(on_path & path.exit.expr).then(pl.lit(True)).otherwise(exited)
        # The first rule in file order wins, so build the chain from the last rule backwards.
        for rule in reversed(path.escalations):
            holds = rule.when.expr if rule.when is not None else pl.lit(False)
            if rule.after_days is not None:
                holds = holds | (pl.col("_offset") == rule.after_days)
            escalate_to = pl.when(on_path & holds).then(pl.lit(rule.to)).otherwise(escalate_to)
    state = base.with_columns(offset.alias("_offset")).with_columns(
        exited.alias("_exited"), escalate_to.alias("escalate_to")
    )
    live = state.filter(~pl.col("_exited"))
    keep = ["account_id", "segment", "experiment", "variant", "path"]
    escalations = live.filter(pl.col("escalate_to").is_not_null()).select(
        *keep,
        pl.col("_offset").alias("day"),
        pl.lit(str(ActionKind.ESCALATE)).alias("kind"),
        pl.lit(None, dtype=pl.String).alias("channel"),
        pl.lit(None, dtype=pl.String).alias("template"),
        pl.lit(None, dtype=pl.String).alias("tone"),
        pl.lit(1, dtype=pl.Int8).alias("priority"),
        "escalate_to",
    )
    contacts = (
        live.filter(pl.col("escalate_to").is_null())
        .select(*keep, "_offset")
        .join(steps_frame(strategy), left_on=["path", "_offset"], right_on=["path", "day"], how="inner")
        .select(
            *keep,
            pl.col("_offset").alias("day"),
            pl.lit(str(ActionKind.CONTACT)).alias("kind"),
            "channel",
            "template",
            "tone",
            "priority",
            pl.lit(None, dtype=pl.String).alias("escalate_to"),
        )
    )
    actions = pl.concat([escalations, contacts], how="vertical_relaxed")
    return actions.select([pl.col(n).cast(t) for n, t in ACTION_SCHEMA.items()]).sort(
        "priority", "account_id", "channel", nulls_last=True
    )
