"""Cycle steps that move the ledger and the positions: interest falling due, late fees, 罚息/复利, snapshot.

Each function works on one partition of the open accounts, in the caller's transaction, on whole
columns; everything it writes is keyed so that the same day cannot be charged twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, delete, select, update

from arrears.cycle.frames import (
    COMPONENTS,
    IdRange,
    balances_through,
    open_accounts,
    partition_filter,
    positions_on,
    read_ahead,
    read_frame,
    schedule_items,
)
from arrears.cycle.tables import AccrualCarry, DailyPosition
from arrears.domain.accrual import accrue_frame
from arrears.domain.money import to_minor
from arrears.domain.products import Product
from arrears.store import bulk, tables
from arrears.store.sql import in_ids

__all__ = ["ACCOUNTS_PER_SLICE", "CycleContext", "account_slices", "step_accrue", "step_positions"]

ONE_DAY = dt.timedelta(days=1)

ACCOUNTS_PER_SLICE = 200_000
"""Open accounts worked on at once by the partitioned ledger steps: what bounds their memory.

A partition larger than this is done in slices of consecutive account ids, one after another, in the
step's one transaction; every rule is per account, so the result does not depend on the slicing.
"""


@dataclass(frozen=True)
class CycleContext:
    """What every step of one day needs. ``now`` is when the run happens; ``as_of`` the business day."""

    as_of: dt.date
    now: dt.datetime
    actor: str
    products: dict[str, Product]
    partition: int = 0
    partitions: int = 1


def _entries(
    frame: pl.DataFrame,
    *,
    kind: str,
    key: pl.Expr,
    effective_on: pl.Expr,
    now: dt.datetime,
    amounts: dict[str, pl.Expr],
    memo: str,
) -> pl.DataFrame:
    return frame.select(
        pl.col("account_id"),
        key.alias("key"),
        pl.lit(kind).alias("kind"),
        effective_on.alias("effective_on"),
        pl.lit(now).alias("posted_at"),
        *[amounts.get(c, pl.lit(0, dtype=pl.Int64)).cast(pl.Int64).alias(f"{c}_minor") for c in COMPONENTS],
        pl.lit(None, dtype=pl.String).alias("reverses_key"),
        pl.lit(memo).alias("memo"),
    )


def _write_entries(conn: Connection, entries: pl.DataFrame) -> int:
    if entries.height == 0:
        return 0
    # In key order, so that the account-keyed indexes (and PostgreSQL's foreign key checks against
    # accounts) are walked forward page by page instead of at random.
    entries = entries.sort("account_id", "key", maintain_order=True)
    entries = entries.with_columns(bulk.allocate_ids(conn, "ledger_entries", entries.height).alias("id"))
    return bulk.insert_frame(conn, "ledger_entries", entries)


def account_slices(conn: Connection, ctx: CycleContext, *, size: int | None = None) -> list[IdRange]:
    """The partition's open accounts cut into ranges of ids holding at most ``size`` accounts each."""
    size = size or ACCOUNTS_PER_SLICE
    a = tables.Account
    query = select(a.id).where(a.status == "open").order_by(a.id)
    if ctx.partitions > 1:
        query = query.where(partition_filter(a.id, ctx.partition, ctx.partitions))  # type: ignore[arg-type]
    ids = read_frame(conn, query, {"id": pl.Int64}).get_column("id")
    if ids.len() == 0:
        return []
    starts = ids.gather_every(size).to_list()
    return list(zip(starts, [*starts[1:], int(ids[-1]) + 1], strict=True))


def _open_accounts(conn: Connection, ctx: CycleContext, ids: IdRange) -> pl.DataFrame:
    """The slice's open accounts in id order.

    The order must not depend on the database: the positions step reuses the schedules that accrue
    decoded only when it reads the same accounts in the same order, and PostgreSQL returns an
    unordered scan in its heap order, which accrue's update of every account just changed.
    """
    accounts = open_accounts(conn, partition=ctx.partition, partitions=ctx.partitions, ids=ids)
    return accounts.sort("account_id", maintain_order=True)


def step_accrue(conn: Connection, ctx: CycleContext) -> dict[str, Any]:
    """Post the interest of instalments falling due, late fees after grace, and the day's 罚息 and 复利."""
    counts = {"accounts": 0, "interest_charges": 0, "late_fees": 0, "accruals": 0}
    for ids in account_slices(conn, ctx):
        accounts = _open_accounts(conn, ctx, ids)
        if accounts.height == 0:
            continue
        items = schedule_items(accounts, keep=True)  # the positions step uses it next
        counts["accounts"] += accounts.height
        counts["interest_charges"] += _post_scheduled_interest(conn, accounts, items, ctx)
        counts["late_fees"] += _assess_late_fees(conn, accounts, items, ctx, ids)
        counts["accruals"] += _accrue_penalties(conn, accounts, items, ctx, ids)
    return counts


def _post_scheduled_interest(
    conn: Connection, accounts: pl.DataFrame, items: pl.DataFrame, ctx: CycleContext
) -> int:
    """Contractual interest becomes owed on its due date: one charge per instalment, keyed by due date."""
    # The instalments that fell due since the interest was last brought up to date.
    fell_due = items.join(accounts.select("account_id", "charged_through_on"), on="account_id").filter(
        (pl.col("due_on") > pl.col("charged_through_on")) & (pl.col("due_on") <= ctx.as_of)
    )
    entries = _entries(
        fell_due.filter(pl.col("interest_minor") > 0),
        kind="charge",
        key=pl.lit("interest:") + pl.col("due_on").dt.strftime("%Y-%m-%d"),
        effective_on=pl.col("due_on"),
        now=ctx.now,
        amounts={"interest": pl.col("interest_minor")},
        memo="scheduled interest fell due",
    )
    written = _write_entries(conn, entries)
    moved = _charged_through_moves(accounts, fell_due.get_column("account_id"), ctx)
    if moved:
        a = tables.Account
        conn.execute(update(a).where(in_ids(conn, a.id, moved)).values(charged_through_on=ctx.as_of))
    return written


def _charged_through_moves(accounts: pl.DataFrame, fell_due: pl.Series, ctx: CycleContext) -> list[int]:
    """The accounts whose ``charged_through_on`` moves to ``as_of`` today, in id order; ``fell_due``
    holds the accounts with an instalment due after their stored date and by today.

    The date is read for two things: the instalments whose interest is not posted yet are those due
    after it and by the day in question (the posting above, and the positions), and an account never
    accrued starts its 罚息 from it. Where no instalment fell due between the stored date and today,
    the first reading is the same whether the date moves or not, so it moves only where one did.
    The second reading is over once the account has an accrual carry, which every account of a
    product that accrues gets today (see :func:`_accrue_penalties`); accounts of other products, which
    may accrue later if their product's terms change, are still brought forward every day. Most
    accounts are therefore not rewritten on most days (on PostgreSQL, rewriting every account row
    every day was about a quarter of this step).
    """
    accruing = [code for code, p in ctx.products.items() if p.penalty is not None or p.compound_interest]
    moved = accounts.filter(
        (pl.col("charged_through_on") < ctx.as_of)
        & (~pl.col("product_code").is_in(accruing) | pl.col("account_id").is_in(fell_due.implode()))
    )
    return moved.get_column("account_id").sort().to_list()


def _assess_late_fees(
    conn: Connection, accounts: pl.DataFrame, items: pl.DataFrame, ctx: CycleContext, ids: IdRange
) -> int:
    """A late fee the day after an instalment's grace period ends, if money received falls short.

    16 CFR 444.4: the test is on money received (whatever the waterfall did with it), so an on-time
    full instalment never draws a fee because an earlier fee took part of it.
    """
    with_fees = {code: p for code, p in ctx.products.items() if p.late_fee is not None}
    if not with_fees:
        return 0
    candidates = accounts.filter(pl.col("product_code").is_in(list(with_fees)))
    if candidates.height == 0:
        return 0
    grace = {code: p.late_fee.grace_days for code, p in with_fees.items() if p.late_fee is not None}
    amount = {code: to_minor(p.late_fee.amount, p.currency) for code, p in with_fees.items() if p.late_fee}
    judged = ctx.as_of - ONE_DAY
    due = (
        items.join(candidates.select("account_id", "product_code"), on="account_id")
        .with_columns(pl.col("product_code").replace_strict(grace, return_dtype=pl.Int64).alias("_grace"))
        .filter(pl.col("due_on") + pl.duration(days=pl.col("_grace")) == pl.lit(judged))
    )
    if due.height == 0:
        return 0
    owing = due["account_id"].unique().to_list()
    sub = candidates.filter(pl.col("account_id").is_in(owing))
    balances = balances_through(
        conn, through=judged, partition=ctx.partition, partitions=ctx.partitions, ids=ids
    )
    balances = balances.filter(pl.col("account_id").is_in(owing))
    sub_items = items.filter(pl.col("account_id").is_in(owing))
    pos = positions_on(sub, sub_items, balances, as_of=judged, products=ctx.products)
    received = _fee_type_payments(conn, owing, through=judged)
    running = sub_items.sort("account_id", "number").with_columns(
        (pl.col("principal_minor") + pl.col("interest_minor")).cum_sum().over("account_id").alias("_through")
    )
    short = (
        due.join(running.select("account_id", "number", "_through"), on=["account_id", "number"])
        .join(pos.select("account_id", "covered_minor"), on="account_id")
        .join(received, on="account_id", how="left")
        .with_columns(pl.col("_fee_paid").fill_null(0))
        .filter(pl.col("_through") > pl.col("covered_minor") + pl.col("_fee_paid"))
        .with_columns(pl.col("product_code").replace_strict(amount, return_dtype=pl.Int64).alias("_fee"))
    )
    entries = _entries(
        short,
        kind="charge",
        key=pl.lit("late-fee:") + pl.col("due_on").dt.strftime("%Y-%m-%d"),
        effective_on=pl.lit(ctx.as_of),
        now=ctx.now,
        amounts={"fee": pl.col("_fee")},
        memo="late fee after the grace period",
    )
    return _write_entries(conn, entries)


def _fee_type_payments(conn: Connection, account_ids: list[int], *, through: dt.date) -> pl.DataFrame:
    """Money from payments that the waterfall put on fees, costs, 罚息 or 复利 (by account)."""
    e = tables.LedgerEntry
    rows: list[tuple[int, int]] = []
    for start in range(0, len(account_ids), 20_000):
        chunk = account_ids[start : start + 20_000]
        for account_id, fee, cost, penalty, compound in conn.execute(
            select(e.account_id, e.fee_minor, e.cost_minor, e.penalty_minor, e.compound_minor).where(
                e.account_id.in_(chunk), e.kind.in_(("payment", "reversal")), e.effective_on <= through
            )
        ):
            rows.append((account_id, -(fee + cost + penalty + compound)))
    frame = pl.DataFrame(rows, schema={"account_id": pl.Int64, "_fee_paid": pl.Int64}, orient="row")
    return frame.group_by("account_id").agg(pl.col("_fee_paid").sum())


def _load_carries(conn: Connection, accounts: pl.DataFrame, ids: IdRange) -> pl.DataFrame:
    c = AccrualCarry
    stored = read_frame(
        conn,
        select(c.account_id, c.last_accrued_on, c.penalty_carry_units, c.compound_carry_units).where(
            c.account_id >= ids[0], c.account_id < ids[1]
        ),
        {
            "account_id": pl.Int64,
            "last_accrued_on": pl.Date,
            "penalty_carry_units": pl.String,
            "compound_carry_units": pl.String,
        },
    ).join(accounts.select("account_id"), on="account_id", how="semi")
    # An account never accrued starts from the date its imported balances were stated (which include
    # any 罚息 up to then): the original charged_through_on.
    return (
        accounts.select("account_id", "product_code", "annual_rate", "charged_through_on")
        .join(stored, on="account_id", how="left")
        .select(
            "account_id",
            "product_code",
            pl.col("annual_rate").str.to_decimal(scale=9).alias("annual_rate"),
            pl.coalesce("last_accrued_on", "charged_through_on").alias("last_accrued_on"),
            pl.col("penalty_carry_units").cast(pl.Int128).fill_null(0),
            pl.col("compound_carry_units").cast(pl.Int128).fill_null(0),
            pl.col("last_accrued_on").is_null().alias("_new"),
        )
    )


def _accrue_penalties(
    conn: Connection, accounts: pl.DataFrame, items: pl.DataFrame, ctx: CycleContext, ids: IdRange
) -> int:
    """Accrue every day from each account's last accrued day up to ``as_of``, oldest day first.

    The balances each day's accrual reads (everything effective up to the day before) are folded from
    the ledger once, then rolled forward a day at a time by the entries effective on that day (the
    day's accruals just posted included), instead of folding the whole ledger again for every day
    caught up.
    """
    products = {code: p for code, p in ctx.products.items() if p.penalty is not None or p.compound_interest}
    state = _load_carries(conn, accounts.filter(pl.col("product_code").is_in(list(products))), ids)
    state = state.filter(pl.col("last_accrued_on") < ctx.as_of)
    if state.height == 0:
        return 0
    posted = 0
    first_day = state["last_accrued_on"].min()
    assert isinstance(first_day, dt.date)
    day = first_day + ONE_DAY
    folded: pl.DataFrame | None = None  # balances through ``folded_through``
    folded_through = first_day
    while day <= ctx.as_of:
        today = state.filter(pl.col("last_accrued_on") == day - ONE_DAY)
        if today.height:
            if folded is None:
                folded = balances_through(
                    conn, through=day - ONE_DAY, partition=ctx.partition, partitions=ctx.partitions, ids=ids
                )
            else:
                while folded_through < day - ONE_DAY:
                    folded_through += ONE_DAY
                    folded = _roll_forward(folded, conn, ctx, ids, folded_through)
            folded_through = day - ONE_DAY
            accruing = today.select("account_id")
            sub = accounts.join(accruing, on="account_id", how="semi")
            balances = folded.join(accruing, on="account_id", how="semi")
            pos = positions_on(
                sub,
                items.join(accruing, on="account_id", how="semi"),
                balances,
                as_of=day - ONE_DAY,
                products=ctx.products,
            )
            overdue = pos.select(
                "account_id",
                pl.max_horizontal(
                    pl.col("principal_minor") - pl.col("future_principal_minor"), pl.lit(0)
                ).alias("overdue_principal_minor"),
                pl.max_horizontal(pl.col("interest_minor"), pl.lit(0)).alias("overdue_interest_minor"),
            )
            frame = today.join(overdue, on="account_id", how="left").with_columns(
                pl.col("overdue_principal_minor").fill_null(0), pl.col("overdue_interest_minor").fill_null(0)
            )
            for (code,), group in frame.group_by("product_code"):
                result = accrue_frame(group.drop("product_code", "_new"), day, product=products[str(code)])
                accrued = result.filter(pl.col("outcome") == "accrued")
                entries = _entries(
                    accrued.filter((pl.col("penalty_minor") != 0) | (pl.col("compound_minor") != 0)),
                    kind="accrual",
                    key=pl.lit(f"accrual:{day.isoformat()}"),
                    effective_on=pl.lit(day),
                    now=ctx.now,
                    amounts={"penalty": pl.col("penalty_minor"), "compound": pl.col("compound_minor")},
                    memo="daily penalty and compound interest",
                )
                posted += _write_entries(conn, entries)
                state = state.update(
                    accrued.select(
                        "account_id", "last_accrued_on", "penalty_carry_units", "compound_carry_units"
                    ),
                    on="account_id",
                )
        day += ONE_DAY
    final = state.sort("account_id").select(
        "account_id",
        "last_accrued_on",
        pl.col("penalty_carry_units").cast(pl.String),
        pl.col("compound_carry_units").cast(pl.String),
        "_new",
    )
    # The state loaded above holds every stored carry it replaces (the slice's open accounts of these
    # products not yet accrued through ``as_of``): those rows are updated in place, in one statement,
    # and the accounts without one (``_new``) get theirs inserted. On PostgreSQL this spares deleting
    # and inserting every row again (index entries and foreign key checks included).
    stored = final.filter(~pl.col("_new")).drop("_new")
    bulk.update_from_frame(conn, AccrualCarry.__table__, "account_id", stored)  # type: ignore[arg-type]
    bulk.insert_frame(conn, "accrual_carries", final.filter(pl.col("_new")).drop("_new"))
    return posted


def _roll_forward(
    folded: pl.DataFrame, conn: Connection, ctx: CycleContext, ids: IdRange, day: dt.date
) -> pl.DataFrame:
    """Balances through ``day`` from balances through the day before and the entries effective on ``day``."""
    added = balances_through(
        conn, through=day, on=day, partition=ctx.partition, partitions=ctx.partitions, ids=ids
    )
    if added.height == 0:
        return folded
    amounts = [f"{c}_minor" for c in COMPONENTS]
    return pl.concat([folded, added]).group_by("account_id").agg(pl.col(amounts).sum())


def _accounts_and_balances(
    conn: Connection, ctx: CycleContext, ids: IdRange
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The slice's open accounts and their ledger folds through the day."""
    balances = balances_through(
        conn, through=ctx.as_of, partition=ctx.partition, partitions=ctx.partitions, ids=ids
    )
    return _open_accounts(conn, ctx, ids), balances


def step_positions(conn: Connection, ctx: CycleContext) -> dict[str, Any]:
    """Snapshot each open account's balances, overdue amount, DPD and bucket at the end of the day."""
    p = DailyPosition
    # Only this step writes the day's rows of this partition, in this transaction; clearing them by
    # day and partition keeps a rerun exact without an id list per account.
    stale = delete(p).where(p.as_of == ctx.as_of)
    if ctx.partitions > 1:
        stale = stale.where(partition_filter(p.account_id, ctx.partition, ctx.partitions))  # type: ignore[arg-type]
    conn.execute(stale)
    written = 0
    by_bucket: dict[str, int] = {}
    for _ids, (accounts, balances) in read_ahead(
        conn, ctx, account_slices(conn, ctx), _accounts_and_balances
    ):
        pos = positions_on(
            accounts, schedule_items(accounts, take=True), balances, as_of=ctx.as_of, products=ctx.products
        )
        rows = pos.select(
            pl.lit(ctx.as_of).alias("as_of"),
            "account_id",
            "currency",
            "dpd",
            "bucket",
            *[f"{c}_minor" for c in COMPONENTS],
            "overdue_minor",
            "oldest_unpaid_due_on",
        ).sort("account_id")  # primary key order: (as_of, account_id)
        written += bulk.insert_frame(conn, "daily_positions", rows)
        for bucket, count in rows.group_by("bucket").len().iter_rows():
            by_bucket[bucket] = by_bucket.get(bucket, 0) + count
    return {"accounts": written, "by_bucket": dict(sorted(by_bucket.items()))}
