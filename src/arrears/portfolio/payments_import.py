"""Importing payments: validate, allocate by each product's waterfall in whole columns, post in bulk.

A payment is posted once (its ``payment_id`` is the key). A payment for an account that was never
imported is rejected, never guessed. Several payments to one account in a file are allocated in
order of value date and row, each against the balances the previous one left. A row with
``reverses_payment_id`` is a bounce: the original payment is reversed and every later payment on
that account is allocated again, so the ledger ends as if the bounced money had never arrived.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, insert, select, update

from arrears.audit.log import record_event
from arrears.domain.allocation import allocate, allocate_frame, resolve_order
from arrears.domain.ledger import Component
from arrears.domain.money import CURRENCY_EXPONENTS, from_minor
from arrears.domain.products import Product
from arrears.portfolio import checks
from arrears.portfolio.checks import PROBLEMS, collect_problems, column_problems, parse_date, problem
from arrears.portfolio.products import ensure_builtin_products, product_catalogue
from arrears.portfolio.readers import ROW, read_batches
from arrears.portfolio.report import ImportReport, RejectSink
from arrears.portfolio.schema import PAYMENT_COLUMNS
from arrears.portfolio.service import balances_frame
from arrears.store import bulk, tables
from arrears.store.db import UnitOfWork

__all__ = ["import_payments"]

REQUIRED = [c.name for c in PAYMENT_COLUMNS if c.required]
COMPONENTS = tuple(c.value for c in Component)


def _accounts(conn: Connection, external_ids: list[str]) -> pl.DataFrame:
    a = tables.Account
    rows: list[tuple[str, int, str, str]] = []
    for start in range(0, len(external_ids), 5000):
        rows += conn.execute(
            select(a.external_id, a.id, a.currency, a.product_code).where(
                a.external_id.in_(external_ids[start : start + 5000])
            )
        ).all()
    return pl.DataFrame(
        rows,
        schema={
            "account_id": pl.String,
            "_account_pk": pl.Int64,
            "_currency": pl.String,
            "_product": pl.String,
        },
        orient="row",
    )


def _known_payments(conn: Connection, external_ids: list[str]) -> set[str]:
    p = tables.Payment
    found: set[str] = set()
    for start in range(0, len(external_ids), 5000):
        found.update(
            conn.scalars(select(p.external_id).where(p.external_id.in_(external_ids[start : start + 5000])))
        )
    return found


def _validate(frame: pl.DataFrame, conn: Connection, seen: dict[str, int]) -> pl.DataFrame:
    """Typed columns plus ``_problems`` for every row (``seen``: see :func:`checks.first_rows`)."""
    for spec in PAYMENT_COLUMNS:
        if spec.name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(spec.name))
    frame = checks.blanks_to_null(frame, [c.name for c in PAYMENT_COLUMNS])
    frame = frame.with_columns(
        pl.col("payment_id").str.strip_chars(),
        pl.col("account_id").str.strip_chars(),
        pl.col("reverses_payment_id").str.strip_chars(),
    )
    frame = frame.with_columns(checks.first_rows(frame, "payment_id", seen).alias("_first_row"))
    accounts = _accounts(conn, frame["account_id"].drop_nulls().unique().to_list())
    known = _known_payments(conn, frame["payment_id"].drop_nulls().unique().to_list())
    frame = frame.join(accounts, on="account_id", how="left").with_columns(
        pl.coalesce(pl.col("currency").str.strip_chars().str.to_uppercase(), pl.col("_currency")).alias(
            "currency"
        ),
    )
    frame = frame.with_columns(
        checks.lookup(CURRENCY_EXPONENTS, pl.col("currency"), pl.Int32).alias("_exp"),
        parse_date("received_on").alias("_received_on"),
        pl.col("payment_id").is_in(list(known)).alias("_already_posted"),
    ).with_columns(checks.money_minor("amount", pl.col("_exp")).alias("_amount"))
    cross = [
        problem("account_id", pl.col("account_id").is_not_null() & pl.col("_account_pk").is_null(),
                pl.lit("no account '") + pl.col("account_id") + pl.lit("' has been imported")),
        problem("currency", pl.col("_currency").is_not_null() & (pl.col("currency") != pl.col("_currency")),
                pl.lit("is ") + pl.col("currency") + pl.lit(" but the account is in ") + pl.col("_currency")),
        problem("amount", pl.col("_amount") == 0, "must be greater than zero"),
        problem("amount", pl.col("amount").is_not_null() & pl.col("_exp").is_not_null()
                & pl.col("amount").str.strip_chars().str.replace_all(",", "").str.contains(checks.MONEY_PATTERN)
                & pl.col("_amount").is_null(),
                pl.lit("has more decimal places than ") + pl.col("currency") + pl.lit(" allows")),
        problem("payment_id", pl.col("_first_row") != pl.col(ROW),
                pl.lit("repeats row ") + pl.col("_first_row").cast(pl.String)
                + pl.lit("; only the first row of a payment_id is imported")),
    ]  # fmt: skip
    return collect_problems(frame, [*column_problems(PAYMENT_COLUMNS, frame.columns), *cross])


def import_payments(*, engine: Engine, path: Path, actor: str, now: dt.datetime, batch_rows: int = 20_000,
                    progress: object = None) -> ImportReport:  # fmt: skip
    """Import a payments file (see docs/data-formats.md)."""
    batches = read_batches(path, required=REQUIRED, batch_rows=batch_rows)
    report = ImportReport(kind="payments", source=str(path))
    sink = RejectSink(path)
    seen: dict[str, int] = {}
    reversed_count = 0
    with UnitOfWork(engine) as uow:
        ensure_builtin_products(uow.session, now=now)
        products = product_catalogue(uow.session)
        conn = uow.connection
        for batch in batches:
            sink.add_many(batch.problems)
            report.rows_read += batch.frame.height + len(batch.problems)
            frame = _validate(batch.frame, conn, seen)
            rejected = frame.filter(pl.col(PROBLEMS).list.len() > 0)
            sink.add_frame(rejected.select(ROW, PROBLEMS))
            report.rows_rejected += rejected.height + len(batch.problems)
            good = frame.filter(pl.col(PROBLEMS).list.len() == 0)
            report.rows_unchanged += good.filter(pl.col("_already_posted")).height
            fresh = good.filter(~pl.col("_already_posted"))
            bounces = fresh.filter(pl.col("reverses_payment_id").is_not_null())
            payments = fresh.filter(pl.col("reverses_payment_id").is_null())
            report.rows_inserted += _post_payments(conn, payments, products, now=now)
            for row in bounces.iter_rows(named=True):
                problem_text = _reverse(conn, row, products, now=now)
                if problem_text:
                    sink.add_many([(int(row[ROW]), "reverses_payment_id", problem_text)])
                    report.rows_rejected += 1
                else:
                    reversed_count += 1
                    report.rows_inserted += 1
            if callable(progress):
                progress(batch.frame.height + len(batch.problems))
        report.extra["reversals"] = reversed_count
        report.rejects_path = sink.finish()
        run = tables.ImportRun(
            kind="payments", source=str(path), actor=actor, started_at=now, finished_at=now,
            rows_read=report.rows_read, rows_inserted=report.rows_inserted, rows_updated=0,
            rows_unchanged=report.rows_unchanged, rows_rejected=report.rows_rejected,
            rejects_path=str(report.rejects_path) if report.rejects_path else None,
        )  # fmt: skip
        uow.session.add(run)
        uow.session.flush()
        report.run_id = run.id
        record_event(
            uow.session, actor=actor, action="portfolio.payments_imported", subject_type="import_run",
            subject_id=str(run.id), at=now, details=report.counts(),
        )  # fmt: skip
        uow.commit()
    sink.publish()
    return report


def _order_of(products: dict[str, Product], code: str) -> tuple[Component, ...]:
    return resolve_order(products[code].allocation)


def _post_payments(conn: Connection, payments: pl.DataFrame, products: dict[str, Product], *,
                   now: dt.datetime) -> int:  # fmt: skip
    """Allocate and post new payments in rounds: the n-th payment of every account in round n."""
    if payments.height == 0:
        return 0
    payments = payments.sort("_received_on", ROW).with_columns(
        pl.int_range(pl.len()).over("_account_pk").alias("_round"),
    )
    ids = payments["_account_pk"].unique().to_list()
    latest = payments["_received_on"].max()
    assert isinstance(latest, dt.date)
    balances = balances_frame(conn, as_of=dt.date.max, account_ids=ids).rename({"account_id": "_account_pk"})
    payment_rows: list[pl.DataFrame] = []
    for round_no in range(int(payments["_round"].max()) + 1):  # type: ignore[arg-type]
        this = payments.filter(pl.col("_round") == round_no).join(balances, on="_account_pk", how="left")
        this = this.with_columns([pl.col(f"{c}_minor").fill_null(0) for c in COMPONENTS])
        this = this.with_columns(pl.col("_amount").alias("payment_minor"))
        allocated: list[pl.DataFrame] = []
        for (code,), group in this.group_by("_product"):
            order = _order_of(products, str(code))
            done = allocate_frame(group, order)
            for c in COMPONENTS:
                if f"applied_{c}_minor" not in done.columns:
                    done = done.with_columns(pl.lit(0, dtype=pl.Int64).alias(f"applied_{c}_minor"))
            allocated.append(done)
        done = pl.concat(allocated, how="diagonal_relaxed")
        payment_rows.append(done)
        # Balances after this round feed the next one.
        balances = balances.join(
            done.select(
                "_account_pk", *[pl.col(f"applied_{c}_minor").alias(f"_paid_{c}") for c in COMPONENTS]
            ),
            on="_account_pk",
            how="left",
        ).select(
            "_account_pk",
            *[
                (pl.col(f"{c}_minor") - pl.col(f"_paid_{c}").fill_null(0)).alias(f"{c}_minor")
                for c in COMPONENTS
            ],
        )
    done = pl.concat(payment_rows, how="diagonal_relaxed")
    # Ids are reserved once for the whole batch: on SQLite they come from MAX(id), which only moves on insert.
    done = done.with_columns(bulk.allocate_ids(conn, "payments", done.height).alias("_payment_pk"))
    bulk.insert_frame(
        conn,
        "payments",
        done.select(
            pl.col("_payment_pk").alias("id"),
            pl.col("payment_id").alias("external_id"),
            pl.col("_account_pk").alias("account_id"),
            pl.col("_amount").alias("amount_minor"),
            pl.col("currency"),
            pl.col("_received_on").alias("received_on"),
            pl.col("channel").str.strip_chars().alias("channel"),
            pl.col("reference").str.strip_chars().alias("reference"),
            pl.col("excess_minor").alias("unapplied_minor"),
            pl.lit("posted").alias("status"),
            pl.lit(now).alias("created_at"),
            pl.lit(1).alias("version"),
        ),
    )
    entries = done.select(
        pl.col("_account_pk").alias("account_id"),
        (pl.lit("payment:") + pl.col("payment_id")).alias("key"),
        pl.lit("payment").alias("kind"),
        pl.col("_received_on").alias("effective_on"),
        pl.lit(now).alias("posted_at"),
        *[(-pl.col(f"applied_{c}_minor")).alias(f"{c}_minor") for c in COMPONENTS],
        pl.lit(None, dtype=pl.String).alias("reverses_key"),
        pl.lit(None, dtype=pl.String).alias("memo"),
    )
    entries = entries.with_columns(bulk.allocate_ids(conn, "ledger_entries", entries.height).alias("id"))
    bulk.insert_frame(conn, "ledger_entries", entries)
    return done.height


def _reverse(conn: Connection, row: dict[str, object], products: dict[str, Product], *,
             now: dt.datetime) -> str | None:  # fmt: skip
    """Reverse a bounced payment and re-allocate the later ones; returns a problem text or None."""
    p, e = tables.Payment, tables.LedgerEntry
    original = conn.execute(select(p).where(p.external_id == row["reverses_payment_id"])).first()
    if original is None:
        return f"no payment '{row['reverses_payment_id']}' has been posted"
    if original.status != "posted":
        return f"payment '{original.external_id}' is already reversed"
    if original.account_id != row["_account_pk"]:
        return f"payment '{original.external_id}' was not made to account '{row['account_id']}'"
    if original.amount_minor != row["_amount"]:
        return f"amount must equal the reversed payment's amount ({from_minor(original.amount_minor, original.currency)})"
    received_on = row["_received_on"]
    assert isinstance(received_on, dt.date)
    later = conn.execute(
        select(p)
        .where(p.account_id == original.account_id, p.status == "posted", p.id > original.id)
        .order_by(p.id)
    ).all()
    # Undo the bounced payment and every later allocation, newest first.
    current = {
        r.key: r
        for r in conn.execute(select(e).where(e.account_id == original.account_id, e.kind == "payment")).all()
    }
    undo_keys = [_latest_key(current, original.external_id)]
    undo_keys += [_latest_key(current, lp.external_id) for lp in later]
    new_entries: list[dict[str, object]] = []
    for key in undo_keys:
        entry = current.get(key) if key else None
        if entry is None:
            continue
        assert key is not None
        new_entries.append(
            {
                "account_id": original.account_id, "key": f"reversal:{row['payment_id']}:{key}", "kind": "reversal",
                "effective_on": received_on, "posted_at": now, "reverses_key": key,
                "memo": f"bounced payment {original.external_id}",
                **{f"{c}_minor": -getattr(entry, f"{c}_minor") for c in COMPONENTS},
            }
        )  # fmt: skip
    balances = balances_frame(conn, as_of=dt.date.max, account_ids=[original.account_id])
    owed = {Component(c): int(balances[f"{c}_minor"][0]) if balances.height else 0 for c in COMPONENTS}
    for undo in new_entries:
        for c in COMPONENTS:
            owed[Component(c)] += int(undo[f"{c}_minor"])  # type: ignore[call-overload]
    account = conn.execute(
        select(tables.Account.product_code).where(tables.Account.id == original.account_id)
    )
    order = _order_of(products, account.scalar_one())
    for lp in later:
        allocation = allocate(lp.amount_minor, owed, order)
        for comp, amount in allocation.applied.items():
            owed[comp] -= amount
        new_entries.append(
            {
                "account_id": lp.account_id, "key": f"payment:{lp.external_id}:after:{row['payment_id']}",
                "kind": "payment", "effective_on": lp.received_on, "posted_at": now, "reverses_key": None,
                "memo": f"re-allocated after bounce of {original.external_id}",
                **{f"{c}_minor": -allocation.applied.get(Component(c), 0) for c in COMPONENTS},
            }
        )  # fmt: skip
        conn.execute(
            update(p)
            .where(p.id == lp.id)
            .values(unapplied_minor=allocation.excess_minor, version=p.version + 1)
        )
    conn.execute(update(p).where(p.id == original.id).values(status="reversed", version=p.version + 1))
    frame = pl.DataFrame(new_entries).with_columns(pl.col("effective_on").cast(pl.Date))
    frame = frame.with_columns(bulk.allocate_ids(conn, "ledger_entries", frame.height).alias("id"))
    bulk.insert_frame(conn, "ledger_entries", frame)
    conn.execute(
        insert(tables.Payment).values(
            external_id=row["payment_id"], account_id=original.account_id, amount_minor=-original.amount_minor,
            currency=original.currency, received_on=received_on, channel=row.get("channel"),
            reference=row.get("reference"), unapplied_minor=0, status="reversal", created_at=now, version=1,
        )
    )  # fmt: skip
    return None


def _latest_key(entries: dict[str, Any], external_id: str) -> str | None:
    """The key of the allocation of ``external_id`` currently in force (the newest one written)."""
    candidates = [
        row for key, row in entries.items()
        if key == f"payment:{external_id}" or key.startswith(f"payment:{external_id}:after:")
    ]  # fmt: skip
    return max(candidates, key=lambda r: r.id).key if candidates else None
