"""Cycle step "dispatch": scheduled messages into the outbox, in bulk, once per action.

Messages (SMS, email, letter) become outbox rows that channel workers send after the cycle has
committed, never before the instant the compliance decision allows (``not_before``). Each row's
idempotency key is the action's id, so a rerun writes nothing twice and a sender that retries cannot
send twice.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Connection, func, select

from arrears.cycle.frames import read_frame
from arrears.cycle.ledger_steps import CycleContext
from arrears.cycle.tables import CycleAction, DailyPosition
from arrears.store import bulk, tables

__all__ = ["MESSAGE_CHANNELS", "step_dispatch", "step_queues"]

MESSAGE_CHANNELS = ("sms", "email", "letter")


def step_dispatch(conn: Connection, ctx: CycleContext) -> dict[str, Any]:
    a, d = CycleAction, tables.Debtor
    query = (
        select(a.id, a.account_id, a.channel, a.contact_point_id, a.template, a.scheduled_at, d.language)
        .join(d, d.id == a.debtor_id)
        .where(a.as_of == ctx.as_of, a.status == "scheduled", a.channel.in_(MESSAGE_CHANNELS))
    )
    if ctx.partitions > 1:
        query = query.where((a.account_id % ctx.partitions) == ctx.partition)
    frame = read_frame(
        conn,
        query,
        {
            "action_id": pl.Int64,
            "account_id": pl.Int64,
            "channel": pl.String,
            "contact_point_id": pl.Int64,
            "template": pl.String,
            "not_before": pl.Datetime("us", "UTC"),
            "language": pl.String,
        },
    )
    rows = frame.select(
        "action_id",
        pl.lit(ctx.as_of).alias("as_of"),
        "account_id",
        "channel",
        "contact_point_id",
        "template",
        "language",
        "not_before",
        pl.lit("pending").alias("status"),
        pl.format("action:{}", pl.col("action_id")).alias("idempotency_key"),
        pl.lit(ctx.now).dt.convert_time_zone("UTC").alias("created_at"),
    )
    rows = rows.with_columns(bulk.allocate_ids(conn, "outbox_messages", rows.height).alias("id"))
    bulk.insert_frame(conn, "outbox_messages", rows)
    calls = conn.execute(
        select(func.count()).where(a.as_of == ctx.as_of, a.status == "scheduled", a.channel == "call")
    ).scalar_one()
    return {
        "messages": rows.height,
        "by_channel": dict(rows.group_by("channel").len().iter_rows()),
        "calls": calls,
    }


def step_queues(conn: Connection, ctx: CycleContext) -> dict[str, Any]:
    """The day's scheduled calls into collectors' work queues (book-wide); expired placements recalled.

    Ordered by expected recovery (balance × probability of payment, the score / 1000) and urgency
    (the step's priority: 1 is most urgent), matched to skills, within each collector's capacity.
    """
    from arrears.allocation.agencies import recall_expired
    from arrears.allocation.rules import AssignmentMethod
    from arrears.allocation.service import build_queues

    # The joined read and the work-item indexes touch more pages than SQLite's default cache holds.
    bulk.tune_for_bulk(conn)
    a, acc, pos = CycleAction, tables.Account, DailyPosition
    work = read_frame(
        conn,
        select(
            a.id,
            a.account_id,
            a.case_id,
            a.balance_minor,
            a.score,
            a.priority,
            tables.Debtor.language,
            pos.bucket,
            acc.product_code,
            acc.currency,
        )
        .join(acc, acc.id == a.account_id)
        .join(tables.Debtor, tables.Debtor.id == a.debtor_id)
        .join(pos, (pos.account_id == a.account_id) & (pos.as_of == a.as_of))
        .where(a.as_of == ctx.as_of, a.status == "scheduled", a.channel == "call"),
        {
            "action_id": pl.Int64,
            "account_id": pl.Int64,
            "case_id": pl.Int64,
            "balance_minor": pl.Int64,
            "score": pl.Int64,
            "priority": pl.Int64,
            "language": pl.String,
            "bucket": pl.String,
            "product": pl.String,
            "currency": pl.String,
        },
    ).select(
        "account_id",
        pl.col("balance_minor").fill_null(0).clip(lower_bound=0),
        (pl.col("score").fill_null(500) / 1000).alias("pay_probability"),
        (10 - pl.col("priority").fill_null(5)).alias("urgency"),
        "case_id",
        "language",
        "bucket",
        "product",
        pl.format("action:{}", pl.col("action_id")).alias("action_id"),
        "currency",
    )
    recalled = recall_expired(conn, as_of=ctx.as_of, actor=ctx.actor, now=ctx.now)
    if work.height == 0:
        return {"calls": 0, "recalled": recalled}
    # The accounts' currencies came with the work (joined above): not read again.
    built = build_queues(
        conn,
        as_of=ctx.as_of,
        work=work.drop("currency"),
        method=AssignmentMethod.BALANCED,
        now=ctx.now,
        actor=ctx.actor,
        currencies=work.select("account_id", "currency"),
    )
    return {
        "calls": work.height,
        "queued": built.queued,
        "assigned": built.assigned,
        "unassigned": built.unassigned,
        "recalled": recalled,
    }
