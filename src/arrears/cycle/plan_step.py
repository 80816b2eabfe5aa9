"""Cycle step "plan": score, segment, assign arms, produce the day's actions and check them all.

For one partition: features from the day's positions and the case book, the score (rule-based until
a model is promoted), the published strategy's segments, experiment arms and treatment steps, then
every proposed contact judged by the compliance engine in one batch. The actions are written with
their decisions (allow, delay until an instant, block, review, and the rules that decided), and each
decision is stored with a fingerprint of its inputs.

The partition is worked on in slices of consecutive account ids (at most
:data:`arrears.cycle.ledger_steps.ACCOUNTS_PER_SLICE` open accounts each), one after another in the
step's one transaction, so that its memory does not grow with the book. Every rule is per account, and
everything judged per debtor (contact points, cases, history) is read for the debtor whole, so the
slicing changes nothing in what is written; the step's two audit events (the segmentation and the
compliance decisions) summarise the whole partition and are written once, after the last slice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
from typing import Any

import polars as pl
from sqlalchemy import Connection, String, select, type_coerce
from sqlalchemy.orm import Session

from arrears.cases.contacts import history_outcome
from arrears.cases.tables import Case, CaseAccount, CaseHold, ContactRecord, Dispute, Promise
from arrears.compliance import check_batch
from arrears.compliance.service import DecisionSummary, record_decisions_event, store_decisions
from arrears.cycle import ledger_steps
from arrears.cycle.frames import read_ahead, read_frame
from arrears.cycle.ledger_steps import CycleContext, account_slices
from arrears.cycle.tables import DailyPosition
from arrears.domain.cases.enums import Channel as CaseChannel
from arrears.domain.cases.enums import ContactOutcome
from arrears.domain.compliance.cases import CaseTable
from arrears.domain.rule_score import RULE_SCORE_VERSION, rule_score, rule_score_reasons
from arrears.errors import ConfigurationError
from arrears.scoring.service import score_for_cycle
from arrears.store import bulk, personal, tables
from arrears.store.personal import PersonalKind
from arrears.store.sql import WHOLE, IdBounds, date_as_read, dates_parsed, in_ids, within
from arrears.strategy.dsl import Strategy
from arrears.strategy.service import (
    active_strategy,
    features_from_positions,
    plan_day,
    record_day,
    record_segmentation_event,
    recorded_assignments,
    segment_entries_open,
)
from arrears.strategy.tables import StrategyVersion

__all__ = ["plan_slices", "step_plan"]


SHARED_READS_MAX_ACCOUNTS = 2_000_000
"""A partition of at most this many open accounts (in whole slices) reads its open cases' accounts once
for all its slices, and every contact point once on a day when most debtors are judged (see
:class:`_Shared`); a larger one reads them slice by slice, so that memory stays bounded."""

_OPEN_STAGES = ("new", "initial_contact", "confirmed", "negotiating", "arranged", "escalated", "legal")
_PHONE_CHANNELS = ("call", "sms", "voicemail_message")
_UTC_DT = pl.Datetime("us", "UTC")


def _frame(conn: Connection, query: Any, schema: dict[str, Any]) -> pl.DataFrame:
    """The rows of ``query`` straight from the driver's cursor into a frame (:func:`read_frame`).

    Dates and instants come as text on SQLite (``date_as_read``, :func:`_instant_as_read`) and are
    parsed here over whole columns by the callers.
    """
    return read_frame(conn, query, schema)


def _instant_as_read(conn: Connection, column: Any) -> Any:
    """An aware-time column to read with :func:`_frame`: on SQLite the stored UTC text, parsed by
    :func:`_instants_parsed` over the whole column; elsewhere the column (the driver returns aware
    datetimes)."""
    if conn.dialect.name == "sqlite":
        return type_coerce(column, String).label(column.key)
    return column


def _instants_parsed(frame: pl.DataFrame, *names: str) -> pl.DataFrame:
    """``frame`` with the named columns read by :func:`_instant_as_read` as UTC instants."""
    return frame.with_columns(
        pl.col(n).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC")
        if frame.schema[n] == pl.String
        else pl.col(n).cast(_UTC_DT)
        for n in names
    )


def plan_slices(conn: Connection, ctx: CycleContext, *, size: int | None = None) -> list[IdBounds]:
    """The partition cut into ranges of account ids holding at most ``size`` open accounts each
    (:func:`arrears.cycle.ledger_steps.account_slices`), open at both ends of the id line: together
    they hold every id, so an account no longer open (a segment entry left behind) is in one of them."""
    starts = [low for low, _ in account_slices(conn, ctx, size=size)][1:]
    return list(zip([None, *starts], [*starts, None], strict=True))


def _chunks(ids: list[int]) -> list[list[int]]:
    # One statement for the whole list (``in_ids`` binds it as one value); none for no ids.
    return [ids] if ids else []


def _strategy(session: Session, wanted: str | None) -> tuple[int, Strategy] | None:
    ids = sorted(set(session.scalars(select(StrategyVersion.strategy_id))))
    if not ids:
        return None
    if wanted is None:
        if len(ids) > 1:
            raise ConfigurationError(
                f"several strategies are published ({', '.join(ids)}); set ARREARS_STRATEGY to the one the "
                "daily cycle runs",
                field="strategy",
            )
        wanted = ids[0]
    return active_strategy(session, strategy_id=wanted)


def _positions(conn: Connection, ctx: CycleContext, ids: IdBounds = WHOLE) -> pl.DataFrame:
    """The day's positions with what the features and the compliance engine read of the account
    and its debtor (read once here, not again per step)."""
    p, a, d = DailyPosition, tables.Account, tables.Debtor
    query = (
        select(
            p.account_id,
            p.currency,
            p.dpd,
            p.bucket,
            p.overdue_minor,
            date_as_read(conn, p.oldest_unpaid_due_on),
            a.product_code,
            (
                p.principal_minor
                + p.interest_minor
                + p.penalty_minor
                + p.compound_minor
                + p.fee_minor
                + p.cost_minor
            ).label("total_minor"),
            a.debtor_id,
            date_as_read(conn, a.first_due_on),
            d.language,
            d.jurisdiction,
            d.timezone,
            d.address_country,
            d.address_region,
            d.address_city,
        )
        .join(a, a.id == p.account_id)
        .join(d, d.id == a.debtor_id, isouter=True)
        .where(p.as_of == ctx.as_of, *within(p.account_id, ids))
    )
    if ctx.partitions > 1:
        query = query.where((p.account_id % ctx.partitions) == ctx.partition)
    # Dates come as text on SQLite (see date_as_read) and are parsed over the whole column.
    day = pl.String if conn.dialect.name == "sqlite" else pl.Date
    frame = _frame(
        conn,
        query,
        {
            "account_id": pl.Int64,
            "currency": pl.String,
            "dpd": pl.Int64,
            "bucket": pl.String,
            "overdue_minor": pl.Int64,
            "oldest_unpaid_due_on": day,
            "product_code": pl.String,
            "total_minor": pl.Int64,
            "debtor_id": pl.Int64,
            "first_due_on": day,
            "language": pl.String,
            "jurisdiction": pl.String,
            "timezone": pl.String,
            "address_country": pl.String,
            "address_region": pl.String,
            "address_city": pl.String,
        },
    )
    return dates_parsed(frame, "oldest_unpaid_due_on", "first_due_on")


_DEBTOR_FACTS = ("jurisdiction", "timezone", "address_country", "address_region", "address_city")


_LINK_SCHEMA: dict[str, Any] = {
    "account_id": pl.Int64,
    "case_id": pl.Int64,
    "stage": pl.String,
    "last_rpc_at": _UTC_DT,
    "debtor_id": pl.Int64,
    "external_id": pl.String,
}


def _open_case_links(conn: Connection, ctx: CycleContext, ids: IdBounds = WHOLE) -> pl.DataFrame:
    """Every account (not excluded) of an open case in the partition (within ``ids``): its case, the
    case's stage, last right-party contact and debtor, and the account's external id."""
    c, ca, a = Case, CaseAccount, tables.Account
    linked = (
        select(
            ca.account_id,
            c.id,
            c.stage,
            _instant_as_read(conn, c.last_right_party_at),
            c.debtor_id,
            a.external_id,
        )
        .join(c, c.id == ca.case_id)
        .join(a, a.id == ca.account_id)
        .where(~ca.is_excluded, c.stage.in_(_OPEN_STAGES), *within(ca.account_id, ids))
    )
    if ctx.partitions > 1:
        linked = linked.where((ca.account_id % ctx.partitions) == ctx.partition)
    schema = {**_LINK_SCHEMA, "last_rpc_at": pl.String} if conn.dialect.name == "sqlite" else _LINK_SCHEMA
    return _instants_parsed(_frame(conn, linked, schema), "last_rpc_at")


def _case_facts(
    conn: Connection,
    ctx: CycleContext,
    account_ids: pl.Series,
    links: pl.DataFrame | None = None,
    ids: IdBounds = WHOLE,
) -> pl.DataFrame:
    """Per account in an open case: case id, stage, promises broken (180 days), holds, last RPC.

    Read for the whole partition by joins, then narrowed to ``account_ids`` in Polars: an IN-list of
    account ids made SQLite drive the join from the stage index and probe every case against every
    listed id (quadratic; a 100,000-account day never finished). ``links`` is what
    :func:`_open_case_links` reads (within ``ids``), when the caller has it already. Within a slice of
    the partition, holds and broken promises are read for the slice's cases only.
    """
    c, h, pr = Case, CaseHold, Promise
    as_of = ctx.as_of
    open_case = c.stage.in_(_OPEN_STAGES)
    if links is None:
        links = _open_case_links(conn, ctx, ids)
    hold_query = select(h.case_id, h.kind).where(h.released_at.is_(None))
    promise_query = select(pr.case_id, pr.id).where(
        pr.status.in_(("broken", "partially_kept")), pr.judged_on > as_of - dt.timedelta(days=180)
    )
    if ids == WHOLE:
        hold_query = hold_query.join(c, c.id == h.case_id).where(open_case)
        promise_query = promise_query.join(c, c.id == pr.case_id).where(open_case)
    else:
        # The slice's cases are the open ones of ``links``: no join to cases, which SQLite would
        # drive from every open case of the book (a quarter of a second per slice at a million).
        case_ids = links["case_id"].unique().sort().to_list()
        hold_query = hold_query.where(in_ids(conn, h.case_id, case_ids))
        promise_query = promise_query.where(in_ids(conn, pr.case_id, case_ids))
    holds: list[Any] = list(conn.execute(hold_query).all())
    broken: list[Any] = list(conn.execute(promise_query).all())
    facts = links.select("account_id", "case_id", "stage", "last_rpc_at").filter(
        pl.col("account_id").is_in(account_ids.implode())
    )
    facts = facts.sort("account_id", "case_id").unique("account_id", keep="first", maintain_order=True)
    hold_frame = pl.DataFrame(holds, schema={"case_id": pl.Int64, "kind": pl.String}, orient="row")
    flags = hold_frame.group_by("case_id").agg(
        (pl.col("kind") == "hardship").any().alias("hardship"),
        (pl.col("kind") == "dispute").any().alias("dispute"),
    )
    promises = (
        pl.DataFrame(broken, schema={"case_id": pl.Int64, "promise_id": pl.Int64}, orient="row")
        .group_by("case_id")
        .agg(pl.len().cast(pl.Int64).alias("promises_broken"))
    )
    return (
        facts.join(flags, on="case_id", how="left")
        .join(promises, on="case_id", how="left")
        .with_columns(
            pl.col("hardship").fill_null(False),
            pl.col("dispute").fill_null(False),
            pl.col("promises_broken").fill_null(0),
            (pl.lit(as_of) - pl.col("last_rpc_at").dt.date())
            .dt.total_days()
            .cast(pl.Int64)
            .alias("days_since_rpc"),
        )
        .drop("last_rpc_at")
    )


def _features(
    conn: Connection,
    ctx: CycleContext,
    links: pl.DataFrame,
    ids: IdBounds = WHOLE,
    positions: pl.DataFrame | None = None,
) -> pl.DataFrame:
    if positions is None:
        positions = _positions(conn, ctx, ids)
    features = features_from_positions(
        conn,
        positions.select("account_id", "dpd", "bucket", "total_minor", "overdue_minor", "product_code",
                         "currency", "oldest_unpaid_due_on"),
        as_of=ctx.as_of,
        accounts=positions.select("account_id", "first_due_on", "language", "jurisdiction"),
    )  # fmt: skip
    facts = _case_facts(conn, ctx, positions["account_id"], links, ids)
    supplied = ("stage", "hardship", "dispute", "promises_broken", "days_since_rpc")
    features = features.drop([c for c in supplied if c in features.columns]).join(
        facts, on="account_id", how="left"
    )
    features = features.with_columns(
        pl.col("stage").fill_null("none"),
        pl.col("hardship").fill_null(False),
        pl.col("dispute").fill_null(False),
        pl.col("promises_broken").fill_null(0),
    )
    features = features.drop("score") if "score" in features.columns else features
    features = features.with_columns(
        rule_score(), rule_score_reasons(), pl.lit(RULE_SCORE_VERSION).alias("score_model")
    )
    # The promoted propensity-to-pay model, when there is one, replaces the rule score.
    modelled = score_for_cycle(
        conn, account_ids=features["account_id"].to_list(), as_of=ctx.as_of, reasons=False
    )
    if modelled is not None and modelled.height:
        features = (
            features.join(
                modelled.select(
                    "account_id", pl.col("score").alias("_m_score"), pl.col("model_id").alias("_m_id")
                ),
                on="account_id",
                how="left",
            )
            .with_columns(
                pl.coalesce(pl.col("_m_score").cast(pl.Int64), pl.col("score")).alias("score"),
                pl.coalesce(pl.col("_m_id"), pl.col("score_model")).alias("score_model"),
                pl.when(pl.col("_m_score").is_not_null())
                .then(None)
                .otherwise(pl.col("score_reason"))
                .alias("score_reason"),
            )
            .drop("_m_score", "_m_id")
        )
    return features.join(
        positions.select("account_id", "debtor_id", *(pl.col(c).alias(f"_d_{c}") for c in _DEBTOR_FACTS)),
        on="account_id",
    )


def step_plan(conn: Connection, ctx: CycleContext) -> dict[str, Any]:
    """Segment, choose today's steps, judge every contact, and write the actions with their decisions.

    The partition is planned one slice of account ids at a time (:func:`plan_slices`).
    """
    from arrears import bootstrap

    settings = bootstrap.settings()
    slices = plan_slices(conn, ctx)
    with Session(bind=conn, autoflush=False) as session:
        chosen = _strategy(session, settings.strategy)
        if chosen is None:
            accounts = 0
            for ids in slices:
                accounts += _features(conn, ctx, _open_case_links(conn, ctx, ids), ids).height
            return {"accounts": accounts, "actions": 0, "strategy": None}
        version_id, strategy = chosen
        day = _Day()
        shared = _Shared.for_step(conn, ctx, slices)
        # The next slice's positions are read on a second connection while this one is planned.
        for ids, positions in read_ahead(conn, ctx, slices, _positions):
            _plan_slice(
                session, ctx, ids, day, strategy=strategy, version_id=version_id, settings=settings,
                shared=shared, positions=positions,
            )  # fmt: skip
        # One event for the partition's segmentation, then one for its decisions, as one pass writes them.
        record_segmentation_event(
            session, strategy_id=strategy.id, version_id=version_id, as_of=ctx.as_of, actor=ctx.actor,
            now=ctx.now, counts=day.moves,
        )  # fmt: skip
        record_decisions_event(session, day.decisions)
        session.flush()
    return {
        "accounts": day.accounts,
        "segmented": day.segmented,
        "actions": day.actions,
        "by_channel": {str(k): v for k, v in _counts(day.channels, "channel").items()},
        "by_outcome": {str(k): v for k, v in _counts(day.outcomes, "outcome").items()},
        **{f"segment_{k}": v for k, v in day.moves.items()},
    }


class _Day:
    """What the slices of one partition add up to: counts, and the summaries of the two audit events."""

    def __init__(self) -> None:
        self.accounts = 0
        self.segmented = 0
        self.actions = 0
        self.moves = {"entered": 0, "left": 0, "assigned": 0}
        self.channels: list[pl.DataFrame] = []
        self.outcomes: list[pl.DataFrame] = []
        self.decisions = DecisionSummary()


class _Shared:
    """What the slices of one partition read once instead of once per slice, when they may.

    With one partition and several slices of a book of at most :data:`SHARED_READS_MAX_ACCOUNTS`
    open accounts: the open cases' accounts of the whole book (each slice takes its own, and the
    judged debtors' cases whatever slice their accounts are in), and, from the first slice whose
    judged debtors are at least half of its debtors (the first day of a book), every debtor's own
    contact points. What is read is what the slices would read each, so nothing written changes
    (``tests/integration/test_cycle_plan_slices.py`` runs both ways).
    """

    def __init__(self, links: pl.DataFrame | None = None) -> None:
        self.links = links
        self.points: pl.DataFrame | None = None

    @classmethod
    def for_step(cls, conn: Connection, ctx: CycleContext, slices: list[IdBounds]) -> _Shared:
        if (
            ctx.partitions == 1
            and len(slices) > 1
            and (len(slices) * ledger_steps.ACCOUNTS_PER_SLICE <= SHARED_READS_MAX_ACCOUNTS)
        ):
            return cls(_open_case_links(conn, ctx, WHOLE))
        return cls()

    def links_within(self, conn: Connection, ctx: CycleContext, ids: IdBounds) -> pl.DataFrame:
        """The open cases' accounts within ``ids`` (:func:`_open_case_links`)."""
        if self.links is None:
            return _open_case_links(conn, ctx, ids)
        low, high = ids
        kept = pl.lit(True)
        if low is not None:
            kept = kept & (pl.col("account_id") >= low)
        if high is not None:
            kept = kept & (pl.col("account_id") < high)
        return self.links.filter(kept)

    def case_accounts(self, conn: Connection, debtor_ids: list[int]) -> pl.DataFrame:
        """The accounts of the debtors' open cases (:func:`_case_accounts`)."""
        if self.links is None:
            return _case_accounts(conn, debtor_ids)
        return _links_of_debtors(self.links, debtor_ids)

    def contact_points(self, conn: Connection, debtor_ids: list[int], *, most: bool) -> pl.DataFrame:
        """The debtors' own contact points in id order (:func:`_contact_points`)."""
        if self.links is None:
            return _contact_points(conn, debtor_ids, most=False)
        if self.points is None:
            if not most:
                return _contact_points(conn, debtor_ids)
            self.points = _contact_points(conn, [], every=True)
        wanted = pl.Series(debtor_ids, dtype=pl.Int64).implode()
        return self.points.filter(pl.col("debtor_id").is_in(wanted))


def _links_of_debtors(links: pl.DataFrame, debtor_ids: list[int]) -> pl.DataFrame:
    """The rows of ``links`` (:func:`_open_case_links`) of the debtors, as :func:`_case_accounts` gives them."""
    return (
        links.filter(pl.col("debtor_id").is_in(pl.Series(debtor_ids, dtype=pl.Int64).implode()))
        .select("case_id", "debtor_id", "account_id", "external_id")
        .sort("debtor_id", "case_id", "account_id")
    )


def _counts(parts: list[pl.DataFrame], key: str) -> dict[Any, int]:
    """The slices' counts per ``key`` (frames of ``key`` and ``len``) added up, in ``key`` order."""
    if not parts:
        return {}
    total = pl.concat(parts).group_by(key).agg(pl.col("len").sum()).sort(key)
    return {k: int(v) for k, v in total.iter_rows()}


def _plan_slice(
    session: Session,
    ctx: CycleContext,
    ids: IdBounds,
    day: _Day,
    *,
    strategy: Strategy,
    version_id: int,
    settings: Any,
    shared: _Shared,
    positions: pl.DataFrame | None = None,
) -> None:
    """Plan, judge and write the accounts of one slice; add its counts to ``day``.

    ``positions``: what :func:`_positions` reads of the slice, when the caller has read it already.
    """
    conn = session.connection()
    links = shared.links_within(conn, ctx, ids)
    features = _features(conn, ctx, links, ids, positions)
    scope = (ctx.partition, ctx.partitions)
    open_entries = segment_entries_open(session, strategy.id, scope, ids)
    recorded = recorded_assignments(session, scope, ids)
    plan = plan_day(features, strategy, as_of=ctx.as_of, open_entries=open_entries, recorded=recorded)
    moves = record_day(
        session, plan=plan, strategy_id=strategy.id, version_id=version_id, as_of=ctx.as_of,
        actor=ctx.actor, now=ctx.now, open_entries=open_entries, recorded=recorded, audit=False,
    )  # fmt: skip
    actions = plan.actions.join(
        features.select(
            "account_id",
            "debtor_id",
            "case_id",
            "score",
            "score_model",
            "score_reason",
            "balance_minor",
            "language",
            "bucket",
            "product",
        ),
        on="account_id",
        how="left",
    )
    debtor_facts = features.select("debtor_id", *(pl.col(f"_d_{c}").alias(c) for c in _DEBTOR_FACTS)).unique(
        "debtor_id"
    )
    whole = ids == WHOLE
    judged = _judge(
        conn, ctx, actions, settings.collector_type, debtor_facts, links, whole=whole, shared=shared
    )
    day.actions += _write_actions(conn, ctx, judged, strategy_id=strategy.id, day=day)
    day.accounts += features.height
    day.segmented += plan.accounts.height
    for key, value in moves.items():
        day.moves[key] += value
    day.outcomes.append(judged.filter(pl.col("outcome").is_not_null()).group_by("outcome").len())
    day.channels.append(judged.group_by("channel").len())


def _contact_points(
    conn: Connection, debtor_ids: list[int], *, most: bool = False, every: bool = False
) -> pl.DataFrame:
    """The debtors' own contact points (not their persons'), in id order.

    ``most``: the debtors are most of those on file, so every debtor's points are read and the
    others dropped here (cheaper than matching each row against the list in SQL). ``every``: every
    debtor's points, whatever ``debtor_ids`` holds.
    """
    cp = tables.ContactPoint
    schema = {
        "id": pl.Int64,
        "debtor_id": pl.Int64,
        "kind": pl.String,
        "place": pl.String,
        "value": pl.String,
    }
    query = select(cp.id, cp.debtor_id, cp.kind, cp.place, cp.value).where(cp.person_id.is_(None))
    if every:
        return _frame(conn, query, schema).sort("id")
    if not debtor_ids:
        return pl.DataFrame(schema=schema)
    if most:
        frame = _frame(conn, query, schema).filter(
            pl.col("debtor_id").is_in(pl.Series(debtor_ids, dtype=pl.Int64).implode())
        )
    else:
        frame = _frame(conn, query.where(in_ids(conn, cp.debtor_id, debtor_ids)), schema)
    return frame.sort("id")


def _history(
    conn: Connection, debtor_ids: list[int], since: dt.datetime, debts_of: pl.DataFrame
) -> pl.DataFrame:
    """The contact log since ``since`` as the compliance engine's history table.

    ``debts_of`` (case_id, debts) names the debts of each open case; an event of another case, or of
    none, names no debt.
    """
    r = ContactRecord
    schema = {"debtor_id": pl.Int64, "case_id": pl.Int64,
              "at": pl.String if conn.dialect.name == "sqlite" else _UTC_DT, "channel": pl.String,
              "direction": pl.String, "person_id": pl.Int64, "contact_point_id": pl.Int64,
              "outcome": pl.String, "made_by": pl.String}  # fmt: skip
    if not debtor_ids:
        log = pl.DataFrame(schema={**schema, "at": _UTC_DT})
    else:
        query = select(
            r.debtor_id,
            r.case_id,
            _instant_as_read(conn, r.at),
            r.channel,
            r.direction,
            r.person_id,
            r.contact_point_id,
            r.outcome,
            r.made_by,
        ).where(in_ids(conn, r.debtor_id, debtor_ids), r.at >= since)
        log = _instants_parsed(_frame(conn, query, schema), "at")
    # The engine's outcome of each distinct (channel, outcome) logged; unknown values raise here.
    pairs = log.select("channel", "outcome").unique(maintain_order=True)
    judged = pairs.with_columns(
        pl.Series(
            "_outcome",
            [history_outcome(CaseChannel(c), ContactOutcome(o)) for c, o in pairs.iter_rows()],
            dtype=pl.String,
        )
    )
    return (
        log.join(judged, on=["channel", "outcome"], how="left", maintain_order="left")
        .join(debts_of, on="case_id", how="left", maintain_order="left")
        .select(
            pl.col("debtor_id").cast(pl.String),
            "at",
            pl.col("channel").replace({"voicemail": "voicemail_message", "chat": "social_private"}),
            "direction",
            pl.col("person_id").cast(pl.String).alias("person"),
            pl.col("contact_point_id").cast(pl.String).alias("contact_point"),
            pl.col("debts").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("_outcome").alias("outcome"),
            (pl.col("made_by") == "ai_voice").fill_null(False).alias("ai_voice"),
        )
    )


def _cases_input(
    conn: Connection, debtors: pl.DataFrame, points: pl.DataFrame, case_accounts: pl.DataFrame
) -> CaseTable:
    """The compliance engine's view of each debtor: jurisdiction, zone, address, contact points, flags.

    ``debtors``: debtor_id and the columns of ``_DEBTOR_FACTS``, one row per debtor judged.
    """
    h, dispute = CaseHold, Dispute
    holds: list[Any] = []
    disputes: list[Any] = []
    case_ids = case_accounts["case_id"].unique().to_list()
    for chunk in _chunks(case_ids):
        holds += conn.execute(
            select(h.case_id, h.kind, h.placed_at, h.until_on).where(
                in_ids(conn, h.case_id, chunk), h.released_at.is_(None)
            )
        ).all()
        disputes += conn.execute(
            select(dispute.case_id, dispute.account_id, dispute.received_at, dispute.form).where(
                in_ids(conn, dispute.case_id, chunk), dispute.status == "open"
            )
        ).all()
    debtor_of_case = dict(case_accounts.select("case_id", "debtor_id").unique().iter_rows())
    flags: dict[str, dict[str, Any]] = {}
    for case_id, kind, placed_at, until_on in holds:
        f = flags.setdefault(str(debtor_of_case[case_id]), {})
        at = placed_at.astimezone(dt.UTC).isoformat()
        if kind == "cease_contact":
            f["cease_requested_at"], f["cease_in_writing"] = at, True
        elif kind == "attorney":
            f["attorney"] = {"known_at": at}
        elif kind == "bankruptcy":
            f["bankruptcy"] = {"filed_on": placed_at.date().isoformat(), "known_at": at}
        elif kind == "deceased":
            f["deceased"] = True
        elif kind == "breathing_space":
            f["breathing_space"] = {
                "start_on": placed_at.date().isoformat(),
                "end_on": until_on.isoformat() if until_on else None,
            }
    debts = case_accounts.select(
        pl.col("debtor_id").cast(pl.String), pl.col("external_id").alias("id")
    ).with_row_index("_d")
    # A dispute covers the debts of its account (all the debtor's debts when it names none); a later
    # dispute replaces an earlier one on the same debt. Disputes are few: they are applied row by row.
    received: dict[int, dt.datetime] = {}
    in_writing: dict[int, bool] = {}
    if disputes:
        external = dict(case_accounts.select("account_id", "external_id").iter_rows())
        owed: dict[str, list[tuple[int, str]]] = {}
        for index, debtor, debt in debts.iter_rows():
            owed.setdefault(debtor, []).append((index, debt))
        for case_id, account_id, received_at, form in disputes:
            for index, debt in owed.get(str(debtor_of_case[case_id]), []):
                if account_id is None or debt == external.get(account_id):
                    received[index] = received_at.astimezone(dt.UTC)
                    in_writing[index] = form == "written"
    debts = debts.with_columns(
        pl.col("_d").replace_strict(received, default=None, return_dtype=_UTC_DT).alias("dispute_received_at"),
        pl.col("_d").replace_strict(in_writing, default=None, return_dtype=pl.Boolean).alias("dispute_in_writing"),
    ).drop("_d")  # fmt: skip
    if isinstance(personal.codec(), personal.PlainCodec):
        # Stored as they are (a development set-up): nothing to open.
        values = points["value"]
    else:
        unseal = personal.unseal
        kinds = {"phone": PersonalKind.PHONE, "email": PersonalKind.EMAIL}
        values = pl.Series(
            [
                unseal(kinds.get(kind, PersonalKind.ADDRESS), value)
                for kind, value in points.select("kind", "value").iter_rows()
            ],
            dtype=pl.String,
        )
    return CaseTable(
        debtors=debtors.sort("debtor_id").select(
            pl.col("debtor_id").cast(pl.String), "jurisdiction", "timezone",
            pl.col("address_country").alias("country"), pl.col("address_region").alias("region"),
            pl.col("address_city").alias("city"),
        ),
        points=points.select(
            pl.col("debtor_id").cast(pl.String),
            pl.col("id").cast(pl.String),
            "kind",
            "place",
            values.alias("value"),
        ),
        debts=debts,
        flags=flags,
    )  # fmt: skip


def _case_accounts(conn: Connection, debtor_ids: list[int]) -> pl.DataFrame:
    """The accounts (not excluded) of the debtors' open cases, whatever partition or slice they are in."""
    a, ca, c = tables.Account, CaseAccount, Case
    schema = {"case_id": pl.Int64, "debtor_id": pl.Int64, "account_id": pl.Int64, "external_id": pl.String}
    if not debtor_ids:
        return pl.DataFrame(schema=schema)
    query = (
        select(c.id, c.debtor_id, ca.account_id, a.external_id)
        .join(ca, ca.case_id == c.id)
        .join(a, a.id == ca.account_id)
        .where(in_ids(conn, c.debtor_id, debtor_ids), c.stage.in_(_OPEN_STAGES), ~ca.is_excluded)
    )
    return _frame(conn, query, schema).sort("debtor_id", "case_id", "account_id")


def _judge(
    conn: Connection,
    ctx: CycleContext,
    actions: pl.DataFrame,
    collector_type: str,
    debtor_facts: pl.DataFrame,
    links: pl.DataFrame,
    *,
    whole: bool,
    shared: _Shared,
) -> pl.DataFrame:
    """Add the compliance decision to every contact action (escalations are not contacts).

    ``debtor_facts`` holds each debtor's jurisdiction, zone and address (read with the positions);
    ``links`` the open cases' accounts of the partition (:func:`_open_case_links`), or of a slice of
    it when not ``whole``: a debtor's cases are then read whole, as they may hold accounts of other
    slices.
    """
    decision_schema: dict[str, Any] = {
        "contact_point_id": pl.Int64,
        "outcome": pl.String,
        "next_allowed_at": pl.Datetime("us", "UTC"),
        "rules": pl.List(pl.String),
        "rule_outcomes": pl.List(pl.String),
        "packs": pl.List(pl.String),
        "fingerprint": pl.String,
    }
    contacts = actions.filter(pl.col("kind") == "contact").with_row_index("_i")
    others = actions.filter(pl.col("kind") != "contact").with_columns(
        [pl.lit(None, dtype=t).alias(n) for n, t in decision_schema.items()]
    )
    if contacts.height == 0:
        return pl.concat([others], how="diagonal_relaxed")
    debtor_ids = contacts["debtor_id"].unique().sort().to_list()
    # Most of the partition's debtors on the first day of a book; a few on the days after.
    most = ctx.partitions == 1 and 2 * len(debtor_ids) >= debtor_facts.height
    if whole:
        points = _contact_points(conn, debtor_ids, most=most)
    else:
        points = shared.contact_points(conn, debtor_ids, most=most)
    if ctx.partitions > 1 or not whole:
        # A debtor's cases may hold accounts of other partitions or slices: read them all.
        case_accounts = shared.case_accounts(conn, debtor_ids)
    else:
        case_accounts = _links_of_debtors(links, debtor_ids)
    cases = _cases_input(
        conn, debtor_facts.filter(pl.col("debtor_id").is_in(debtor_ids)), points, case_accounts
    )
    # One grouped pass instead of one frame slice per case (thousands of cases a day).
    debts_of = case_accounts.group_by("case_id").agg(pl.col("external_id").sort().alias("debts"))
    history = _history(conn, debtor_ids, ctx.now - dt.timedelta(days=35), debts_of)
    wanted = {
        "call": "phone",
        "sms": "phone",
        "voicemail_message": "phone",
        "email": "email",
        "letter": "address",
        "visit": "address",
    }
    first_point = (
        points.with_columns((pl.col("place") != "mobile").alias("_not_mobile"))
        .sort("debtor_id", "kind", "_not_mobile", "id")
        .unique(["debtor_id", "kind"], keep="first")
        .select("debtor_id", "kind", pl.col("id").alias("contact_point_id"))
    )
    proposed = contacts.with_columns(
        pl.col("channel").replace_strict(wanted, default=None, return_dtype=pl.String).alias("_kind")
    ).join(first_point, left_on=["debtor_id", "_kind"], right_on=["debtor_id", "kind"], how="left")
    # A debt is named only when the engine knows it (it belongs to an open case of the debtor);
    # account external ids are unique, so that is when the account is in one of those cases.
    known_debts = case_accounts.select(
        "debtor_id", "account_id", pl.col("external_id").alias("_known")
    ).unique(["debtor_id", "account_id"])
    proposed = (
        proposed.join(known_debts, on=["debtor_id", "account_id"], how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("_known").is_not_null())
            .then(pl.concat_list(pl.col("_known")))
            .otherwise(pl.lit([], dtype=pl.List(pl.String)))
            .alias("debts")
        )
        .drop("_known")
    )
    reachable = proposed.filter(pl.col("contact_point_id").is_not_null())
    unreachable = proposed.filter(pl.col("contact_point_id").is_null()).with_columns(
        pl.lit("block").alias("outcome"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("next_allowed_at"),
        pl.lit(["NO_CONTACT_POINT"]).alias("rules"),
        pl.lit(["block"]).alias("rule_outcomes"),
        pl.lit([], dtype=pl.List(pl.String)).alias("packs"),
        pl.lit(None, dtype=pl.String).alias("fingerprint"),
    )
    decided = reachable
    if reachable.height:
        batch = check_batch(
            now=ctx.now,
            actor=collector_type,
            cases=cases,
            history=history,
            proposed=reachable.select(
                pl.col("debtor_id").cast(pl.String),
                "channel",
                pl.col("contact_point_id").cast(pl.String).alias("contact_point"),
                "debts",
            ),
        )
        decided = reachable.with_columns(
            batch["outcome"].alias("outcome"),
            batch["next_allowed_at"].alias("next_allowed_at"),
            batch["rules"].alias("rules"),
            batch["rule_outcomes"].alias("rule_outcomes"),
            batch["packs"].alias("packs"),
        )
        decided = decided.with_columns(_fingerprints(decided, cases, history, ctx).alias("fingerprint"))
    return pl.concat([decided, unreachable, others], how="diagonal_relaxed").drop(
        "_i", "_kind", "debt", strict=False
    )


def _fingerprints(
    frame: pl.DataFrame, cases: CaseTable, history: pl.DataFrame, ctx: CycleContext
) -> pl.Series:
    """SHA-256 per decision over its inputs: the debtor's case and history, the proposal and the instant.

    The debtor's part is the SHA-256 of one JSON document per debtor, built over whole columns:
    the debtor's facts, contact points (in order), flags, debts with any dispute, and the history
    events in time order (instants as microseconds since the epoch, UTC). Each decision's
    fingerprint is the SHA-256 of that digest, the channel, the contact point, the debts named and
    the instant of the decision.
    """
    points = cases.points.group_by("debtor_id", maintain_order=True).agg(
        pl.struct("id", "kind", "place", "value").alias("contact_points")
    )
    debts = cases.debts.group_by("debtor_id", maintain_order=True).agg(
        pl.struct(
            "id",
            pl.col("dispute_received_at").dt.epoch("us").alias("dispute_received_at"),
            "dispute_in_writing",
        ).alias("debts")
    )
    events = (
        history.with_row_index("_e")
        .sort("at", "_e")
        .group_by("debtor_id", maintain_order=True)
        .agg(
            pl.struct(
                pl.col("at").dt.epoch("us").alias("at"),
                "channel",
                "direction",
                "person",
                "contact_point",
                "debts",
                "outcome",
            ).alias("events")
        )
    )
    flags = pl.DataFrame(
        {
            "debtor_id": list(cases.flags),
            "flags": [json.dumps(f, sort_keys=True, separators=(",", ":")) for f in cases.flags.values()],
        },
        schema={"debtor_id": pl.String, "flags": pl.String},
    )
    documents = (
        cases.debtors.join(points, on="debtor_id", how="left", maintain_order="left")
        .join(debts, on="debtor_id", how="left", maintain_order="left")
        .join(flags, on="debtor_id", how="left", maintain_order="left")
        .join(events, on="debtor_id", how="left", maintain_order="left")
        .select(
            "debtor_id",
            pl.struct(pl.all().exclude("debtor_id"), pl.col("debtor_id").alias("id"))
            .struct.json_encode()
            .alias("_json"),
        )
    )
    per_debtor = pl.Series("_case_digest", _sha256_hex(documents["_json"]), dtype=pl.String)
    instant = ctx.now.astimezone(dt.UTC).isoformat()
    keyed = frame.select(pl.col("debtor_id").cast(pl.String), "channel", "contact_point_id", "debts").join(
        documents.select("debtor_id").with_columns(per_debtor),
        on="debtor_id",
        how="left",
        maintain_order="left",
    )
    texts = keyed.select(
        pl.concat_str(
            pl.col("_case_digest"),
            pl.col("channel"),
            pl.col("contact_point_id").cast(pl.String),
            pl.col("debts").list.join(","),
            pl.lit(instant),
            separator="|",
        )
    ).to_series()
    return pl.Series(_sha256_hex(texts), dtype=pl.String)


def _sha256_hex(texts: pl.Series) -> list[str]:
    """The SHA-256 hex digest of each text's UTF-8 bytes (the bytes taken from the column at once)."""
    return list(map(_hexdigest, map(hashlib.sha256, texts.cast(pl.Binary).to_list())))


_hexdigest = operator.methodcaller("hexdigest")


def _write_actions(
    conn: Connection, ctx: CycleContext, judged: pl.DataFrame, *, strategy_id: str, day: _Day
) -> int:
    """Write the actions and the decisions of the contacts judged, both in account order (so that ids
    follow the accounts whatever the slicing); ``day`` gathers the decisions' audit summary."""
    if judged.height == 0:
        return 0
    judged = judged.sort(
        "account_id", "priority", "channel", "template", nulls_last=True, maintain_order=True
    )
    status = (
        pl.when(pl.col("kind") != "contact")
        .then(pl.lit("escalation"))
        .when(pl.col("outcome") == "allow")
        .then(pl.lit("scheduled"))
        .when(pl.col("outcome") == "delay")
        .then(pl.lit("scheduled"))
        .when(pl.col("outcome") == "review")
        .then(pl.lit("review"))
        .otherwise(pl.lit("blocked"))
    )
    scheduled = (
        pl.when(pl.col("outcome") == "delay")
        .then(pl.col("next_allowed_at"))
        .when(pl.col("outcome") == "allow")
        .then(pl.lit(ctx.now).dt.convert_time_zone("UTC"))
        .otherwise(pl.lit(None, dtype=pl.Datetime("us", "UTC")))
    )
    rows = judged.select(
        pl.lit(ctx.as_of).alias("as_of"),
        "account_id",
        "debtor_id",
        "case_id",
        pl.lit(strategy_id).alias("strategy_id"),
        "segment",
        "experiment",
        "variant",
        "path",
        "day",
        "kind",
        "channel",
        "template",
        "tone",
        pl.col("priority").cast(pl.Int32),
        "escalate_to",
        "score",
        "score_model",
        "balance_minor",
        "contact_point_id",
        "outcome",
        scheduled.alias("scheduled_at"),
        pl.col("rules").list.join(",").alias("rules"),
        status.alias("status"),
    )
    rows = rows.with_columns(bulk.allocate_ids(conn, "cycle_actions", rows.height).alias("id"))
    bulk.insert_frame(conn, "cycle_actions", rows)
    decisions = judged.filter(pl.col("fingerprint").is_not_null()).select(
        pl.lit(ctx.now).dt.convert_time_zone("UTC").alias("decided_at"),
        pl.lit(ctx.actor).alias("actor"),
        pl.format("account:{}", pl.col("account_id")).alias("subject"),
        "channel",
        "outcome",
        "next_allowed_at",
        "fingerprint",
        "rules",
        "rule_outcomes",
        "packs",
    )
    day.decisions.add(store_decisions(conn, decisions))
    return rows.height
