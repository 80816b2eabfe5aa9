"""Use cases of the compliance capability: read a request, check it, fingerprint it, store decisions."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pydantic
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from arrears.audit.log import record_event
from arrears.compliance.tables import ComplianceDecision
from arrears.domain.compliance.engine import evaluate
from arrears.domain.compliance.enums import Channel
from arrears.domain.compliance.models import Decision, Request
from arrears.domain.compliance.packs import PackSet, load_packs
from arrears.errors import FileFormatError, ValidationError
from arrears.store.bulk import insert_frame

__all__ = [
    "DECISION_FRAME_COLUMNS",
    "DecisionSummary",
    "ReportRow",
    "check",
    "compliance_report",
    "fingerprint",
    "parse_request",
    "read_request_text",
    "record_decision",
    "record_decisions",
    "record_decisions_event",
    "store_decisions",
]


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _problem(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "enum":
        expected = str(ctx.get("expected", "")).replace(" or ", ", ").replace("'", "")
        return f"must be one of {expected}"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind in {"timezone_aware", "datetime_parsing", "datetime_from_date_parsing", "datetime_type"}:
        return "must be an ISO-8601 instant with a UTC offset, e.g. 2026-06-10T12:30:00Z"
    if kind in {"date_parsing", "date_from_datetime_parsing", "date_type"}:
        return "must be a date as YYYY-MM-DD"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def parse_request(data: Request | Mapping[str, Any]) -> Request:
    """Validate a request body; errors name the field path and the problem."""
    if isinstance(data, Request):
        return data
    try:
        return Request.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = _path(first.get("loc", ()))
        problem = _problem(first)
        # Cross-field problems raised by the model validator already start with their path.
        message = problem if not path else f"{path}: {problem}"
        details = [{"field": _path(e.get("loc", ())), "problem": _problem(e)} for e in exc.errors()]
        raise ValidationError(message, field=path, problem=problem, errors=details) from None


def read_request_text(text: str, source: str = "request") -> Request:
    """Parse JSON text into a request; a file that is not JSON is reported with its line and column."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            source=source,
            line=exc.lineno,
            column=exc.colno,
        ) from None
    if not isinstance(data, dict):
        raise ValidationError(f"{source}: a request must be a JSON object", source=source)
    return parse_request(data)


def check(request: Request | Mapping[str, Any], *, packs: PackSet | None = None) -> Decision:
    """Judge one proposed contact: allow, delay (with ``next_allowed_at``), block or review."""
    return evaluate(parse_request(request), packs or load_packs())


def fingerprint(request: Request | Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the validated inputs (instants in UTC, keys sorted)."""
    model = parse_request(request)
    canonical = json.dumps(
        model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- stored decisions


def _pack_versions(pack_ids: Iterable[str], packs: PackSet | None) -> dict[str, str]:
    known = (packs or load_packs()).packs
    return {pack_id: known[pack_id].version if pack_id in known else "unknown" for pack_id in pack_ids}


def _require_aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{name}: must be timezone-aware", field=name)
    return value.astimezone(dt.UTC)


def _require_text(value: str, name: str, limit: int) -> str:
    text = (value or "").strip()
    if not text or len(text) > limit:
        raise ValidationError(f"{name}: must be 1 to {limit} characters", field=name)
    return text


def record_decision(
    session: Session,
    *,
    decision: Decision,
    fingerprint: str,
    actor: str,
    subject: str,
    channel: Channel | str,
    at: dt.datetime,
    packs: PackSet | None = None,
) -> ComplianceDecision:
    """Store a decision taken for a real action, with its inputs' fingerprint, and audit it.

    Only non-personal decision data is stored (the request carries contact points): outcome, the
    rules that fired, the packs and versions, and the fingerprint. The caller owns the transaction.
    """
    if not _FINGERPRINT.fullmatch(fingerprint or ""):
        raise ValidationError("fingerprint: must be 64 lowercase hex digits (SHA-256)", field="fingerprint")
    try:
        medium = Channel(channel)
    except ValueError:
        allowed = ", ".join(c.value for c in Channel)
        raise ValidationError(f"channel: must be one of {allowed}", field="channel") from None
    decided_at = _require_aware(at, "at")
    row = ComplianceDecision(
        decided_at=decided_at,
        actor=_require_text(actor, "actor", 64),
        subject=_require_text(subject, "subject", 64),
        channel=medium.value,
        outcome=decision.outcome.value,
        next_allowed_at=decision.next_allowed_at,
        fingerprint=fingerprint,
        rules=[{"id": rule.id, "outcome": rule.outcome.value} for rule in decision.rules],
        packs=_pack_versions(decision.packs, packs),
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        actor=row.actor,
        action="compliance_decision_recorded",
        subject_type="compliance_decision",
        subject_id=str(row.id),
        at=decided_at,
        after={
            "subject": row.subject,
            "channel": row.channel,
            "outcome": row.outcome,
            "next_allowed_at": None if row.next_allowed_at is None else row.next_allowed_at.isoformat(),
            "fingerprint": fingerprint,
            "rules": [rule["id"] for rule in row.rules],
        },
    )
    return row


_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
DECISION_FRAME_COLUMNS = (
    "decided_at",
    "actor",
    "subject",
    "channel",
    "outcome",
    "next_allowed_at",
    "fingerprint",
    "rules",
    "rule_outcomes",
    "packs",
)


def _json_per_distinct(frame: pl.DataFrame, columns: list[str], encode: Any) -> pl.Series:
    """``encode(*values)`` of every row, computed once per distinct combination of ``columns``.

    A day's decisions repeat a handful of rule lists; encoding each distinct one once keeps the
    text identical to encoding every row.
    """
    # The JSON of the values is only a key here: an exact, injective one.
    keyed = frame.select(columns).with_columns(pl.struct(columns).struct.json_encode().alias("_key"))
    distinct = keyed.unique("_key")
    # As over elements: a missing single value stays missing (a struct of several is never missing).
    texts = [
        None if len(values) == 1 and values[0] is None else encode(*values)
        for values in distinct.select(columns).iter_rows()
    ]
    mapping = pl.DataFrame({"_key": distinct["_key"], "_text": pl.Series(texts, dtype=pl.String)})
    return keyed.select("_key").join(mapping, on="_key", how="left", maintain_order="left")["_text"]


def store_decisions(conn: Connection, frame: pl.DataFrame, *, packs: PackSet | None = None) -> pl.DataFrame:
    """Validate and insert decisions as :func:`record_decisions` does, without its audit event; returns
    the rows stored (for a caller that writes one event for several batches: :class:`DecisionSummary`).
    """
    missing = [c for c in DECISION_FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise ValidationError(f"decisions: missing column {missing[0]!r}", field=f"decisions.{missing[0]}")
    if frame.height == 0:
        return frame.clear()
    for name in ("decided_at", "next_allowed_at"):
        dtype = frame.schema[name]
        if not (isinstance(dtype, pl.Datetime) and dtype.time_zone is not None) and dtype != pl.Null:
            raise ValidationError(f"decisions.{name}: must be a timezone-aware datetime column", field=name)
    bad = frame.filter(~pl.col("fingerprint").str.contains(r"^[0-9a-f]{64}$").fill_null(False))
    if bad.height:
        raise ValidationError("decisions.fingerprint: must be 64 lowercase hex digits", field="fingerprint")
    known = (packs or load_packs()).packs
    versions = {pack_id: pack.version for pack_id, pack in known.items()}
    rows = frame.select(
        pl.col("decided_at").dt.convert_time_zone("UTC"),
        pl.col("actor").cast(pl.String),
        pl.col("subject").cast(pl.String),
        pl.col("channel").cast(pl.String),
        pl.col("outcome").cast(pl.String),
        pl.col("next_allowed_at").cast(pl.Datetime("us", "UTC")),
        pl.col("fingerprint"),
        _json_per_distinct(
            frame,
            ["rules", "rule_outcomes"],
            lambda ids, outcomes: json.dumps(
                [{"id": i, "outcome": o} for i, o in zip(ids, outcomes, strict=True)]
            ),
        ).alias("rules"),
        _json_per_distinct(
            frame,
            ["packs"],
            lambda ids: json.dumps({p: versions.get(p, "unknown") for p in ids}, ensure_ascii=False),
        ).alias("packs"),
    )
    insert_frame(conn, ComplianceDecision.__tablename__, rows)
    return rows


@dataclass
class DecisionSummary:
    """What the audit event of stored decisions says: count, outcomes, first fingerprint, latest
    decision, actors; batches add up (:meth:`add`)."""

    count: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    first_fingerprint: str | None = None
    decided_at: dt.datetime | None = None
    actors: set[str] = field(default_factory=set)
    actor: str | None = None

    @classmethod
    def of(cls, rows: pl.DataFrame) -> DecisionSummary:
        """The summary of rows as :func:`store_decisions` returns them."""
        return cls().add(rows)

    def add(self, rows: pl.DataFrame) -> DecisionSummary:
        """Add a batch of stored rows; returns self."""
        if rows.height == 0:
            return self
        self.count += rows.height
        for outcome, n in rows.group_by("outcome").len().iter_rows():
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + int(n)
        first = str(rows["fingerprint"].min())
        self.first_fingerprint = (
            first if self.first_fingerprint is None else min(self.first_fingerprint, first)
        )
        latest = rows["decided_at"].max()
        assert isinstance(latest, dt.datetime)
        self.decided_at = latest if self.decided_at is None else max(self.decided_at, latest)
        self.actors.update(rows["actor"].unique().to_list())
        if self.actor is None:
            self.actor = str(rows["actor"][0])
        return self


def record_decisions_event(session: Session, summary: DecisionSummary) -> None:
    """The one audit event that summarises stored decisions (nothing when there are none)."""
    if summary.count == 0:
        return
    record_event(
        session,
        actor=str(summary.actor),
        action="compliance_decisions_recorded",
        subject_type="compliance_decision_batch",
        subject_id=str(summary.first_fingerprint),
        at=summary.decided_at,  # type: ignore[arg-type]
        details={
            "count": summary.count,
            "outcomes": dict(sorted(summary.outcomes.items())),
            "actors": sorted(summary.actors),
        },
    )


def record_decisions(conn: Connection, frame: pl.DataFrame, *, packs: PackSet | None = None) -> int:
    """Store many decisions in one bulk write (the batch form); returns the number of rows.

    ``frame`` has the columns of :data:`DECISION_FRAME_COLUMNS`: ``rules`` and ``rule_outcomes`` are
    parallel lists (as :func:`check_batch` returns them), ``packs`` a list of pack ids, the
    instants aware. One audit event summarises the batch (count, outcomes, fingerprint range),
    written in the same transaction; the caller owns it.
    """
    rows = store_decisions(conn, frame, packs=packs)
    if rows.height == 0:
        return 0
    session = Session(bind=conn)
    try:
        record_decisions_event(session, DecisionSummary.of(rows))
    finally:
        session.close()
    return rows.height


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One line of the compliance report: a count of decisions by outcome, or of firings by rule."""

    kind: str  # "outcome" or "rule"
    key: str
    outcome: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "outcome": self.outcome, "count": self.count}


def compliance_report(session: Session, *, start: dt.datetime, end: dt.datetime) -> list[ReportRow]:
    """Counts of stored decisions in ``[start, end)``: by outcome, and by fired rule id and outcome.

    Rows come sorted: outcomes first (by outcome), then rules (by rule id, outcome).
    """
    lower, upper = _require_aware(start, "start"), _require_aware(end, "end")
    if upper <= lower:
        raise ValidationError("end: must be later than start", field="end")
    table = ComplianceDecision.__table__
    window = (table.c.decided_at >= lower) & (table.c.decided_at < upper)
    by_outcome = session.execute(
        select(table.c.outcome, func.count())
        .where(window)
        .group_by(table.c.outcome)
        .order_by(table.c.outcome)
    ).all()
    rows = [ReportRow("outcome", outcome, outcome, int(count)) for outcome, count in by_outcome]
    # Rule firings live in a JSON list: counted here rather than with dialect-specific JSON SQL,
    # reading only that column.
    counts: dict[tuple[str, str], int] = {}
    for (fired,) in session.execute(select(table.c.rules).where(window)):
        for item in fired or ():
            key = (str(item["id"]), str(item["outcome"]))
            counts[key] = counts.get(key, 0) + 1
    rows.extend(ReportRow("rule", rule, outcome, n) for (rule, outcome), n in sorted(counts.items()))
    return rows
