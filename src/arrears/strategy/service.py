"""Use cases of the strategy engine: features, publishing with history, simulation, recording the day.

Services never commit: the caller's unit of work does. Every state change writes its audit event
through :func:`arrears.audit.log.record_event` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from arrears.audit.log import record_event
from arrears.domain.money import CURRENCY_EXPONENTS
from arrears.errors import NotFoundError, ValidationError
from arrears.portfolio.service import portfolio_frame
from arrears.store import bulk
from arrears.store import tables as core
from arrears.store.sql import WHOLE, IdBounds, date_as_read, dates_parsed, in_ids, within
from arrears.strategy.conditions import BALANCE_DTYPE, with_feature_defaults
from arrears.strategy.dsl import Strategy, check_strategy
from arrears.strategy.experiments import assign_variants
from arrears.strategy.segment import segment_accounts
from arrears.strategy.tables import ExperimentAssignment, SegmentEntry, StrategyVersion
from arrears.strategy.treatment import todays_actions

__all__ = [
    "DayPlan",
    "PublishedVersion",
    "account_features",
    "active_strategy",
    "count_versions",
    "features_from_positions",
    "plan_day",
    "publish_strategy",
    "record_day",
    "record_segmentation_event",
    "recorded_assignments",
    "segment_entries_open",
    "simulate_strategy",
    "strategy_history",
]


@dataclass(frozen=True)
class PublishedVersion:
    strategy_id: str
    number: int
    digest: str
    published_by: str
    published_at: dt.datetime
    is_new: bool


@dataclass(frozen=True)
class DayPlan:
    """Segmented accounts (one row each: segment, experiment, variant, path, entered_on) and their actions."""

    accounts: pl.DataFrame
    actions: pl.DataFrame

    def summary(self) -> pl.DataFrame:
        """Accounts and balance (minor units) per segment, variant and currency, in segment order."""
        return (
            self.accounts.group_by("segment", "variant", "currency", maintain_order=True)
            .agg(pl.len().alias("accounts"), pl.col("balance_minor").sum().alias("balance_minor"))
            .sort("segment", "variant", "currency", nulls_last=True)
        )


def account_features(engine: Engine, as_of: dt.date) -> pl.DataFrame:
    """One row per open account with every feature :mod:`arrears.strategy.conditions` computes.

    Built on :func:`arrears.portfolio.service.portfolio_frame` (dpd, bucket, balances, product,
    currency), the debtor (language, jurisdiction) and payments (``paid_last_30d``). Features other
    capabilities supply (score, promises_broken, ...) get their documented defaults; a caller with
    those columns joins them on ``account_id`` before segmenting.
    """
    frame = portfolio_frame(engine, as_of=as_of)
    with engine.connect() as conn:
        return features_from_positions(conn, frame, as_of=as_of)


def features_from_positions(
    conn: Any, frame: pl.DataFrame, *, as_of: dt.date, accounts: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Strategy features for the accounts in ``frame``.

    ``frame`` holds account_id, dpd, bucket, total_minor, overdue_minor, product_code, currency and
    oldest_unpaid_due_on (what :func:`portfolio_frame` and the daily cycle's positions provide).
    ``accounts`` (account_id, first_due_on, language, jurisdiction), when the caller read them with
    the positions, spares reading them again.
    """
    a, d, p = core.Account, core.Debtor, core.Payment
    ids = frame.get_column("account_id").to_list()
    extra_rows: list[Any] = []
    paid_rows: list[Any] = []
    if ids:
        if accounts is None:
            extra_rows += conn.execute(
                select(a.id, a.first_due_on, d.language, d.jurisdiction)
                .join(d, d.id == a.debtor_id)
                .where(in_ids(conn, a.id, ids))
            ).all()
        paid_rows += conn.execute(
            select(p.account_id)
            .where(
                in_ids(conn, p.account_id, ids),
                p.status == "posted",
                p.received_on > as_of - dt.timedelta(days=30),
                p.received_on <= as_of,
            )
            .group_by(p.account_id)
        ).all()
    extra = (
        accounts.select("account_id", "first_due_on", "language", "jurisdiction")
        if accounts is not None
        else pl.DataFrame(
            extra_rows,
            schema={
                "account_id": pl.Int64,
                "first_due_on": pl.Date,
                "language": pl.String,
                "jurisdiction": pl.String,
            },
            orient="row",
        )
    )
    paid = pl.DataFrame(paid_rows, schema={"account_id": pl.Int64}, orient="row").with_columns(
        pl.lit(True).alias("paid_last_30d")
    )
    exponent = pl.col("currency").replace_strict(CURRENCY_EXPONENTS, default=2, return_dtype=pl.Int64)
    scale = pl.lit(10).pow(exponent).cast(BALANCE_DTYPE)
    features = (
        frame.join(extra, on="account_id", how="left")
        .join(paid, on="account_id", how="left")
        .select(
            "account_id",
            pl.col("dpd").cast(pl.Int64),
            "bucket",
            (pl.col("total_minor").cast(BALANCE_DTYPE) / scale).cast(BALANCE_DTYPE).alias("balance"),
            pl.col("total_minor").alias("balance_minor"),
            (pl.col("overdue_minor").cast(BALANCE_DTYPE) / scale).cast(BALANCE_DTYPE).alias("overdue"),
            "overdue_minor",
            pl.col("product_code").alias("product"),
            "currency",
            "jurisdiction",
            "language",
            pl.col("paid_last_30d").fill_null(False),
            ((pl.col("dpd") > 0) & (pl.col("oldest_unpaid_due_on") == pl.col("first_due_on")))
            .fill_null(False)
            .alias("first_payment_default"),
        )
        .sort("account_id")
    )
    return with_feature_defaults(features)


@lru_cache(maxsize=16)
def _checked(text: str, fmt: str, source: str) -> Strategy:
    """A published version's strategy, checked once per process (the text of a version never changes)."""
    return _check_or_refuse(text, fmt, source)


def _check_or_refuse(text: str, fmt: str, source: str) -> Strategy:
    report = check_strategy(text, fmt=fmt, source=source)
    if report.strategy is None:
        first = report.errors[0].render() if report.errors else "the strategy has no id"
        raise ValidationError(
            f"the strategy has {len(report.errors)} error(s) and was not published; first: {first}",
            field="strategy",
            problems=[p.render() for p in report.errors],
        )
    return report.strategy


def publish_strategy(
    session: Session, *, text: str, fmt: str, source: str, actor: str, now: dt.datetime
) -> PublishedVersion:
    """Check and store a new version of a strategy; a strategy with any error is refused (nothing written).

    Publishing text identical to the current version adds nothing and returns that version.
    """
    strategy = _check_or_refuse(text, fmt, source)
    latest = session.scalar(
        select(StrategyVersion)
        .where(StrategyVersion.strategy_id == strategy.id)
        .order_by(StrategyVersion.number.desc())
        .limit(1)
    )
    if latest is not None and latest.digest == strategy.digest:
        return PublishedVersion(
            strategy.id, latest.number, latest.digest, latest.published_by, latest.published_at, False
        )
    number = 1 if latest is None else latest.number + 1
    row = StrategyVersion(
        strategy_id=strategy.id,
        number=number,
        format=fmt,
        source=text,
        digest=strategy.digest,
        published_by=actor,
        published_at=now,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="publish_strategy",
        subject_type="strategy",
        subject_id=strategy.id,
        at=now,
        before=None if latest is None else {"number": latest.number, "digest": latest.digest},
        after={"number": number, "digest": strategy.digest},
        details={"source": source, "segments": [s.id for s in strategy.segments]},
    )
    return PublishedVersion(strategy.id, number, strategy.digest, actor, now, True)


def strategy_history(session: Session, *, strategy_id: str | None = None) -> list[PublishedVersion]:
    """Every published version, newest first (of one strategy, or of all)."""
    query = select(StrategyVersion).order_by(StrategyVersion.strategy_id, StrategyVersion.number.desc())
    if strategy_id is not None:
        query = query.where(StrategyVersion.strategy_id == strategy_id)
    return [
        PublishedVersion(v.strategy_id, v.number, v.digest, v.published_by, v.published_at, False)
        for v in session.scalars(query)
    ]


def active_strategy(session: Session, *, strategy_id: str) -> tuple[int, Strategy]:
    """The newest published version of ``strategy_id``: (version row id, checked strategy)."""
    row = session.scalar(
        select(StrategyVersion)
        .where(StrategyVersion.strategy_id == strategy_id)
        .order_by(StrategyVersion.number.desc())
        .limit(1)
    )
    if row is None:
        raise NotFoundError(
            f"no published strategy {strategy_id!r}; publish one with `arrears strategy publish FILE`",
            strategy=strategy_id,
        )
    return row.id, _checked(row.source, row.format, f"{strategy_id} v{row.number}")


def _scoped(query: Any, column: Any, scope: tuple[int, int] | None) -> Any:
    """Restrict a query to one partition of the accounts (``account_id % n == p``)."""
    if scope is None or scope[1] <= 1:
        return query
    partition, partitions = scope
    return query.where((column % partitions) == partition)


def segment_entries_open(
    session: Session, strategy_id: str, scope: tuple[int, int] | None = None, ids: IdBounds = WHOLE
) -> pl.DataFrame:
    """Open segment entries (account_id, _open_segment, _entered_on), optionally of one partition
    and of the accounts within ``ids``."""
    e = SegmentEntry
    conn = session.connection()
    rows = conn.execute(
        _scoped(
            select(e.account_id, e.segment_id, date_as_read(conn, e.entered_on)).where(
                e.strategy_id == strategy_id, e.left_on.is_(None), *within(e.account_id, ids)
            ),
            e.account_id,
            scope,
        )
    ).all()
    frame = pl.DataFrame(rows, schema=["account_id", "_open_segment", "_entered_on"], orient="row")
    return dates_parsed(frame.cast({"account_id": pl.Int64, "_open_segment": pl.String}), "_entered_on")


def recorded_assignments(
    session: Session, scope: tuple[int, int] | None = None, ids: IdBounds = WHOLE
) -> pl.DataFrame:
    """Recorded experiment arms (account_id, experiment_id, variant_id), optionally of one partition
    and of the accounts within ``ids``."""
    x = ExperimentAssignment
    rows = session.execute(
        _scoped(
            select(x.account_id, x.experiment_id, x.variant_id).where(*within(x.account_id, ids)),
            x.account_id,
            scope,
        )
    ).all()
    return pl.DataFrame(
        rows,
        schema={"account_id": pl.Int64, "experiment_id": pl.String, "variant_id": pl.String},
        orient="row",
    )


def plan_day(
    features: pl.DataFrame,
    strategy: Strategy,
    *,
    as_of: dt.date,
    open_entries: pl.DataFrame | None = None,
    recorded: pl.DataFrame | None = None,
) -> DayPlan:
    """Segment, assign arms and produce the day's actions, without touching the database.

    ``open_entries`` (account_id, _open_segment, _entered_on): current segment stays; an account
    still in the same segment keeps its entry date, any other starts its path today.
    """
    segmented = segment_accounts(features, strategy).filter(pl.col("segment").is_not_null())
    if open_entries is not None and open_entries.height:
        segmented = segmented.join(open_entries, on="account_id", how="left").with_columns(
            pl.when(pl.col("_open_segment") == pl.col("segment"))
            .then(pl.col("_entered_on"))
            .otherwise(pl.lit(as_of))
            .alias("entered_on")
        )
        segmented = segmented.drop("_open_segment", "_entered_on")
    else:
        segmented = segmented.with_columns(pl.lit(as_of).alias("entered_on"))
    assigned = assign_variants(segmented, strategy, recorded)
    return DayPlan(accounts=assigned, actions=todays_actions(assigned, strategy, as_of=as_of))


def simulate_strategy(session: Session, engine: Engine, *, strategy: Strategy, as_of: dt.date) -> DayPlan:
    """What the day would look like under ``strategy``, using recorded state, writing nothing."""
    return plan_day(
        account_features(engine, as_of),
        strategy,
        as_of=as_of,
        open_entries=segment_entries_open(session, strategy.id),
        recorded=recorded_assignments(session),
    )


def _check_version(session: Session, strategy_id: str, version_id: int) -> None:
    """Refuse a strategy version not on file, or of another strategy: every entry and assignment of
    a write names this one version, which the database no longer checks per row (migration 0013)."""
    owner = session.execute(
        select(StrategyVersion.strategy_id).where(StrategyVersion.id == version_id)
    ).scalar_one_or_none()
    if owner is None:
        raise NotFoundError(f"strategy version {version_id} is not on file")
    if owner != strategy_id:
        raise ValidationError(
            f"strategy version {version_id} is a version of {owner!r}, not of {strategy_id!r}",
            field="version_id",
        )


def record_day(
    session: Session,
    *,
    plan: DayPlan,
    strategy_id: str,
    version_id: int,
    as_of: dt.date,
    actor: str,
    now: dt.datetime,
    scope: tuple[int, int] | None = None,
    open_entries: pl.DataFrame | None = None,
    recorded: pl.DataFrame | None = None,
    audit: bool = True,
) -> dict[str, int]:
    """Write the day's segment moves and new experiment assignments in bulk, with one audit event
    (without it when not ``audit``: a caller writing a day in parts records one
    :func:`record_segmentation_event` for the whole).

    ``version_id`` must be a version of ``strategy_id`` on file (checked once, before anything is
    written). Idempotent for a date: entries already open in the same segment and assignments
    already recorded are left alone, so a rerun writes nothing new. ``scope`` (partition,
    partitions) limits the run to one partition of the accounts: entries of other partitions are
    left alone. ``open_entries`` (as :func:`segment_entries_open` returns them for the same strategy
    and scope, read in this transaction) spares reading them again; so does ``recorded`` (as
    :func:`recorded_assignments` returns them for the same scope).
    """
    _check_version(session, strategy_id, version_id)
    conn = session.connection()
    current = segment_entries_open(session, strategy_id, scope) if open_entries is None else open_entries
    accounts = plan.accounts.select("account_id", "segment", "experiment", "variant", "is_control")
    # Rows keep the plan's account order, so ids are drawn in the same order on every run.
    moved = accounts.join(current, on="account_id", how="left", maintain_order="left").filter(
        pl.col("_open_segment").is_null() | (pl.col("_open_segment") != pl.col("segment"))
    )
    leaving = current.join(accounts, on="account_id", how="left").filter(
        pl.col("segment").is_null() | (pl.col("segment") != pl.col("_open_segment"))
    )
    closed = 0
    if leaving.height:
        ids = leaving.get_column("account_id").to_list()
        for start in range(0, len(ids), 5000):
            result = session.execute(
                update(SegmentEntry)
                .where(
                    SegmentEntry.strategy_id == strategy_id,
                    SegmentEntry.left_on.is_(None),
                    SegmentEntry.account_id.in_(ids[start : start + 5000]),
                )
                .values(left_on=as_of, version=SegmentEntry.version + 1)
                .execution_options(synchronize_session=False)
            )
            closed += int(getattr(result, "rowcount", 0) or 0)
    entries = moved.select(
        pl.col("account_id"),
        pl.lit(strategy_id).alias("strategy_id"),
        pl.col("segment").alias("segment_id"),
        pl.lit(version_id).alias("strategy_version_id"),
        pl.lit(as_of).alias("entered_on"),
        pl.lit(None, dtype=pl.Date).alias("left_on"),
        pl.lit(1).alias("version"),
    )
    entries = entries.with_columns(bulk.allocate_ids(conn, "segment_entries", entries.height).alias("id"))
    bulk.insert_frame(conn, "segment_entries", entries)
    if recorded is None:
        recorded = recorded_assignments(session, scope)
    fresh = accounts.filter(pl.col("experiment").is_not_null()).join(
        recorded.rename({"experiment_id": "experiment"}),
        on=["account_id", "experiment"],
        how="anti",
        maintain_order="left",
    )
    assignments = fresh.select(
        "account_id",
        pl.col("experiment").alias("experiment_id"),
        pl.col("variant").alias("variant_id"),
        "is_control",
        pl.lit(version_id).alias("strategy_version_id"),
        pl.lit(as_of).alias("assigned_on"),
    )
    assignments = assignments.with_columns(
        bulk.allocate_ids(conn, "experiment_assignments", assignments.height).alias("id")
    )
    bulk.insert_frame(conn, "experiment_assignments", assignments)
    counts = {"entered": entries.height, "left": closed, "assigned": assignments.height}
    if audit:
        record_segmentation_event(
            session, strategy_id=strategy_id, version_id=version_id, as_of=as_of, actor=actor, now=now,
            counts=counts,
        )  # fmt: skip
    return counts


def record_segmentation_event(
    session: Session,
    *,
    strategy_id: str,
    version_id: int,
    as_of: dt.date,
    actor: str,
    now: dt.datetime,
    counts: dict[str, int],
) -> None:
    """The audit event of a day's segmentation (``counts``: entered, left, assigned)."""
    record_event(
        session,
        actor=actor,
        action="record_segmentation",
        subject_type="strategy",
        subject_id=strategy_id,
        at=now,
        details={"as_of": as_of.isoformat(), "version_id": version_id, **counts},
    )


def count_versions(session: Session) -> int:
    """Number of stored strategy versions (all strategies)."""
    return int(session.scalar(select(func.count()).select_from(StrategyVersion)) or 0)
