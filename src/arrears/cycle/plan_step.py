"""Cycle step "plan": score, segment, assign arms, produce the day's actions and check them all.

For one partition: features from the day's positions and the case book, the score (rule-based until
a model is promoted), the published strategy's segments, experiment arms and treatment steps, then
every proposed contact judged by the compliance engine in one batch. The actions are written with
their decisions (allow, delay until an instant, block, review, and the rules that decided), and each
decision is stored with a fingerprint of its inputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import polars as pl
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from arrears.cases.contacts import history_outcome
from arrears.cases.tables import Case, CaseAccount, CaseHold, ContactRecord, Dispute, Promise
from arrears.compliance import check_batch, record_decisions
from arrears.cycle.ledger_steps import CycleContext
from arrears.cycle.tables import DailyPosition
from arrears.domain.cases.enums import Channel as CaseChannel
from arrears.domain.cases.enums import ContactOutcome
from arrears.domain.rule_score import RULE_SCORE_VERSION, rule_score, rule_score_reasons
from arrears.errors import ConfigurationError
from arrears.scoring.service import score_for_cycle
from arrears.store import bulk, personal, tables
from arrears.store.personal import PersonalKind
from arrears.strategy.dsl import Strategy
from arrears.strategy.service import (
    active_strategy,
    features_from_positions,
    plan_day,
    record_day,
    recorded_assignments,
    segment_entries_open,
)
from arrears.strategy.tables import StrategyVersion

__all__ = ["step_plan"]

_OPEN_STAGES = ("new", "initial_contact", "confirmed", "negotiating", "arranged", "escalated", "legal")
_PHONE_CHANNELS = ("call", "sms", "voicemail_message")
_CHUNK = 20_000


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


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


def _positions(conn: Connection, ctx: CycleContext) -> pl.DataFrame:
    p, a = DailyPosition, tables.Account
    query = (
        select(
            p.account_id,
            p.currency,
            p.dpd,
            p.bucket,
            p.overdue_minor,
            p.oldest_unpaid_due_on,
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
        )
        .join(a, a.id == p.account_id)
        .where(p.as_of == ctx.as_of)
    )
    if ctx.partitions > 1:
        query = query.where((p.account_id % ctx.partitions) == ctx.partition)
    return pl.DataFrame(
        conn.execute(query).all(),
        schema={
            "account_id": pl.Int64,
            "currency": pl.String,
            "dpd": pl.Int64,
            "bucket": pl.String,
            "overdue_minor": pl.Int64,
            "oldest_unpaid_due_on": pl.Date,
            "product_code": pl.String,
            "total_minor": pl.Int64,
            "debtor_id": pl.Int64,
        },
        orient="row",
    )


def _case_facts(conn: Connection, ctx: CycleContext, account_ids: pl.Series) -> pl.DataFrame:
    """Per account in an open case: case id, stage, promises broken (180 days), holds, last RPC.

    Read for the whole partition by joins, then narrowed to ``account_ids`` in Polars: an IN-list of
    account ids made SQLite drive the join from the stage index and probe every case against every
    listed id (quadratic; a 100,000-account day never finished).
    """
    c, ca, h, pr = Case, CaseAccount, CaseHold, Promise
    as_of = ctx.as_of
    open_case = c.stage.in_(_OPEN_STAGES)
    linked = (
        select(ca.account_id, c.id, c.stage, c.last_right_party_at)
        .join(c, c.id == ca.case_id)
        .where(~ca.is_excluded, open_case)
    )
    if ctx.partitions > 1:
        linked = linked.where((ca.account_id % ctx.partitions) == ctx.partition)
    rows: list[Any] = list(conn.execute(linked).all())
    holds: list[Any] = list(
        conn.execute(
            select(h.case_id, h.kind).join(c, c.id == h.case_id).where(h.released_at.is_(None), open_case)
        ).all()
    )
    broken: list[Any] = list(
        conn.execute(
            select(pr.case_id, pr.id)
            .join(c, c.id == pr.case_id)
            .where(
                open_case,
                pr.status.in_(("broken", "partially_kept")),
                pr.judged_on > as_of - dt.timedelta(days=180),
            )
        ).all()
    )
    facts = pl.DataFrame(
        rows,
        schema={
            "account_id": pl.Int64,
            "case_id": pl.Int64,
            "stage": pl.String,
            "last_rpc_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    ).filter(pl.col("account_id").is_in(account_ids.implode()))
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


def _features(conn: Connection, ctx: CycleContext) -> pl.DataFrame:
    positions = _positions(conn, ctx)
    features = features_from_positions(conn, positions.drop("debtor_id"), as_of=ctx.as_of)
    facts = _case_facts(conn, ctx, positions["account_id"])
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
    return features.join(positions.select("account_id", "debtor_id"), on="account_id")


def step_plan(conn: Connection, ctx: CycleContext) -> dict[str, Any]:
    """Segment, choose today's steps, judge every contact, and write the actions with their decisions."""
    from arrears import bootstrap

    settings = bootstrap.settings()
    with Session(bind=conn, autoflush=False) as session:
        chosen = _strategy(session, settings.strategy)
        features = _features(conn, ctx)
        if chosen is None:
            return {"accounts": features.height, "actions": 0, "strategy": None}
        version_id, strategy = chosen
        scope = (ctx.partition, ctx.partitions)
        plan = plan_day(
            features,
            strategy,
            as_of=ctx.as_of,
            open_entries=segment_entries_open(session, strategy.id, scope),
            recorded=recorded_assignments(session, scope),
        )
        moves = record_day(
            session,
            plan=plan,
            strategy_id=strategy.id,
            version_id=version_id,
            as_of=ctx.as_of,
            actor=ctx.actor,
            now=ctx.now,
            scope=scope,
        )
        session.flush()
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
    judged = _judge(conn, ctx, actions, settings.collector_type)
    written = _write_actions(conn, ctx, judged, strategy_id=strategy.id)
    outcomes = judged.filter(pl.col("outcome").is_not_null()).group_by("outcome").len().sort("outcome")
    channels = judged.group_by("channel").len().sort("channel")
    return {
        "accounts": features.height,
        "segmented": plan.accounts.height,
        "actions": written,
        "by_channel": {str(k): int(v) for k, v in channels.iter_rows()},
        "by_outcome": {str(k): int(v) for k, v in outcomes.iter_rows()},
        **{f"segment_{k}": v for k, v in moves.items()},
    }


def _contact_points(conn: Connection, debtor_ids: list[int]) -> pl.DataFrame:
    cp = tables.ContactPoint
    rows: list[Any] = []
    for chunk in _chunks(debtor_ids):
        rows += conn.execute(
            select(cp.id, cp.debtor_id, cp.kind, cp.place, cp.value)
            .where(cp.debtor_id.in_(chunk), cp.person_id.is_(None))
            .order_by(cp.id)
        ).all()
    return pl.DataFrame(
        rows,
        schema={
            "id": pl.Int64,
            "debtor_id": pl.Int64,
            "kind": pl.String,
            "place": pl.String,
            "value": pl.String,
        },
        orient="row",
    )


def _history(
    conn: Connection, debtor_ids: list[int], since: dt.datetime, debts_of: dict[int, list[str]]
) -> pl.DataFrame:
    r = ContactRecord
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(debtor_ids):
        for rec in conn.execute(
            select(
                r.debtor_id,
                r.case_id,
                r.at,
                r.channel,
                r.direction,
                r.person_id,
                r.contact_point_id,
                r.outcome,
                r.made_by,
            ).where(r.debtor_id.in_(chunk), r.at >= since)
        ):
            channel = CaseChannel(rec.channel)
            rows.append(
                {
                    "debtor_id": str(rec.debtor_id),
                    "at": rec.at,
                    "channel": {"voicemail": "voicemail_message", "chat": "social_private"}.get(
                        rec.channel, rec.channel
                    ),
                    "direction": rec.direction,
                    "person": None if rec.person_id is None else str(rec.person_id),
                    "contact_point": None if rec.contact_point_id is None else str(rec.contact_point_id),
                    "debts": debts_of.get(rec.case_id or -1, []),
                    "outcome": history_outcome(channel, ContactOutcome(rec.outcome)),
                    "ai_voice": rec.made_by == "ai_voice",
                }
            )
    schema: dict[str, Any] = {
        "debtor_id": pl.String,
        "at": pl.Datetime("us", "UTC"),
        "channel": pl.String,
        "direction": pl.String,
        "person": pl.String,
        "contact_point": pl.String,
        "debts": pl.List(pl.String),
        "outcome": pl.String,
        "ai_voice": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


def _cases_input(
    conn: Connection, debtor_ids: list[int], points: pl.DataFrame, case_accounts: pl.DataFrame
) -> list[dict[str, Any]]:
    """The compliance engine's view of each debtor: jurisdiction, zone, address, contact points, flags."""
    d, h, dispute = tables.Debtor, CaseHold, Dispute
    debtors: list[Any] = []
    holds: list[Any] = []
    disputes: list[Any] = []
    case_ids = case_accounts["case_id"].unique().to_list()
    for chunk in _chunks(debtor_ids):
        debtors += conn.execute(
            select(
                d.id, d.jurisdiction, d.timezone, d.address_country, d.address_region, d.address_city
            ).where(d.id.in_(chunk))
        ).all()
    for chunk in _chunks(case_ids):
        holds += conn.execute(
            select(h.case_id, h.kind, h.placed_at, h.until_on).where(
                h.case_id.in_(chunk), h.released_at.is_(None)
            )
        ).all()
        disputes += conn.execute(
            select(dispute.case_id, dispute.account_id, dispute.received_at, dispute.form).where(
                dispute.case_id.in_(chunk), dispute.status == "open"
            )
        ).all()
    debtor_of_case = dict(case_accounts.select("case_id", "debtor_id").unique().iter_rows())
    flags: dict[int, dict[str, Any]] = {}
    for case_id, kind, placed_at, until_on in holds:
        f = flags.setdefault(debtor_of_case[case_id], {})
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
    external = dict(case_accounts.select("account_id", "external_id").iter_rows())
    debts: dict[int, list[dict[str, Any]]] = {}
    for row in case_accounts.iter_rows(named=True):
        debts.setdefault(row["debtor_id"], []).append({"id": row["external_id"]})
    for case_id, account_id, received_at, form in disputes:
        debtor = debtor_of_case[case_id]
        for debt in debts.get(debtor, []):
            if account_id is None or debt["id"] == external.get(account_id):
                debt["dispute"] = {
                    "received_at": received_at.astimezone(dt.UTC).isoformat(),
                    "in_writing": form == "written",
                }
    by_debtor: dict[int, list[dict[str, Any]]] = {}
    for row in points.iter_rows(named=True):
        kind = {"phone": PersonalKind.PHONE, "email": PersonalKind.EMAIL}.get(
            row["kind"], PersonalKind.ADDRESS
        )
        by_debtor.setdefault(row["debtor_id"], []).append(
            {
                "id": str(row["id"]),
                "kind": row["kind"],
                "place": row["place"],
                "value": personal.unseal(kind, row["value"]),
            }
        )
    out = []
    for debtor_id, jurisdiction, timezone, country, region, city in debtors:
        out.append(
            {
                "debtor": {
                    "id": str(debtor_id),
                    "jurisdiction": jurisdiction,
                    "timezone": timezone,
                    "address": {"country": country, "region": region, "city": city},
                    "contact_points": by_debtor.get(debtor_id, []),
                    "flags": flags.get(debtor_id, {}),
                },
                "debts": debts.get(debtor_id, []),
            }
        )
    return out


def _case_accounts(conn: Connection, debtor_ids: list[int]) -> pl.DataFrame:
    a, ca, c = tables.Account, CaseAccount, Case
    rows: list[Any] = []
    for chunk in _chunks(debtor_ids):
        rows += conn.execute(
            select(c.id, c.debtor_id, ca.account_id, a.external_id)
            .join(ca, ca.case_id == c.id)
            .join(a, a.id == ca.account_id)
            .where(c.debtor_id.in_(chunk), c.stage.in_(_OPEN_STAGES), ~ca.is_excluded)
        ).all()
    return pl.DataFrame(
        rows,
        schema={"case_id": pl.Int64, "debtor_id": pl.Int64, "account_id": pl.Int64, "external_id": pl.String},
        orient="row",
    )


def _judge(conn: Connection, ctx: CycleContext, actions: pl.DataFrame, collector_type: str) -> pl.DataFrame:
    """Add the compliance decision to every contact action (escalations are not contacts)."""
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
    points = _contact_points(conn, debtor_ids)
    case_accounts = _case_accounts(conn, debtor_ids)
    external = _externals(conn, contacts["account_id"].unique().to_list())
    cases = _cases_input(conn, debtor_ids, points, case_accounts)
    known_debts = {c["debtor"]["id"]: {d["id"] for d in c["debts"]} for c in cases}
    # One grouped pass instead of one frame slice per case (thousands of cases a day).
    grouped = case_accounts.group_by("case_id").agg(pl.col("external_id").sort())
    debts_of = dict(zip(grouped["case_id"].to_list(), grouped["external_id"].to_list(), strict=True))
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
    proposed = (
        contacts.with_columns(
            pl.col("channel").replace_strict(wanted, default=None, return_dtype=pl.String).alias("_kind")
        )
        .join(first_point, left_on=["debtor_id", "_kind"], right_on=["debtor_id", "kind"], how="left")
        .join(external, on="account_id", how="left")
    )
    # A debt is named only when the engine knows it (it belongs to an open case of the debtor).
    proposed = proposed.with_columns(
        pl.struct("debtor_id", "debt")
        .map_elements(
            lambda s: [s["debt"]] if s["debt"] in known_debts.get(str(s["debtor_id"]), set()) else [],
            return_dtype=pl.List(pl.String),
        )
        .alias("debts")
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


def _externals(conn: Connection, ids: list[int]) -> pl.DataFrame:
    rows: list[Any] = []
    for chunk in _chunks(ids):
        rows += conn.execute(
            select(tables.Account.id, tables.Account.external_id).where(tables.Account.id.in_(chunk))
        ).all()
    return pl.DataFrame(rows, schema={"account_id": pl.Int64, "debt": pl.String}, orient="row")


def _fingerprints(
    frame: pl.DataFrame, cases: list[dict[str, Any]], history: pl.DataFrame, ctx: CycleContext
) -> pl.Series:
    """SHA-256 per decision over its inputs: the debtor's case and history, the proposal and the instant."""
    events: dict[str, list[Any]] = {}
    for row in history.sort("at").iter_rows(named=True):
        events.setdefault(row["debtor_id"], []).append(
            [
                row["at"].isoformat(),
                row["channel"],
                row["direction"],
                row["person"],
                row["contact_point"],
                row["debts"],
                row["outcome"],
            ]
        )
    per_debtor = {
        c["debtor"]["id"]: hashlib.sha256(
            json.dumps(
                [c, events.get(c["debtor"]["id"], [])], sort_keys=True, separators=(",", ":"), default=str
            ).encode()
        ).hexdigest()
        for c in cases
    }
    instant = ctx.now.astimezone(dt.UTC).isoformat()
    return pl.Series(
        [
            hashlib.sha256(f"{per_debtor[str(d)]}|{ch}|{cp}|{','.join(debts)}|{instant}".encode()).hexdigest()
            for d, ch, cp, debts in frame.select(
                "debtor_id", "channel", "contact_point_id", "debts"
            ).iter_rows()
        ],
        dtype=pl.String,
    )


def _write_actions(conn: Connection, ctx: CycleContext, judged: pl.DataFrame, *, strategy_id: str) -> int:
    if judged.height == 0:
        return 0
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
    rows = judged.sort("account_id", "priority").select(
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
    record_decisions(conn, decisions)
    return rows.height
