"""Use cases of work allocation: teams and collectors, the day's queues, completion and reassignment.

Services never commit: the caller's unit of work does. Every state change writes its audit event
through :mod:`arrears.audit.log` in the same transaction, so a refused change leaves nothing behind.
Queues are built set-based: whole Polars frames in, one bulk insert out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import polars as pl
from sqlalchemy import BigInteger, Connection, and_, func, or_, select, text, update
from sqlalchemy import column as sql_column
from sqlalchemy.orm import Session

from arrears.allocation.enums import WorkOutcome, WorkStatus
from arrears.allocation.rules import AssignmentMethod, assign_matched, order_queue
from arrears.allocation.tables import Collector, Team, WorkItem
from arrears.audit.log import record_event
from arrears.cycle.frames import read_frame
from arrears.errors import (
    IllegalTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from arrears.store import bulk
from arrears.store import tables as core

__all__ = [
    "CollectorView",
    "QueueBuild",
    "QueueItem",
    "Reassignment",
    "TeamView",
    "add_collector",
    "add_team",
    "build_queues",
    "collectors_frame",
    "complete_item",
    "deactivate_collector",
    "list_collectors",
    "my_queue",
    "parse_method",
    "reassign_idle",
    "set_capacity",
    "set_skills",
    "touch_item",
]

_CODE_LIMIT = 64
_PROBABILITY = pl.Decimal(38, 6)


@dataclass(frozen=True)
class TeamView:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class CollectorView:
    id: int
    code: str
    team: str
    languages: tuple[str, ...]
    buckets: tuple[str, ...]
    products: tuple[str, ...]
    daily_capacity: int
    score: int
    is_active: bool


@dataclass(frozen=True)
class QueueBuild:
    """What one build of a day's queues wrote."""

    as_of: dt.date
    method: AssignmentMethod
    queued: int
    assigned: int
    unassigned: int
    superseded: int
    by_collector: dict[str, int]


@dataclass(frozen=True)
class QueueItem:
    id: int
    account: str
    case_id: int | None
    action_id: str
    queued_on: dt.date
    rank: int
    balance_minor: int
    currency: str
    pay_probability: Decimal
    expected_recovery_minor: int
    urgency: int
    language: str | None
    bucket: str | None
    product: str | None
    assigned_at: dt.datetime | None
    touched_at: dt.datetime | None


@dataclass(frozen=True)
class Reassignment:
    """Items moved off collectors who left them untouched (or who were deactivated)."""

    moved: int
    stuck: int
    moves: list[tuple[int, str, str]]


def parse_method(value: str) -> AssignmentMethod:
    """The assignment method named ``value``, or a :class:`ValidationError` listing the choices."""
    try:
        return AssignmentMethod(value)
    except ValueError:
        choices = ", ".join(m.value for m in AssignmentMethod)
        raise ValidationError(
            f"unknown assignment method {value!r}; choose one of {choices}", field="method", value=value
        ) from None


def _check_code(value: str, field: str) -> str:
    if not value or len(value) > _CODE_LIMIT or value != value.strip():
        raise ValidationError(
            f"{field} must be 1 to {_CODE_LIMIT} characters without surrounding spaces", field=field
        )
    return value


def _clean_skills(values: Sequence[str] | None, field: str) -> list[str]:
    cleaned = sorted({v.strip() for v in values or () if v.strip()})
    if any(len(v) > _CODE_LIMIT for v in cleaned):
        raise ValidationError(f"a {field} skill is longer than {_CODE_LIMIT} characters", field=field)
    return cleaned


def _check_capacity(daily_capacity: int) -> int:
    if daily_capacity < 0 or daily_capacity > 100_000:
        raise ValidationError(
            "daily capacity is a whole number of items from 0 to 100000",
            field="daily_capacity",
            value=daily_capacity,
        )
    return daily_capacity


def _team(session: Session, code: str) -> Team:
    team = session.scalar(select(Team).where(Team.code == code))
    if team is None:
        raise NotFoundError(f"no team {code!r}; add it with `arrears queue add-team`", team=code)
    return team


def _collector(session: Session, code: str) -> Collector:
    found = session.scalar(select(Collector).where(Collector.code == code))
    if found is None:
        raise NotFoundError(f"no collector {code!r}", collector=code)
    return found


def _collector_view(c: Collector, team: str) -> CollectorView:
    skills = c.skills or {}
    return CollectorView(
        id=c.id,
        code=c.code,
        team=team,
        languages=tuple(skills.get("languages") or ()),
        buckets=tuple(skills.get("buckets") or ()),
        products=tuple(skills.get("products") or ()),
        daily_capacity=c.daily_capacity,
        score=c.score,
        is_active=c.is_active,
    )


def add_team(session: Session, *, code: str, name: str, actor: str, now: dt.datetime) -> TeamView:
    """Add a team of collectors; a code already in use is refused."""
    _check_code(code, "code")
    if not name.strip():
        raise ValidationError("a team needs a name", field="name")
    if session.scalar(select(Team.id).where(Team.code == code)) is not None:
        raise ValidationError(f"team {code!r} already exists", field="code", value=code)
    team = Team(code=code, name=name.strip())
    session.add(team)
    session.flush()
    record_event(
        session, actor=actor, action="add_team", subject_type="team", subject_id=code, at=now,
        after={"code": code, "team_name": team.name},
    )  # fmt: skip
    return TeamView(team.id, team.code, team.name)


def add_collector(
    session: Session,
    *,
    code: str,
    team: str,
    daily_capacity: int,
    languages: Sequence[str] = (),
    buckets: Sequence[str] = (),
    products: Sequence[str] = (),
    score: int = 0,
    actor: str,
    now: dt.datetime,
) -> CollectorView:
    """Add an active collector to ``team`` with skills (empty: any) and a daily capacity of items."""
    _check_code(code, "code")
    _check_capacity(daily_capacity)
    owner = _team(session, team)
    if session.scalar(select(Collector.id).where(Collector.code == code)) is not None:
        raise ValidationError(f"collector {code!r} already exists", field="code", value=code)
    skills = {
        "languages": _clean_skills(languages, "language"),
        "buckets": _clean_skills(buckets, "bucket"),
        "products": _clean_skills(products, "product"),
    }
    row = Collector(
        code=code, team_id=owner.id, skills=skills, daily_capacity=daily_capacity, score=score, is_active=True
    )
    session.add(row)
    session.flush()
    record_event(
        session, actor=actor, action="add_collector", subject_type="collector", subject_id=code, at=now,
        after={"team": team, "skills": skills, "daily_capacity": daily_capacity, "score": score},
    )  # fmt: skip
    return _collector_view(row, team)


def set_capacity(
    session: Session, *, collector: str, daily_capacity: int, actor: str, now: dt.datetime
) -> CollectorView:
    """Change a collector's daily capacity (items per day); it bounds the next build and reassignment."""
    _check_capacity(daily_capacity)
    row = _collector(session, collector)
    before = row.daily_capacity
    row.daily_capacity = daily_capacity
    session.flush()
    record_event(
        session, actor=actor, action="set_capacity", subject_type="collector", subject_id=collector, at=now,
        before={"daily_capacity": before}, after={"daily_capacity": daily_capacity},
    )  # fmt: skip
    return _collector_view(row, _team_code(session, row.team_id))


def set_skills(
    session: Session,
    *,
    collector: str,
    languages: Sequence[str] = (),
    buckets: Sequence[str] = (),
    products: Sequence[str] = (),
    actor: str,
    now: dt.datetime,
) -> CollectorView:
    """Replace a collector's skills (an empty list: any value)."""
    row = _collector(session, collector)
    before = dict(row.skills or {})
    skills = {
        "languages": _clean_skills(languages, "language"),
        "buckets": _clean_skills(buckets, "bucket"),
        "products": _clean_skills(products, "product"),
    }
    row.skills = skills
    session.flush()
    record_event(
        session, actor=actor, action="set_skills", subject_type="collector", subject_id=collector, at=now,
        before=before, after=skills,
    )  # fmt: skip
    return _collector_view(row, _team_code(session, row.team_id))


def deactivate_collector(session: Session, *, collector: str, actor: str, now: dt.datetime) -> int:
    """Stop giving a collector work. Returns the open items they still hold.

    Those items move to other collectors at the next :func:`reassign_idle`, whatever their idle time.
    """
    row = _collector(session, collector)
    if not row.is_active:
        raise IllegalTransitionError(f"collector {collector!r} is already inactive", collector=collector)
    row.is_active = False
    session.flush()
    held = int(
        session.scalar(
            select(func.count())
            .select_from(WorkItem)
            .where(WorkItem.collector_id == row.id, WorkItem.status == WorkStatus.OPEN)
        )
        or 0
    )
    record_event(
        session, actor=actor, action="deactivate_collector", subject_type="collector", subject_id=collector,
        at=now, before={"is_active": True}, after={"is_active": False}, details={"open_items": held},
    )  # fmt: skip
    return held


def _team_code(session: Session, team_id: int) -> str:
    return str(session.scalar(select(Team.code).where(Team.id == team_id)))


def list_collectors(session: Session) -> list[CollectorView]:
    """Every collector with team, skills and capacity, by code."""
    rows = session.execute(
        select(Collector, Team.code).join(Team, Team.id == Collector.team_id).order_by(Collector.code)
    ).all()
    return [_collector_view(c, t) for c, t in rows]


def _load(conn: Connection, day: dt.date) -> pl.DataFrame:
    """Each collector's load on ``day``: items queued that day plus items still open from earlier days."""
    w = WorkItem
    rows = conn.execute(
        select(w.collector_id, func.count())
        .where(
            w.collector_id.is_not(None),
            or_(w.queued_on == day, and_(w.queued_on < day, w.status == WorkStatus.OPEN)),
        )
        .group_by(w.collector_id)
    ).all()
    return pl.DataFrame(rows, schema={"collector_id": pl.Int64, "load": pl.Int64}, orient="row")


def collectors_frame(conn: Connection, *, day: dt.date) -> pl.DataFrame:
    """Active collectors with skills, score, load on ``day`` and capacity left (never below zero).

    Columns: collector_id, code, languages, buckets, products, score, capacity, open_items.
    """
    c = Collector
    rows = conn.execute(
        select(c.id, c.code, c.skills, c.score, c.daily_capacity).where(c.is_active.is_(True))
    ).all()
    base = pl.DataFrame(
        [
            (
                r[0], r[1], list((r[2] or {}).get("languages") or []), list((r[2] or {}).get("buckets") or []),
                list((r[2] or {}).get("products") or []), int(r[3] or 0), int(r[4]),
            )
            for r in rows
        ],
        schema={
            "collector_id": pl.Int64, "code": pl.String, "languages": pl.List(pl.String),
            "buckets": pl.List(pl.String), "products": pl.List(pl.String), "score": pl.Int64,
            "daily_capacity": pl.Int64,
        },
        orient="row",
    )  # fmt: skip
    return (
        base.join(_load(conn, day), on="collector_id", how="left")
        .with_columns(pl.col("load").fill_null(0))
        .with_columns(
            (pl.col("daily_capacity") - pl.col("load")).clip(lower_bound=0).alias("capacity"),
            pl.col("load").alias("open_items"),
        )
        .drop("daily_capacity", "load")
        .sort("collector_id")
    )


def _account_currencies(conn: Connection, ids: list[int]) -> pl.DataFrame:
    """Currency of each of ``ids`` (sorted) that is on file: one range read, no long IN lists."""
    a = core.Account
    found = read_frame(
        conn,
        select(a.id, a.currency).where(a.id >= ids[0], a.id <= ids[-1]),
        {"account_id": pl.Int64, "currency": pl.String},
    )
    return found.join(
        pl.DataFrame({"account_id": ids}, schema={"account_id": pl.Int64}), on="account_id", how="semi"
    )


def _given_currencies(currencies: pl.DataFrame, ids: list[int]) -> pl.DataFrame:
    """The caller's (account_id, currency) rows for ``ids``: one per account, empty currencies dropped."""
    try:
        given = currencies.select(pl.col("account_id").cast(pl.Int64), pl.col("currency").cast(pl.String))
    except pl.exceptions.PolarsError as exc:
        raise ValidationError(f"the currencies frame is not usable: {exc}", field="currencies") from None
    return (
        given.drop_nulls()
        .unique("account_id", keep="first", maintain_order=True)
        .join(pl.DataFrame({"account_id": ids}, schema={"account_id": pl.Int64}), on="account_id", how="semi")
    )


def _supersede(conn: Connection, as_of: dt.date, account_ids: list[int]) -> int:
    """Close earlier days' open items that today's queue replaces; returns how many.

    Replaced: an open item of an account with a task today, and an open item nobody was given (the
    daily cycle issues a fresh task for every account that still needs one).
    """
    w = WorkItem
    # Set-based statements (the version bumped as every bulk update does): items nobody was given,
    # then assigned items of accounts queued today.
    superseded = {"status": str(WorkStatus.SUPERSEDED), "version": w.version + 1}
    earlier = (w.status == WorkStatus.OPEN, w.queued_on < as_of)
    count = conn.execute(update(w).where(*earlier, w.collector_id.is_(None)).values(superseded)).rowcount
    # Earlier open items that someone holds are bounded by collectors' capacity, far fewer than the
    # day's accounts: only the accounts in both are staged (none staged, no statement).
    held = read_frame(
        conn,
        select(w.account_id).where(*earlier, w.collector_id.is_not(None)).distinct(),
        {"account_id": pl.Int64},
    )
    queued = pl.DataFrame({"account_id": account_ids}, schema={"account_id": pl.Int64})
    replaced = held.join(queued, on="account_id", how="semi").sort("account_id")
    if replaced.height == 0:
        return int(count)
    conn.exec_driver_sql("DROP TABLE IF EXISTS _queued_accounts")
    conn.exec_driver_sql("CREATE TEMPORARY TABLE _queued_accounts (account_id BIGINT)")
    bulk.insert_frame(conn, "_queued_accounts", replaced)
    staged = (
        text("SELECT account_id FROM _queued_accounts")
        .columns(sql_column("account_id", BigInteger))
        .subquery()
    )
    count += conn.execute(
        update(w)
        .where(*earlier, w.collector_id.is_not(None), w.account_id.in_(select(staged.c.account_id)))
        .values(superseded)
    ).rowcount
    conn.exec_driver_sql("DROP TABLE _queued_accounts")
    return int(count)


_WORK_OPTIONAL: dict[str, pl.DataType] = {
    "case_id": pl.Int64(),
    "language": pl.String(),
    "bucket": pl.String(),
    "product": pl.String(),
    "action_id": pl.String(),
}


def _normalise_work(work: pl.DataFrame) -> pl.DataFrame:
    missing = [
        c for c in ("account_id", "balance_minor", "pay_probability", "urgency") if c not in work.columns
    ]
    if missing:
        raise ValidationError(f"the work frame lacks column(s) {', '.join(missing)}", field="work")
    frame = work.with_columns(
        [pl.lit(None, dtype=t).alias(c) for c, t in _WORK_OPTIONAL.items() if c not in work.columns]
    )
    try:
        frame = frame.select(
            pl.col("account_id").cast(pl.Int64),
            pl.col("balance_minor").cast(pl.Int64),
            pl.col("pay_probability").cast(_PROBABILITY),
            pl.col("urgency").cast(pl.Int64),
            *[pl.col(c).cast(t) for c, t in _WORK_OPTIONAL.items()],
        ).with_columns(pl.col("action_id").fill_null(""))
    except pl.exceptions.PolarsError as exc:
        raise ValidationError(f"the work frame has a column of the wrong type: {exc}", field="work") from None
    for column in ("account_id", "balance_minor", "pay_probability", "urgency"):
        if frame.get_column(column).null_count():
            raise ValidationError(f"work column {column} has empty values", field=column)
    if frame.filter((pl.col("pay_probability") < 0) | (pl.col("pay_probability") > 1)).height:
        raise ValidationError("pay_probability must lie between 0 and 1", field="pay_probability")
    if frame.filter(pl.col("balance_minor") < 0).height:
        raise ValidationError("balance_minor may not be negative", field="balance_minor")
    if frame.select("account_id", "action_id").is_duplicated().any():
        raise ValidationError("the work frame repeats an account and action", field="work")
    if frame.filter(pl.col("action_id").str.len_chars() > _CODE_LIMIT).height:
        raise ValidationError(f"action_id is at most {_CODE_LIMIT} characters", field="action_id")
    return frame


def _session_on(conn: Connection) -> Session:
    # A session on the caller's connection joins its transaction; it neither commits nor rolls back.
    return Session(bind=conn, autoflush=False)


def build_queues(
    conn: Connection,
    *,
    as_of: dt.date,
    work: pl.DataFrame,
    method: AssignmentMethod,
    now: dt.datetime,
    actor: str,
    currencies: pl.DataFrame | None = None,
) -> QueueBuild:
    """Queue the day's call tasks and assign them to collectors, in bulk.

    ``work``: account_id, balance_minor, pay_probability (0–1), urgency (higher first) and optionally
    case_id, language, bucket, product, action_id. Tasks are ordered by expected recovery
    (balance × probability) then urgency (:func:`~arrears.allocation.rules.order_queue`), matched to
    active collectors whose skills cover their language, bucket and product, and assigned by
    ``method`` without exceeding any collector's capacity for the day (items queued that day plus
    items still open from earlier days). Tasks nobody has room for are stored unassigned.

    Idempotent for a date: a task already queued for (``as_of``, account, action) is not queued again,
    so a rerun adds nothing and writes no audit event. Open tasks of earlier days are marked
    ``superseded`` when the account has a task today or when nobody was ever given them.

    ``currencies`` (account_id, currency), when the caller read the work with its accounts, spares
    reading them again; an account of the work missing from it is refused as not on file.
    """
    frame = _normalise_work(work)
    w = WorkItem
    # Today's items once: what is already queued (idempotency) and the last rank given.
    existing = read_frame(
        conn,
        select(w.account_id, w.action_id, w.rank).where(w.queued_on == as_of),
        {"account_id": pl.Int64, "action_id": pl.String, "rank": pl.Int64},
    )
    fresh = frame.join(existing.drop("rank"), on=["account_id", "action_id"], how="anti")
    if fresh.height == 0:
        return QueueBuild(as_of, method, 0, 0, 0, 0, {})
    ids = fresh.get_column("account_id").unique().sort().to_list()
    on_file = _account_currencies(conn, ids) if currencies is None else _given_currencies(currencies, ids)
    if on_file.height != len(ids):
        unknown = sorted(set(ids) - set(on_file.get_column("account_id").to_list()))
        raise NotFoundError(
            f"{len(unknown)} account(s) in the work are not on file, e.g. {unknown[:5]}",
            accounts=unknown[:20],
        )
    superseded = _supersede(conn, as_of, ids)
    collectors = collectors_frame(conn, day=as_of)
    start_rank = int(existing.select(pl.col("rank").max()).item() or 0)
    ordered = order_queue(fresh.join(on_file, on="account_id", how="left"))
    assigned = assign_matched(ordered, collectors, method=method)
    rows = assigned.select(
        "account_id",
        "collector_id",
        pl.lit(as_of).alias("queued_on"),
        "expected_recovery_minor",
        "currency",
        "urgency",
        pl.when(pl.col("collector_id").is_not_null())
        .then(pl.lit(now.astimezone(dt.UTC)))
        .otherwise(None)
        .cast(pl.Datetime("us", "UTC"))
        .alias("assigned_at"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("touched_at"),
        pl.lit(str(WorkStatus.OPEN)).alias("status"),
        pl.lit(1).alias("version"),
        "action_id",
        "case_id",
        "balance_minor",
        pl.col("pay_probability").cast(pl.String),
        "language",
        "bucket",
        "product",
        (pl.int_range(1, pl.len() + 1, dtype=pl.Int64) + start_rank).alias("rank"),
        pl.lit(0).alias("reassignments"),
    )
    # Ids and rows in account order: the table, its account-keyed indexes and the foreign-key checks
    # against accounts all walk forward page by page instead of at random. The queue's order is the
    # ``rank`` column, not the id.
    rows = rows.sort("account_id", "action_id")
    rows = rows.with_columns(bulk.allocate_ids(conn, "work_items", rows.height).alias("id"))
    bulk.insert_frame(conn, "work_items", rows)
    codes = dict(collectors.select("collector_id", "code").iter_rows())
    per = assigned.drop_nulls("collector_id").group_by("collector_id").len().sort("collector_id")
    by_collector = {codes[c]: int(n) for c, n in per.iter_rows()}
    n_assigned = sum(by_collector.values())
    report = QueueBuild(
        as_of, method, rows.height, n_assigned, rows.height - n_assigned, superseded, by_collector
    )
    record_event(
        _session_on(conn), actor=actor, action="build_queues", subject_type="work_queue",
        subject_id=as_of.isoformat(), at=now,
        details={
            "method": str(method), "queued": report.queued, "assigned": report.assigned,
            "unassigned": report.unassigned, "superseded": superseded, "by_collector": by_collector,
        },
    )  # fmt: skip
    return report


def my_queue(session: Session, *, collector: str, as_of: dt.date) -> list[QueueItem]:
    """The open items assigned to ``collector`` and queued on or before ``as_of``, in queue order.

    A collector sees only their own items.
    """
    row = _collector(session, collector)
    w, a = WorkItem, core.Account
    found = session.execute(
        select(w, a.external_id)
        .join(a, a.id == w.account_id)
        .where(w.collector_id == row.id, w.status == WorkStatus.OPEN, w.queued_on <= as_of)
        .order_by(w.expected_recovery_minor.desc(), w.urgency.desc(), w.account_id, w.action_id, w.id)
    ).all()
    return [
        QueueItem(
            id=i.id,
            account=ext,
            case_id=i.case_id,
            action_id=i.action_id,
            queued_on=i.queued_on,
            rank=i.rank,
            balance_minor=i.balance_minor,
            currency=i.currency,
            pay_probability=i.pay_probability,
            expected_recovery_minor=i.expected_recovery_minor,
            urgency=i.urgency,
            language=i.language,
            bucket=i.bucket,
            product=i.product,
            assigned_at=i.assigned_at,
            touched_at=i.touched_at,
        )
        for i, ext in found
    ]


def _own_open_item(session: Session, item_id: int, collector: str) -> tuple[WorkItem, Collector]:
    item = session.get(WorkItem, item_id)
    if item is None:
        raise NotFoundError(f"no work item {item_id}", item=item_id)
    who = _collector(session, collector)
    if item.collector_id != who.id:
        raise PermissionDeniedError(
            f"work item {item_id} is not in {collector}'s queue", item=item_id, collector=collector
        )
    if item.status != WorkStatus.OPEN:
        raise IllegalTransitionError(
            f"work item {item_id} is {item.status}, not open", item=item_id, status=item.status
        )
    return item, who


def touch_item(session: Session, *, item_id: int, collector: str, actor: str, now: dt.datetime) -> None:
    """Mark an item as worked on now (it is no longer idle); only its collector may."""
    item, _ = _own_open_item(session, item_id, collector)
    before = item.touched_at
    item.touched_at = now
    session.flush()
    record_event(
        session, actor=actor, action="touch_work_item", subject_type="work_item", subject_id=str(item_id),
        at=now, before={"touched_at": before}, after={"touched_at": now},
    )  # fmt: skip


def complete_item(
    session: Session, *, item_id: int, collector: str, outcome: WorkOutcome, actor: str, now: dt.datetime
) -> None:
    """Close an open item of ``collector``'s queue with an outcome; only its collector may."""
    item, _ = _own_open_item(session, item_id, collector)
    item.status = WorkStatus.DONE
    item.outcome = str(outcome)
    item.completed_at = now
    item.touched_at = now
    session.flush()
    record_event(
        session, actor=actor, action="complete_work_item", subject_type="work_item",
        subject_id=str(item_id), at=now, before={"status": str(WorkStatus.OPEN)},
        after={"status": str(WorkStatus.DONE), "outcome": str(outcome)}, details={"collector": collector},
    )  # fmt: skip


def reassign_idle(
    conn: Connection,
    *,
    now: dt.datetime,
    idle_hours: int,
    actor: str,
    method: AssignmentMethod = AssignmentMethod.BALANCED,
) -> Reassignment:
    """Move open items untouched for ``idle_hours`` (since assignment or last touch) to other collectors.

    Items held by a deactivated collector move whatever their idle time. A new collector must have the
    skills for the item and capacity left today (UTC date of ``now``); an item nobody can take stays
    where it is (counted as ``stuck``). Moved items restart their idle clock.
    """
    if idle_hours < 1:
        raise ValidationError("idle hours must be at least 1", field="idle_hours", value=idle_hours)
    cutoff = now - dt.timedelta(hours=idle_hours)
    w, c = WorkItem, Collector
    idle = or_(
        and_(w.touched_at.is_not(None), w.touched_at <= cutoff),
        and_(w.touched_at.is_(None), w.assigned_at <= cutoff),
        c.is_active.is_(False),
    )
    rows = conn.execute(
        select(
            w.id, w.account_id, w.collector_id, c.code, w.expected_recovery_minor, w.urgency, w.action_id,
            w.language, w.bucket, w.product, w.reassignments,
        )
        .join(c, c.id == w.collector_id)
        .where(w.status == WorkStatus.OPEN, idle)
    ).all()  # fmt: skip
    items = pl.DataFrame(
        rows,
        schema={
            "id": pl.Int64, "account_id": pl.Int64, "exclude_collector_id": pl.Int64, "from_code": pl.String,
            "expected_recovery_minor": pl.Int64, "urgency": pl.Int64, "action_id": pl.String,
            "language": pl.String, "bucket": pl.String, "product": pl.String, "reassignments": pl.Int64,
        },
        orient="row",
    ).sort(
        ["expected_recovery_minor", "urgency", "account_id", "action_id", "id"],
        descending=[True, True, False, False, False],
    )  # fmt: skip
    if items.height == 0:
        return Reassignment(0, 0, [])
    collectors = collectors_frame(conn, day=now.astimezone(dt.UTC).date())
    moved = assign_matched(items, collectors, method=method).drop_nulls("collector_id")
    codes = dict(collectors.select("collector_id", "code").iter_rows())
    updates = moved.select(
        "id",
        "collector_id",
        pl.lit(now).alias("assigned_at"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("touched_at"),
        (pl.col("reassignments") + 1).alias("reassignments"),
    )
    bulk.update_rows(conn, WorkItem.__table__, "id", updates)  # type: ignore[arg-type]
    moves = [
        (int(i), f, codes[int(t)]) for i, f, t in moved.select("id", "from_code", "collector_id").iter_rows()
    ]
    report = Reassignment(moved.height, items.height - moved.height, moves)
    if moves:
        record_event(
            _session_on(conn), actor=actor, action="reassign_idle", subject_type="work_queue",
            subject_id=now.astimezone(dt.UTC).date().isoformat(), at=now,
            details={
                "idle_hours": idle_hours, "method": str(method), "moved": report.moved, "stuck": report.stuck,
                "moves": [list(m) for m in moves],
            },
        )  # fmt: skip
    return report
