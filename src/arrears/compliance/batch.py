"""The batch form for the daily cycle: many proposed contacts against one history table.

Cases (debtor, persons, debts) are validated once; the history and proposal tables are checked
column-wise with Polars (enums, time zones, references), split per debtor in one pass, and each
proposal is judged by the same engine as a single check, on already-validated data (no pydantic
validation per row), so the batch and the single check cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from arrears.domain.compliance.engine import evaluate
from arrears.domain.compliance.enums import Actor, CallOutcome, Channel, Direction
from arrears.domain.compliance.models import Debt, Debtor, HistoryEvent, Person, Proposed, Request
from arrears.domain.compliance.packs import PackSet, load_packs
from arrears.errors import ValidationError

__all__ = ["HISTORY_COLUMNS", "PROPOSED_COLUMNS", "check_batch"]

HISTORY_COLUMNS = ("debtor_id", "at", "channel", "direction", "person", "contact_point", "debts", "outcome")
PROPOSED_COLUMNS = ("debtor_id", "channel")
_UTC = dt.UTC


def _require(frame: pl.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"{name}: missing column {missing[0]!r}", field=f"{name}.{missing[0]}")


def _check_enum(frame: pl.DataFrame, column: str, allowed: Sequence[str], name: str) -> None:
    bad = frame.filter(~pl.col(column).is_in(list(allowed)) & pl.col(column).is_not_null())
    if bad.height:
        row = frame.with_row_index("_i").filter(~pl.col(column).is_in(list(allowed)))["_i"][0]
        raise ValidationError(
            f"{name}[{row}].{column}: must be one of {', '.join(allowed)}", field=f"{name}[{row}].{column}"
        )


def _normalise_history(history: pl.DataFrame) -> pl.DataFrame:
    _require(history, HISTORY_COLUMNS, "history")
    at_type = history.schema["at"]
    if not isinstance(at_type, pl.Datetime) or at_type.time_zone is None:
        raise ValidationError("history.at: must be a timezone-aware datetime column", field="history.at")
    _check_enum(history, "channel", [c.value for c in Channel], "history")
    _check_enum(history, "direction", [d.value for d in Direction], "history")
    _check_enum(history, "outcome", [o.value for o in CallOutcome], "history")
    defaults = {"ai_voice": pl.lit(False), "consent_given_for": pl.lit(None, dtype=pl.Datetime("us", "UTC"))}
    extra = [expr.alias(name) for name, expr in defaults.items() if name not in history.columns]
    return history.with_columns(*extra, pl.col("at").dt.convert_time_zone("UTC")).sort("at")


def check_batch(
    *,
    now: dt.datetime,
    actor: Actor | str,
    cases: Sequence[Mapping[str, Any]],
    history: pl.DataFrame,
    proposed: pl.DataFrame,
    packs: tuple[str, ...] | None = None,
    pack_set: PackSet | None = None,
) -> pl.DataFrame:
    """Judge every row of ``proposed``; returns it with ``outcome``, ``next_allowed_at`` and ``rules``.

    ``cases`` holds one mapping per debtor: ``{"debtor": {...}, "persons": [...], "debts": [...]}``.
    ``history`` has one row per event (columns of :data:`HISTORY_COLUMNS`, ``debts`` a list of ids).
    """
    if now.tzinfo is None:
        raise ValidationError("now: must be timezone-aware", field="now")
    now = now.astimezone(_UTC)
    who = Actor(actor)
    packset = pack_set or load_packs()
    base: dict[str, tuple[Debtor, tuple[Person, ...], tuple[Debt, ...]]] = {}
    for index, case in enumerate(cases):
        try:
            debtor = Debtor.model_validate(case["debtor"])
            persons = tuple(Person.model_validate(p) for p in case.get("persons", ()))
            debts = tuple(Debt.model_validate(d) for d in case.get("debts", ()))
        except Exception as exc:  # pydantic's error names the field; keep the case index
            raise ValidationError(f"cases[{index}]: {exc}", field=f"cases[{index}]") from None
        base[debtor.id] = (debtor, persons, debts)

    frame = _normalise_history(history)
    frame = frame.filter(pl.col("at") <= now)
    events: dict[str, list[HistoryEvent]] = {}
    for row in frame.iter_rows(named=True):
        events.setdefault(row["debtor_id"], []).append(
            HistoryEvent.model_construct(
                at=row["at"],
                channel=Channel(row["channel"]),
                direction=Direction(row["direction"]),
                person=row["person"],
                contact_point=row["contact_point"],
                debts=tuple(row["debts"] or ()),
                outcome=CallOutcome(row["outcome"]),
                ai_voice=bool(row["ai_voice"]),
                consent_given_for=row["consent_given_for"],
            )
        )

    _require(proposed, PROPOSED_COLUMNS, "proposed")
    _check_enum(proposed, "channel", [c.value for c in Channel], "proposed")
    unknown = proposed.filter(~pl.col("debtor_id").is_in(list(base)))
    if unknown.height:
        raise ValidationError(
            f"proposed.debtor_id: no case for debtor {unknown['debtor_id'][0]!r}", field="proposed.debtor_id"
        )
    outcomes: list[str] = []
    next_at: list[dt.datetime | None] = []
    rules: list[list[str]] = []
    cache: dict[tuple[Any, ...], tuple[str, dt.datetime | None, list[str]]] = {}
    for row in proposed.iter_rows(named=True):
        debtor, persons, debts = base[row["debtor_id"]]
        plan = Proposed.model_construct(
            channel=Channel(row["channel"]),
            person=row.get("person"),
            contact_point=row.get("contact_point"),
            debts=tuple(row.get("debts") or ()),
            content=row.get("content"),
            ai_voice=bool(row.get("ai_voice") or False),
            recording=row.get("recording"),
            collector_name=row.get("collector_name"),
        )
        key = (row["debtor_id"], plan.channel, plan.person, plan.contact_point, plan.debts, plan.content,
               plan.ai_voice, plan.recording)  # fmt: skip
        if key not in cache:
            request = Request.model_construct(
                now=now,
                actor=who,
                packs=packs,
                debtor=debtor,
                persons=persons,
                debts=debts,
                history=tuple(events.get(row["debtor_id"], ())),
                proposed=plan,
            )
            decision = evaluate(request, packset)
            cache[key] = (decision.outcome.value, decision.next_allowed_at, list(decision.rule_ids))
        outcome, nxt, ids = cache[key]
        outcomes.append(outcome)
        next_at.append(nxt)
        rules.append(ids)
    return proposed.with_columns(
        pl.Series("outcome", outcomes, dtype=pl.String),
        pl.Series("next_allowed_at", next_at, dtype=pl.Datetime("us", "UTC")),
        pl.Series("rules", rules, dtype=pl.List(pl.String)),
    )
