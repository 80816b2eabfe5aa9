"""Use cases of outside collection agencies: terms, compliance paperwork, placements, recalls, results.

A placement is active on the dates ``placed_on <= d < min(ends_on, recalled_on)``; a payment is
credited to the placement active on its ``received_on``. Services never commit; every state change
writes its audit event in the same transaction. A refused placement or recall raises before anything
is written, and no audit event records the refusal: the audit log holds changes, and the refusal is
reported to whoever asked (see docs/allocation.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import polars as pl
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from arrears.allocation.enums import RecallReason
from arrears.allocation.rules import placement_refusals
from arrears.allocation.tables import Agency, Placement
from arrears.audit.log import record_event
from arrears.errors import ConflictError, NotFoundError, ValidationError
from arrears.portfolio.service import balances_frame
from arrears.store import bulk
from arrears.store import tables as core

__all__ = [
    "AgencyView",
    "PlacementReport",
    "add_agency",
    "agency_results",
    "list_agencies",
    "place_accounts",
    "recall_accounts",
    "recall_expired",
    "record_agreement",
    "record_evaluation",
    "resolve_accounts",
]

_CHUNK = 5_000
_RATE_PLACES = Decimal("0.000001")
_COMPONENTS = ("principal", "interest", "penalty", "compound", "fee", "cost")


@dataclass(frozen=True)
class AgencyView:
    id: int
    code: str
    name: str
    commission_rate: Decimal
    placement_days: int
    recall_idle_days: int | None
    compliance_evaluated_on: dt.date | None
    dpa_signed_on: dt.date | None
    dpa_reference: str | None


@dataclass(frozen=True)
class PlacementReport:
    agency: str
    on: dt.date
    ends_on: dt.date | None
    accounts: int
    balance_minor: dict[str, int]


def _view(a: Agency) -> AgencyView:
    return AgencyView(
        a.id, a.code, a.name, a.commission_rate, a.placement_days, a.recall_idle_days,
        a.compliance_evaluated_on, a.dpa_signed_on, a.dpa_reference,
    )  # fmt: skip


def _agency(session: Session, code: str) -> Agency:
    found = session.scalar(select(Agency).where(Agency.code == code))
    if found is None:
        raise NotFoundError(f"no agency {code!r}; add it with `arrears agency add`", agency=code)
    return found


def _check_rate(rate: Decimal | str) -> Decimal:
    try:
        value = Decimal(str(rate))
    except InvalidOperation:
        raise ValidationError(f"commission rate {rate!r} is not a number", field="commission_rate") from None
    if not value.is_finite() or value < 0 or value > 1:
        raise ValidationError(
            "commission rate is a fraction of collections from 0 to 1 (0.25 = 25%)",
            field="commission_rate",
            value=str(rate),
        )
    return value


def add_agency(
    session: Session,
    *,
    code: str,
    name: str,
    commission_rate: Decimal | str,
    placement_days: int,
    recall_idle_days: int | None = None,
    actor: str,
    now: dt.datetime,
) -> AgencyView:
    """Add an agency with its commission (a fraction of gross collections) and placement terms.

    ``placement_days``: how long a placement lasts before it is recalled automatically;
    ``recall_idle_days``: recall a placement that brought no payment in that many days (optional).
    """
    if not code or len(code) > 64 or code != code.strip():
        raise ValidationError("an agency code is 1 to 64 characters without surrounding spaces", field="code")
    if not name.strip() or len(name) > 128:
        raise ValidationError("an agency needs a name of at most 128 characters", field="name")
    rate = _check_rate(commission_rate)
    if not 1 <= placement_days <= 3650:
        raise ValidationError(
            "placement days run from 1 to 3650", field="placement_days", value=placement_days
        )
    if recall_idle_days is not None and not 1 <= recall_idle_days < placement_days:
        raise ValidationError(
            "recall idle days run from 1 to less than the placement days",
            field="recall_idle_days",
            value=recall_idle_days,
        )
    if session.scalar(select(Agency.id).where(Agency.code == code)) is not None:
        raise ValidationError(f"agency {code!r} already exists", field="code", value=code)
    row = Agency(
        code=code, name=name.strip(), commission_rate=rate, placement_days=placement_days,
        recall_idle_days=recall_idle_days,
    )  # fmt: skip
    session.add(row)
    session.flush()
    record_event(
        session, actor=actor, action="add_agency", subject_type="agency", subject_id=code, at=now,
        after={
            "agency_name": row.name, "commission_rate": str(rate), "placement_days": placement_days,
            "recall_idle_days": recall_idle_days,
        },
    )  # fmt: skip
    return _view(row)


def _not_future(day: dt.date, now: dt.datetime, field: str) -> None:
    if day > now.astimezone(dt.UTC).date():
        raise ValidationError(f"{field} {day} is in the future", field=field, value=day.isoformat())


def record_evaluation(
    session: Session, *, agency: str, evaluated_on: dt.date, actor: str, now: dt.datetime
) -> AgencyView:
    """Record the date of the agency's latest compliance evaluation (GB/T 45251—2025: at least yearly)."""
    row = _agency(session, agency)
    _not_future(evaluated_on, now, "evaluated_on")
    before = row.compliance_evaluated_on
    if before is not None and evaluated_on < before:
        raise ValidationError(
            f"the agency was already evaluated later, on {before}",
            field="evaluated_on",
            value=str(evaluated_on),
        )
    row.compliance_evaluated_on = evaluated_on
    session.flush()
    record_event(
        session, actor=actor, action="record_agency_evaluation", subject_type="agency", subject_id=agency,
        at=now, before={"compliance_evaluated_on": before}, after={"compliance_evaluated_on": evaluated_on},
    )  # fmt: skip
    return _view(row)


def record_agreement(
    session: Session, *, agency: str, signed_on: dt.date, reference: str, actor: str, now: dt.datetime
) -> AgencyView:
    """Record the data-processing agreement with the agency (PIPL art. 21): date signed and reference."""
    row = _agency(session, agency)
    _not_future(signed_on, now, "signed_on")
    if not reference.strip():
        raise ValidationError("a data-processing agreement needs a reference", field="reference")
    before = {"dpa_signed_on": row.dpa_signed_on, "dpa_reference": row.dpa_reference}
    row.dpa_signed_on = signed_on
    row.dpa_reference = reference.strip()
    session.flush()
    record_event(
        session, actor=actor, action="record_agency_agreement", subject_type="agency", subject_id=agency,
        at=now, before=before, after={"dpa_signed_on": signed_on, "dpa_reference": row.dpa_reference},
    )  # fmt: skip
    return _view(row)


def list_agencies(session: Session) -> list[AgencyView]:
    """Every agency, by code."""
    return [_view(a) for a in session.scalars(select(Agency).order_by(Agency.code))]


def resolve_accounts(session: Session, external_ids: Sequence[str]) -> list[int]:
    """Account ids for external ids (in the order given); any unknown id is a :class:`NotFoundError`."""
    wanted = list(dict.fromkeys(e.strip() for e in external_ids if e.strip()))
    a = core.Account
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        rows = session.execute(select(a.external_id, a.id).where(a.external_id.in_(part))).all()
        found.update({str(ext): int(n) for ext, n in rows})
    unknown = [e for e in wanted if e not in found]
    if unknown:
        raise NotFoundError(
            f"{len(unknown)} account(s) not on file, e.g. {', '.join(unknown[:5])}", accounts=unknown[:20]
        )
    return [found[e] for e in wanted]


def _active(conn: Connection, account_ids: list[int], on: dt.date) -> pl.DataFrame:
    p = Placement
    rows: list[Any] = []
    for start in range(0, len(account_ids), _CHUNK):
        part = account_ids[start : start + _CHUNK]
        rows.extend(
            conn.execute(
                select(p.id, p.account_id, p.agency_id).where(
                    p.account_id.in_(part), p.recalled_on.is_(None), p.placed_on <= on, p.ends_on > on
                )
            ).all()
        )
    return pl.DataFrame(
        rows, schema={"id": pl.Int64, "account_id": pl.Int64, "agency_id": pl.Int64}, orient="row"
    )


def place_accounts(
    session: Session, *, agency: str, account_ids: Sequence[int], on: dt.date, actor: str, now: dt.datetime
) -> PlacementReport:
    """Place open accounts with ``agency`` on ``on`` at its current commission, in bulk.

    Refused, with nothing written, when the agency's compliance evaluation is missing or more than a
    year old (GB/T 45251—2025) or no data-processing agreement is on file (PIPL art. 21); when an
    account is unknown, not open, has no balance, or is already placed with an agency on that date.
    The balance placed is the ledger balance (every component) on ``on``.
    """
    row = _agency(session, agency)
    refusals = placement_refusals(
        compliance_evaluated_on=row.compliance_evaluated_on, dpa_signed_on=row.dpa_signed_on, on=on
    )
    if refusals:
        raise ValidationError(
            f"placement with {agency} refused: " + "; ".join(r.message for r in refusals),
            field="agency",
            agency=agency,
            refusals=[r.code for r in refusals],
        )
    ids = sorted(set(account_ids))
    if not ids:
        raise ValidationError("no accounts to place", field="accounts")
    conn = session.connection()
    a = core.Account
    accounts: list[Any] = []
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        accounts.extend(conn.execute(select(a.id, a.currency, a.status).where(a.id.in_(part))).all())
    frame = pl.DataFrame(
        accounts, schema={"account_id": pl.Int64, "currency": pl.String, "status": pl.String}, orient="row"
    )
    if frame.height != len(ids):
        unknown = sorted(set(ids) - set(frame.get_column("account_id").to_list()))
        raise NotFoundError(
            f"{len(unknown)} account(s) not on file, e.g. {unknown[:5]}", accounts=unknown[:20]
        )
    closed = frame.filter(pl.col("status") != "open").get_column("account_id").to_list()
    if closed:
        raise ValidationError(
            f"{len(closed)} account(s) are not open, e.g. {closed[:5]}", accounts=closed[:20]
        )
    taken = _active(conn, ids, on).get_column("account_id").to_list()
    if taken:
        raise ConflictError(
            f"{len(taken)} account(s) are already placed with an agency on {on}, e.g. {taken[:5]}",
            accounts=taken[:20],
        )
    balances = pl.concat(
        [balances_frame(conn, as_of=on, account_ids=ids[s : s + _CHUNK]) for s in range(0, len(ids), _CHUNK)]
    ).select(
        "account_id", pl.sum_horizontal([f"{c}_minor" for c in _COMPONENTS]).alias("placed_balance_minor")
    )
    frame = frame.join(balances, on="account_id", how="left").with_columns(
        pl.col("placed_balance_minor").fill_null(0)
    )
    empty = frame.filter(pl.col("placed_balance_minor") <= 0).get_column("account_id").to_list()
    if empty:
        raise ValidationError(
            f"{len(empty)} account(s) owe nothing on {on}, e.g. {empty[:5]}", accounts=empty[:20]
        )
    ends_on = on + dt.timedelta(days=row.placement_days)
    rows = frame.sort("account_id").select(
        pl.lit(row.id).alias("agency_id"),
        "account_id",
        pl.lit(on).alias("placed_on"),
        pl.lit(ends_on).alias("ends_on"),
        pl.lit(str(row.commission_rate)).alias("commission_rate"),
        "placed_balance_minor",
        "currency",
        pl.lit(None, dtype=pl.Date).alias("recalled_on"),
        pl.lit(None, dtype=pl.String).alias("recall_reason"),
        pl.lit(1).alias("version"),
    )
    rows = rows.with_columns(bulk.allocate_ids(conn, "placements", rows.height).alias("id"))
    bulk.insert_frame(conn, "placements", rows)
    totals = {
        str(c): int(v)
        for c, v in rows.group_by("currency")
        .agg(pl.col("placed_balance_minor").sum())
        .sort("currency")
        .iter_rows()
    }
    record_event(
        session, actor=actor, action="place_accounts", subject_type="agency", subject_id=agency, at=now,
        details={
            "placed_on": on, "ends_on": ends_on, "commission_rate": str(row.commission_rate),
            "accounts": rows.height, "balance_minor": totals, "account_ids": ids,
        },
    )  # fmt: skip
    return PlacementReport(agency, on, ends_on, rows.height, totals)


def recall_accounts(
    session: Session,
    *,
    agency: str,
    account_ids: Sequence[int],
    on: dt.date,
    reason: str = RecallReason.MANUAL,
    actor: str,
    now: dt.datetime,
) -> int:
    """Recall accounts from ``agency`` as of ``on`` (payments from ``on`` are no longer theirs).

    Every account must be actively placed with that agency on ``on``; otherwise nothing is recalled.
    """
    row = _agency(session, agency)
    ids = sorted(set(account_ids))
    if not ids:
        raise ValidationError("no accounts to recall", field="accounts")
    if not reason.strip() or len(reason) > 200:
        raise ValidationError("a recall reason is 1 to 200 characters", field="reason")
    conn = session.connection()
    active = _active(conn, ids, on).filter(pl.col("agency_id") == row.id)
    missing = sorted(set(ids) - set(active.get_column("account_id").to_list()))
    if missing:
        raise ValidationError(
            f"{len(missing)} account(s) are not placed with {agency} on {on}, e.g. {missing[:5]}",
            field="accounts",
            accounts=missing[:20],
        )
    updates = active.select(
        "id", pl.lit(on).alias("recalled_on"), pl.lit(reason.strip()).alias("recall_reason")
    )
    bulk.update_rows(conn, Placement.__table__, "id", updates)  # type: ignore[arg-type]
    record_event(
        session, actor=actor, action="recall_accounts", subject_type="agency", subject_id=agency, at=now,
        details={"recalled_on": on, "reason": reason.strip(), "accounts": len(ids), "account_ids": ids},
    )  # fmt: skip
    return len(ids)


def recall_expired(conn: Connection, *, as_of: dt.date, actor: str, now: dt.datetime) -> dict[str, int]:
    """Recall every placement whose term has run out or whose agency's no-payment rule has fired.

    A placement is recalled on its ``ends_on`` when that date is on or before ``as_of``
    (``term_expired``), or on ``placed_on + recall_idle_days`` when that date is on or before ``as_of``,
    earlier than its end, and no posted payment was received in between (``no_payment``). Idempotent:
    a recalled placement is never recalled again. One audit event per agency recalled from.
    """
    p, g = Placement, Agency
    rows = conn.execute(
        select(p.id, p.account_id, p.placed_on, p.ends_on, g.code, g.recall_idle_days)
        .join(g, g.id == p.agency_id)
        .where(p.recalled_on.is_(None), p.placed_on <= as_of)
    ).all()
    active = pl.DataFrame(
        rows,
        schema={
            "id": pl.Int64, "account_id": pl.Int64, "placed_on": pl.Date, "ends_on": pl.Date,
            "agency": pl.String, "recall_idle_days": pl.Int64,
        },
        orient="row",
    ).with_columns(
        (pl.col("placed_on") + pl.duration(days=pl.col("recall_idle_days"))).alias("idle_on")
    )  # fmt: skip
    idle = active.filter(
        pl.col("idle_on").is_not_null()
        & (pl.col("idle_on") <= as_of)
        & (pl.col("idle_on") < pl.col("ends_on"))
    )
    if idle.height:
        paid = _payments(conn, idle.get_column("account_id").unique().to_list(), idle["placed_on"].min())
        credited = (
            idle.join(paid, on="account_id", how="inner")
            .filter(
                (pl.col("received_on") >= pl.col("placed_on")) & (pl.col("received_on") < pl.col("idle_on"))
            )
            .select("id")
            .unique()
        )
        idle = idle.join(credited, on="id", how="anti")
    idle = idle.select(
        "id",
        "agency",
        pl.col("idle_on").alias("recalled_on"),
        pl.lit(str(RecallReason.NO_PAYMENT)).alias("recall_reason"),
    )
    expired = (
        active.join(idle.select("id"), on="id", how="anti")
        .filter(pl.col("ends_on") <= as_of)
        .select(
            "id",
            "agency",
            pl.col("ends_on").alias("recalled_on"),
            pl.lit(str(RecallReason.TERM_EXPIRED)).alias("recall_reason"),
        )
    )
    recalled = pl.concat([idle, expired]).sort("id")
    if recalled.height == 0:
        return {}
    bulk.update_rows(conn, Placement.__table__, "id", recalled.drop("agency"))  # type: ignore[arg-type]
    counts = {
        str(r): int(n) for r, n in recalled.group_by("recall_reason").len().sort("recall_reason").iter_rows()
    }
    session = Session(bind=conn, autoflush=False)
    for agency, group in recalled.group_by("agency", maintain_order=False):
        code = str(agency[0])
        by_reason = dict(group.group_by("recall_reason").len().sort("recall_reason").iter_rows())
        record_event(
            session, actor=actor, action="recall_expired", subject_type="agency", subject_id=code, at=now,
            details={"as_of": as_of, "by_reason": by_reason, "placement_ids": sorted(group["id"].to_list())},
        )  # fmt: skip
    return counts


def _payments(conn: Connection, account_ids: list[int], since: Any) -> pl.DataFrame:
    pay = core.Payment
    rows: list[Any] = []
    for start in range(0, len(account_ids), _CHUNK):
        part = account_ids[start : start + _CHUNK]
        query = select(pay.account_id, pay.received_on, pay.amount_minor).where(
            pay.account_id.in_(part), pay.status == "posted"
        )
        if since is not None:
            query = query.where(pay.received_on >= since)
        rows.extend(conn.execute(query).all())
    return pl.DataFrame(
        rows, schema={"account_id": pl.Int64, "received_on": pl.Date, "amount_minor": pl.Int64}, orient="row"
    )


def _months(day: pl.Expr) -> pl.Expr:
    return day.dt.year().cast(pl.Int64) * 12 + day.dt.month().cast(pl.Int64) - 1


def agency_results(session: Session, *, as_of: dt.date, agency: str | None = None) -> pl.DataFrame:
    """Liquidation by placement vintage and months since placement, per agency and currency.

    Liquidation rate = gross collected / balance placed (collections-math.md §1.2), cumulative over
    months since placement: month 0 is the calendar month of placement. Payments count when received
    on or before ``as_of`` while the placement was active. Commission is each month's collections ×
    the placement's rate, rounded half-up to the minor unit per rate. One row per agency, currency,
    vintage (``YYYY-MM``) and month from 0 to the month of ``as_of``; rates have six decimals.
    """
    p, g = Placement, Agency
    query = select(
        p.id, g.code, p.account_id, p.placed_on, p.ends_on, p.recalled_on, p.commission_rate,
        p.placed_balance_minor, p.currency,
    ).join(g, g.id == p.agency_id).where(p.placed_on <= as_of)  # fmt: skip
    if agency is not None:
        _agency(session, agency)
        query = query.where(g.code == agency)
    conn = session.connection()
    placements = pl.DataFrame(
        [(*r[:6], str(r[6]), *r[7:]) for r in conn.execute(query).all()],
        schema={
            "placement_id": pl.Int64, "agency": pl.String, "account_id": pl.Int64, "placed_on": pl.Date,
            "ends_on": pl.Date, "recalled_on": pl.Date, "commission_rate": pl.String,
            "placed_balance_minor": pl.Int64, "currency": pl.String,
        },
        orient="row",
    ).with_columns(
        pl.min_horizontal("ends_on", "recalled_on").alias("_until"),
        pl.col("placed_on").dt.strftime("%Y-%m").alias("vintage"),
        _months(pl.col("placed_on")).alias("_vintage_month"),
    )  # fmt: skip
    schema = {
        "agency": pl.String, "currency": pl.String, "vintage": pl.String, "months_since_placement": pl.Int64,
        "placements": pl.Int64, "placed_balance_minor": pl.Int64, "collected_minor": pl.Int64,
        "cumulative_collected_minor": pl.Int64, "liquidation_rate": pl.String, "commission_minor": pl.Int64,
    }  # fmt: skip
    if placements.height == 0:
        return pl.DataFrame(schema=schema)
    payments = _payments(
        conn, placements.get_column("account_id").unique().to_list(), placements["placed_on"].min()
    ).filter(pl.col("received_on") <= as_of)
    credited = (
        placements.join(payments, on="account_id", how="inner")
        .filter((pl.col("received_on") >= pl.col("placed_on")) & (pl.col("received_on") < pl.col("_until")))
        .with_columns(
            (_months(pl.col("received_on")) - pl.col("_vintage_month")).alias("months_since_placement")
        )
    )
    keys = ["agency", "currency", "vintage"]
    monthly = credited.group_by(*keys, "months_since_placement", "commission_rate").agg(
        pl.col("amount_minor").sum().alias("collected_minor")
    )
    commission = [
        int((Decimal(amount) * Decimal(rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        for amount, rate in monthly.select("collected_minor", "commission_rate").iter_rows()
    ]
    monthly = (
        monthly.with_columns(pl.Series("commission_minor", commission, dtype=pl.Int64))
        .group_by(*keys, "months_since_placement")
        .agg(pl.col("collected_minor").sum(), pl.col("commission_minor").sum())
    )
    cohorts = placements.group_by(*keys).agg(
        pl.len().cast(pl.Int64).alias("placements"),
        pl.col("placed_balance_minor").sum(),
        pl.col("_vintage_month").first(),
    )
    last = _months(pl.lit(as_of))
    grid = cohorts.with_columns(
        pl.int_ranges(0, last - pl.col("_vintage_month") + 1, dtype=pl.Int64).alias("months_since_placement")
    ).explode("months_since_placement")
    table = (
        grid.join(monthly, on=[*keys, "months_since_placement"], how="left")
        .with_columns(pl.col("collected_minor").fill_null(0), pl.col("commission_minor").fill_null(0))
        .sort([*keys, "months_since_placement"])
        .with_columns(pl.col("collected_minor").cum_sum().over(keys).alias("cumulative_collected_minor"))
    )
    rates = [
        str((Decimal(c) / Decimal(b)).quantize(_RATE_PLACES, rounding=ROUND_HALF_UP))
        for c, b in table.select("cumulative_collected_minor", "placed_balance_minor").iter_rows()
    ]
    return table.with_columns(pl.Series("liquidation_rate", rates, dtype=pl.String)).select(
        [pl.col(n).cast(t) for n, t in schema.items()]
    )
