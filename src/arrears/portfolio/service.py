"""Reading the portfolio: one account in full, and the whole book by bucket."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from arrears.domain.delinquency import bucket_expr
from arrears.domain.ledger import Component
from arrears.domain.money import from_minor
from arrears.domain.positions import explode_schedules, positions
from arrears.domain.schedule_codec import pack_one
from arrears.errors import NotFoundError
from arrears.portfolio.products import product_catalogue
from arrears.store import personal, tables
from arrears.store.personal import PersonalKind
from arrears.store.sql import packed

__all__ = ["AccountView", "BucketRow", "account_view", "balances_frame", "portfolio_summary"]

COMPONENTS = tuple(c.value for c in Component)


@dataclass(frozen=True)
class AccountView:
    """Everything `arrears account show` prints. Personal fields are masked by the caller's rules."""

    external_id: str
    currency: str
    product: str
    status: str
    debtor: dict[str, Any]
    terms: dict[str, Any]
    balances: dict[str, Decimal]
    total: Decimal
    overdue: Decimal
    dpd: int
    oldest_unpaid_due_on: dt.date | None
    bucket: str
    bucket_scheme: str
    as_of: dt.date
    schedule: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class BucketRow:
    scheme: str
    bucket: str
    currency: str
    accounts: int
    balance: Decimal
    overdue: Decimal


def balances_frame(conn: Connection, *, as_of: dt.date, account_ids: list[int] | None = None) -> pl.DataFrame:
    """Ledger folds per account on ``as_of`` (entries effective on or before it)."""
    e = tables.LedgerEntry
    query = (
        select(e.account_id, *[func.coalesce(func.sum(getattr(e, f"{c}_minor")), 0) for c in COMPONENTS])
        .where(e.effective_on <= as_of)
        .group_by(e.account_id)
    )
    if account_ids is not None:
        query = query.where(e.account_id.in_(account_ids))
    rows = conn.execute(query).all()
    return pl.DataFrame(
        rows,
        schema={"account_id": pl.Int64, **{f"{c}_minor": pl.Int64 for c in COMPONENTS}},
        orient="row",
    )


def account_view(session: Session, external_id: str, *, as_of: dt.date, reveal: bool = False) -> AccountView:
    """One account with balances by component, DPD, bucket, schedule and ledger at ``as_of``."""
    account = session.scalar(select(tables.Account).where(tables.Account.external_id == external_id))
    if account is None:
        raise NotFoundError(
            f"no account {external_id!r}; check the account_id used at import", account=external_id
        )
    debtor = session.get_one(tables.Debtor, account.debtor_id)
    product = product_catalogue(session)[account.product_code]
    conn = session.connection()
    balances = balances_frame(conn, as_of=as_of, account_ids=[account.id])
    if balances.height == 0:
        balances = pl.DataFrame({"account_id": [account.id], **{f"{c}_minor": [0] for c in COMPONENTS}})
    balances = balances.with_columns(pl.lit(account.charged_through_on).alias("charged_through_on"))
    accounts = pl.DataFrame(
        {"account_id": [account.id], "schedule": [pack_one(account.schedule)]},
        schema={"account_id": pl.Int64, "schedule": pl.Binary},
    )
    items = explode_schedules(accounts)
    pos = positions(items, balances, as_of=as_of).row(0, named=True)
    bucket = pl.select(bucket_expr(pl.lit(pos["dpd"]), product.bucket_scheme)).item()
    cur = account.currency
    amounts = {c: from_minor(int(balances[f"{c}_minor"][0]), cur) for c in COMPONENTS}

    def shown(kind: PersonalKind, stored: str | None) -> str | None:
        if stored is None:
            return None
        value = personal.unseal(kind, stored)
        return value if reveal else personal.mask(kind, value)

    contacts = session.execute(
        select(tables.ContactPoint.kind, tables.ContactPoint.place, tables.ContactPoint.value)
        .where(tables.ContactPoint.debtor_id == debtor.id, tables.ContactPoint.person_id.is_(None))
        .order_by(tables.ContactPoint.id)
    ).all()
    covered = int(pos["covered_minor"])
    running = 0
    schedule_rows = []
    for number, due_on, principal, interest in items.select(
        "number", "due_on", "principal_minor", "interest_minor"
    ).iter_rows():
        running += principal + interest
        if running <= covered:
            state = "paid"
        elif due_on <= as_of:
            state = "overdue"
        else:
            state = "due"
        schedule_rows.append(
            {
                "number": number,
                "due_on": due_on,
                "principal": from_minor(principal, cur),
                "interest": from_minor(interest, cur),
                "state": state,
            }
        )
    entries = session.scalars(
        select(tables.LedgerEntry)
        .where(tables.LedgerEntry.account_id == account.id)
        .order_by(tables.LedgerEntry.effective_on, tables.LedgerEntry.id)
    ).all()
    ledger = [
        {
            "effective_on": e.effective_on,
            "kind": e.kind,
            "key": e.key,
            **{c: from_minor(getattr(e, f"{c}_minor"), cur) for c in COMPONENTS},
            "memo": e.memo,
        }
        for e in entries
    ]
    payments = [
        {
            "payment_id": p.external_id,
            "received_on": p.received_on,
            "amount": from_minor(p.amount_minor, cur),
            "unapplied": from_minor(p.unapplied_minor, cur),
            "status": p.status,
        }
        for p in session.scalars(
            select(tables.Payment).where(tables.Payment.account_id == account.id).order_by(tables.Payment.id)
        )
    ]
    return AccountView(
        external_id=account.external_id,
        currency=cur,
        product=account.product_code,
        status=account.status,
        debtor={
            "debtor_id": debtor.external_id,
            "name": shown(PersonalKind.NAME, debtor.name),
            "national_id": shown(PersonalKind.NATIONAL_ID, debtor.national_id),
            "jurisdiction": debtor.jurisdiction,
            "language": debtor.language,
            "contacts": [{"kind": k, "place": p, "value": shown(PersonalKind(k), v)} for k, p, v in contacts],
        },
        terms={
            "principal": from_minor(account.principal_minor, cur),
            "annual_rate": account.annual_rate,
            "term_months": account.term_months,
            "schedule_method": account.schedule_method,
            "opened_on": account.opened_on,
            "first_due_on": account.first_due_on,
        },
        balances=amounts,
        total=sum(amounts.values(), Decimal(0)),
        overdue=from_minor(int(pos["overdue_minor"]), cur),
        dpd=int(pos["dpd"]),
        oldest_unpaid_due_on=pos["oldest_unpaid_due_on"],
        bucket=str(bucket),
        bucket_scheme=str(product.bucket_scheme),
        as_of=as_of,
        schedule=schedule_rows,
        ledger=ledger,
        payments=payments,
    )


def portfolio_frame(engine: Engine, *, as_of: dt.date) -> pl.DataFrame:
    """One row per open account: product, currency, balances, overdue, DPD and bucket at ``as_of``."""
    with engine.connect() as conn:
        a = tables.Account
        rows = conn.execute(
            select(a.id, a.product_code, a.currency, a.charged_through_on, packed(a.schedule)).where(
                a.status == "open"
            )
        ).all()
        accounts = pl.DataFrame(
            rows,
            schema={
                "account_id": pl.Int64,
                "product_code": pl.String,
                "currency": pl.String,
                "charged_through_on": pl.Date,
                "schedule": pl.Binary,
            },
            orient="row",
        )
        balances = balances_frame(conn, as_of=as_of)
        with Session(bind=conn) as session:
            products = product_catalogue(session)
    scheme_of = {code: str(p.bucket_scheme) for code, p in products.items()}
    frame = accounts.join(balances, on="account_id", how="left").with_columns(
        [pl.col(f"{c}_minor").fill_null(0) for c in COMPONENTS]
    )
    pos = positions(
        explode_schedules(accounts),
        frame.select("account_id", *[f"{c}_minor" for c in COMPONENTS], "charged_through_on"),
        as_of=as_of,
    )
    frame = frame.join(pos, on="account_id", how="left").with_columns(
        pl.col("product_code").replace_strict(scheme_of, return_dtype=pl.String).alias("scheme"),
        pl.sum_horizontal([f"{c}_minor" for c in COMPONENTS]).alias("total_minor"),
    )
    parts = []
    for (scheme,), group in frame.group_by("scheme"):
        parts.append(
            group.with_columns(bucket_expr(pl.col("dpd"), str(scheme)).cast(pl.String).alias("bucket"))
        )
    if not parts:
        return frame.with_columns(pl.lit(None, dtype=pl.String).alias("bucket"))
    return pl.concat(parts)


def portfolio_summary(engine: Engine, *, as_of: dt.date) -> list[BucketRow]:
    """Counts, balances and overdue amounts by bucket scheme, bucket and currency."""
    frame = portfolio_frame(engine, as_of=as_of)
    if frame.height == 0:
        return []
    grouped = (
        frame.group_by("scheme", "bucket", "currency")
        .agg(
            pl.len().alias("accounts"),
            pl.col("total_minor").sum().alias("balance"),
            pl.col("overdue_minor").sum().alias("overdue"),
            pl.col("dpd").min().alias("_order"),
        )
        .sort("scheme", "currency", "_order")
    )
    return [
        BucketRow(
            scheme=r["scheme"],
            bucket=r["bucket"],
            currency=r["currency"],
            accounts=int(r["accounts"]),
            balance=from_minor(int(r["balance"]), r["currency"]),
            overdue=from_minor(int(r["overdue"]), r["currency"]),
        )
        for r in grouped.iter_rows(named=True)
    ]
