"""Lists of cases for a work screen: filtered, ordered, limited to what the user may see.

A collector sees the cases of the accounts assigned to them, an agency user those placed with their
agency, a supervisor every case (:func:`arrears.access.service.visible_accounts_filter`). Balances and
days past due are computed from the ledger for the listed cases as of the given date, as columns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.access.permissions import Permission
from arrears.access.service import require, visible_accounts_filter
from arrears.cases.service import positions_frame
from arrears.cases.tables import Case, CaseAccount, CaseHold
from arrears.domain.cases.enums import Stage
from arrears.errors import ValidationError
from arrears.store import tables

__all__ = ["CaseOrder", "CaseRow", "list_cases"]

_MAX_LIMIT = 10_000


class CaseOrder(StrEnum):
    """How a case list is ordered."""

    BALANCE = "balance"  # largest total balance first
    DPD = "dpd"  # most days past due first
    OPENED = "opened"  # oldest case first
    ID = "id"


@dataclass(frozen=True)
class CaseRow:
    """One line of a case list; amounts in integer minor units of ``currency``."""

    case_id: int
    stage: str
    debtor_id: str
    currency: str
    owner: str | None
    accounts: int
    total_minor: int
    overdue_minor: int
    dpd: int
    broken_promises: int
    holds: tuple[str, ...]
    opened_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (holds as a list)."""
        return {**self.__dict__, "holds": list(self.holds)}


def _stages(values: list[str] | None) -> list[str]:
    if not values:
        return [s.value for s in Stage if s.is_open]
    known = {s.value for s in Stage}
    wrong = [v for v in values if v not in known]
    if wrong:
        raise ValidationError(
            f"stage: {wrong[0]!r} is not a stage; use one of {', '.join(sorted(known))}", field="stage"
        )
    return values


def list_cases(
    session: Session,
    *,
    actor: str,
    as_of: dt.date,
    stages: list[str] | None = None,
    owner: str | None = None,
    held: bool | None = None,
    min_dpd: int | None = None,
    order: CaseOrder | str = CaseOrder.BALANCE,
    limit: int = 50,
) -> list[CaseRow]:
    """The cases ``actor`` may see (``view_accounts``), open stages unless ``stages`` says otherwise.

    ``owner`` keeps the cases of one owner (collector, team or agency code); ``held`` True keeps the
    cases with an active hold, False those without; ``min_dpd`` those at least that many days past
    due on ``as_of``. At most ``limit`` rows (1..10,000), in ``order``.
    """
    who = require(session, actor, Permission.VIEW_ACCOUNTS)
    try:
        ordering = CaseOrder(order)
    except ValueError:
        raise ValidationError(
            f"order: {order!r} is not one of {', '.join(o.value for o in CaseOrder)}", field="order"
        ) from None
    if not 1 <= limit <= _MAX_LIMIT:
        raise ValidationError(f"limit: must be between 1 and {_MAX_LIMIT:,}", field="limit", value=limit)
    if min_dpd is not None and min_dpd < 0:
        raise ValidationError("min-dpd: must not be negative", field="min_dpd", value=min_dpd)
    visible = select(CaseAccount.case_id).join(tables.Account, tables.Account.id == CaseAccount.account_id)
    query = (
        select(
            Case.id,
            Case.stage,
            tables.Debtor.external_id,
            Case.currency,
            Case.owner,
            Case.broken_promises,
            Case.opened_at,
        )
        .join(tables.Debtor, tables.Debtor.id == Case.debtor_id)
        .where(Case.stage.in_(_stages(stages)), Case.id.in_(visible.where(visible_accounts_filter(who))))
    )
    if owner is not None:
        query = query.where(Case.owner == owner)
    # A hold lasts until it is released (as in the daily case rules and ``case show``).
    active_hold = select(CaseHold.case_id).where(CaseHold.released_at.is_(None))
    if held is True:
        query = query.where(Case.id.in_(active_hold))
    elif held is False:
        query = query.where(Case.id.not_in(active_hold))
    if ordering in (CaseOrder.OPENED, CaseOrder.ID):
        # Ordered by a column of the case: only the page needs balances.
        query = (
            query.order_by(Case.opened_at, Case.id)
            if ordering is CaseOrder.OPENED
            else query.order_by(Case.id)
        )
        if min_dpd is None:
            query = query.limit(limit)
    cases = pl.DataFrame(
        session.execute(query).all(),
        schema={
            "case_id": pl.Int64,
            "stage": pl.String,
            "debtor_id": pl.String,
            "currency": pl.String,
            "owner": pl.String,
            "broken_promises": pl.Int64,
            "opened_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    ).with_row_index("_order")
    if cases.height == 0:
        return []
    # A page is read by id; a whole book (ordered by balance) in one pass without an IN-list, which
    # would pass the databases' parameter limits.
    few = cases.height <= _MAX_LIMIT
    link_query = select(CaseAccount.case_id, CaseAccount.account_id).where(CaseAccount.is_excluded.is_(False))
    hold_query = select(CaseHold.case_id, CaseHold.kind).where(CaseHold.released_at.is_(None))
    if few:
        case_ids = cases["case_id"].to_list()
        link_query = link_query.where(CaseAccount.case_id.in_(case_ids))
        hold_query = hold_query.where(CaseHold.case_id.in_(case_ids))
    links = pl.DataFrame(
        session.execute(link_query).all(), schema={"case_id": pl.Int64, "account_id": pl.Int64}, orient="row"
    ).join(cases.select("case_id"), on="case_id", how="semi")
    account_ids = links["account_id"].to_list() if few else None
    pos = positions_frame(session.connection(), account_ids, as_of).select(
        "account_id", "total_minor", "overdue_minor", "dpd"
    )
    per_case = (
        links.join(pos, on="account_id", how="left")
        .group_by("case_id")
        .agg(
            pl.len().alias("accounts"),
            pl.col("total_minor").fill_null(0).sum(),
            pl.col("overdue_minor").fill_null(0).sum(),
            pl.col("dpd").fill_null(0).max(),
        )
    )
    holds = pl.DataFrame(
        session.execute(hold_query).all(), schema={"case_id": pl.Int64, "kind": pl.String}, orient="row"
    )
    frame = (
        cases.join(per_case, on="case_id", how="left")
        .join(
            holds.group_by("case_id").agg(pl.col("kind").unique().sort().alias("holds")),
            on="case_id",
            how="left",
        )
        .with_columns(
            pl.col("accounts").fill_null(0),
            pl.col("total_minor").fill_null(0),
            pl.col("overdue_minor").fill_null(0),
            pl.col("dpd").fill_null(0),
            pl.col("holds").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
    )
    if min_dpd is not None:
        frame = frame.filter(pl.col("dpd") >= min_dpd)
    if ordering is CaseOrder.BALANCE:
        frame = frame.sort(["total_minor", "case_id"], descending=[True, False])
    elif ordering is CaseOrder.DPD:
        frame = frame.sort(["dpd", "total_minor", "case_id"], descending=[True, True, False])
    else:
        frame = frame.sort("_order")
    return [
        CaseRow(
            case_id=r["case_id"],
            stage=r["stage"],
            debtor_id=r["debtor_id"],
            currency=r["currency"],
            owner=r["owner"],
            accounts=r["accounts"],
            total_minor=r["total_minor"],
            overdue_minor=r["overdue_minor"],
            dpd=r["dpd"],
            broken_promises=r["broken_promises"],
            holds=tuple(r["holds"]),
            opened_at=r["opened_at"],
        )
        for r in frame.head(limit).iter_rows(named=True)
    ]
