"""The case state machine as data: every transition (source, event, guard, target, effects) in one table.

Services never move a stage themselves: they call :func:`fire`, which finds the transition for the
case's stage and the event, checks its guard and the holds on the case, and returns the transition
(whose ``effects`` the service then carries out). An illegal move raises
:class:`~arrears.errors.IllegalTransitionError` naming the stage and the event. The diagram in
docs/cases.md is generated from :data:`TRANSITIONS` by :func:`mermaid`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from arrears.domain.cases.enums import Event, HoldKind, Stage
from arrears.errors import IllegalTransitionError

__all__ = [
    "GUARDS",
    "HOLD_BLOCKS",
    "OPEN_STAGES",
    "TRANSITIONS",
    "CaseFacts",
    "Transition",
    "allowed_events",
    "fire",
    "fire_frame",
    "mermaid",
]

OPEN_STAGES: Final = tuple(s for s in Stage if s.is_open)


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: from ``source`` on ``event``, if ``guard`` holds, to ``target``."""

    source: Stage
    event: Event
    target: Stage
    guard: str | None = None
    effects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the guards read, gathered by the caller before firing an event."""

    identity_verified: bool = False
    legal_criteria_met: bool = False
    legal_refusals: tuple[str, ...] = ()
    holds: frozenset[HoldKind] = field(default_factory=frozenset)


def _rows(sources: Iterable[Stage], event: Event, target: Stage, guard: str | None = None,
          effects: tuple[str, ...] = ()) -> list[Transition]:  # fmt: skip
    return [Transition(s, event, target, guard, effects) for s in sources]


S = Stage
E = Event
TRANSITIONS: Final[tuple[Transition, ...]] = tuple(
    [
        Transition(S.NEW, E.CONTACT, S.INITIAL_CONTACT),
        Transition(S.INITIAL_CONTACT, E.CONFIRM, S.CONFIRMED, "identity_verified"),
        Transition(S.CONFIRMED, E.NEGOTIATE, S.NEGOTIATING),
        *_rows((S.CONFIRMED, S.NEGOTIATING, S.ESCALATED), E.ARRANGE, S.ARRANGED, "identity_verified"),
        Transition(S.ARRANGED, E.BREAK, S.NEGOTIATING, None, ("count_broken",)),
        Transition(S.ARRANGED, E.FULFIL, S.NEGOTIATING),
        *_rows((S.NEW, S.INITIAL_CONTACT, S.CONFIRMED, S.NEGOTIATING, S.ARRANGED), E.ESCALATE, S.ESCALATED),
        Transition(S.ESCALATED, E.DE_ESCALATE, S.NEGOTIATING),
        Transition(S.ESCALATED, E.REFER_LEGAL, S.LEGAL, "legal_criteria_met", ("open_legal_matter",)),
        Transition(S.LEGAL, E.WITHDRAW_LEGAL, S.ESCALATED, None, ("close_legal_matter",)),
        *_rows(OPEN_STAGES, E.RESOLVE, S.RESOLVED, None, ("write_closure", "start_follow_up")),
        Transition(S.RESOLVED, E.REDEFAULT, S.INITIAL_CONTACT, None, ("reopen",)),
        Transition(S.RESOLVED, E.END_FOLLOW_UP, S.CLOSED),
    ]
)

GUARDS: Final[dict[str, str]] = {
    "identity_verified": "the debtor's identity has been verified (before debt details are disclosed)",
    "legal_criteria_met": "minimum balance, not time-barred, no active dispute or bankruptcy",
}

_COLLECTION_EVENTS = frozenset({E.CONTACT, E.CONFIRM, E.NEGOTIATE, E.ARRANGE, E.ESCALATE, E.REFER_LEGAL})
# Which events each hold refuses. A hold never blocks resolving the case.
HOLD_BLOCKS: Final[dict[HoldKind, frozenset[Event]]] = {
    # 12 CFR 1006.38(d)(2); CONC 7.14: collection pauses while a dispute is verified.
    HoldKind.DISPUTE: frozenset({E.ESCALATE, E.REFER_LEGAL}),
    # 15 U.S.C. 1692c(c): after a cease request only notices of specific remedies may be sent.
    HoldKind.CEASE_CONTACT: frozenset({E.ESCALATE}),
    # 12 CFR 1006.6(b)(2): the debtor is represented; talk to the attorney.
    HoldKind.ATTORNEY: frozenset({E.ESCALATE}),
    # 11 U.S.C. 362(a)(6); Insolvency Act 1986 s285(3): the stay stops all collection.
    HoldKind.BANKRUPTCY: _COLLECTION_EVENTS | {E.REDEFAULT},
    HoldKind.DECEASED: _COLLECTION_EVENTS | {E.REDEFAULT},
    HoldKind.HARDSHIP: frozenset({E.ESCALATE, E.REFER_LEGAL}),
    # SI 2020/1311: no requests for payment and no enforcement during the moratorium.
    HoldKind.BREATHING_SPACE: frozenset({E.ARRANGE, E.ESCALATE, E.REFER_LEGAL}),
    HoldKind.COMPLAINT: frozenset({E.ESCALATE, E.REFER_LEGAL}),
}


def _guard_holds(guard: str, facts: CaseFacts) -> bool:
    if guard == "identity_verified":
        return facts.identity_verified
    if guard == "legal_criteria_met":
        return facts.legal_criteria_met
    raise KeyError(guard)


def allowed_events(stage: Stage) -> tuple[Event, ...]:
    """The events the table has a row for from ``stage`` (guards and holds aside)."""
    return tuple(dict.fromkeys(t.event for t in TRANSITIONS if t.source is stage))


def fire(stage: Stage | str, event: Event | str, facts: CaseFacts) -> Transition:
    """The transition ``event`` takes from ``stage``, or :class:`IllegalTransitionError` saying why not."""
    stage, event = Stage(stage), Event(event)
    row = next((t for t in TRANSITIONS if t.source is stage and t.event is event), None)
    if row is None:
        allowed = ", ".join(allowed_events(stage)) or "none"
        raise IllegalTransitionError(
            f"cannot {event.value} a case in stage {stage.value} (allowed: {allowed})",
            stage=stage.value,
            event=event.value,
        )
    blocking = sorted(h.value for h in facts.holds if event in HOLD_BLOCKS[h])
    if blocking:
        raise IllegalTransitionError(
            f"cannot {event.value} a case in stage {stage.value}: on hold ({', '.join(blocking)})",
            stage=stage.value,
            event=event.value,
            holds=blocking,
        )
    if row.guard is not None and not _guard_holds(row.guard, facts):
        detail = GUARDS[row.guard]
        if row.guard == "legal_criteria_met" and facts.legal_refusals:
            detail = "; ".join(facts.legal_refusals)
        raise IllegalTransitionError(
            f"cannot {event.value} a case in stage {stage.value}: {detail}",
            stage=stage.value,
            event=event.value,
            guard=row.guard,
        )
    return row


def mermaid() -> str:
    """The transition table as a Mermaid state diagram (one arrow per row, guards in brackets)."""
    lines = ["stateDiagram-v2", f"    [*] --> {Stage.NEW.value}"]
    for t in TRANSITIONS:
        label = t.event.value + (f" [{t.guard}]" if t.guard else "")
        if t.effects:
            label += " / " + ", ".join(t.effects)
        lines.append(f"    {t.source.value} --> {t.target.value} : {label}")
    lines.append(f"    {Stage.CLOSED.value} --> [*]")
    return "\n".join(lines) + "\n"


def _transitions_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_source": [t.source.value for t in TRANSITIONS],
            "_event": [t.event.value for t in TRANSITIONS],
            "target": [t.target.value for t in TRANSITIONS],
            "guard": [t.guard for t in TRANSITIONS],
            "effects": [list(t.effects) for t in TRANSITIONS],
        },
        schema={
            "_source": pl.String,
            "_event": pl.String,
            "target": pl.String,
            "guard": pl.String,
            "effects": pl.List(pl.String),
        },
    )


def fire_frame(cases: pl.DataFrame) -> pl.DataFrame:
    """:func:`fire` for many cases at once, as whole columns: the same table, holds and guards.

    ``cases`` has ``stage`` and ``event`` (strings) and ``holds`` (a list of hold kinds); the optional
    boolean columns ``identity_verified`` and ``legal_criteria_met`` feed the guards (false when absent).
    Returns ``cases`` with ``target`` and ``effects`` of the transition taken, and ``refusal``: null when
    the move is allowed, else ``no_transition``, ``on_hold`` or ``guard`` (target and effects are then
    null). ``blocking_holds`` lists the holds that refuse the event, as :func:`fire` names them.
    """
    frame = cases
    for name in ("identity_verified", "legal_criteria_met"):
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(False).alias(name))
    empty = pl.lit([], dtype=pl.List(pl.String))
    blocking = pl.concat_list(
        [empty]
        + [
            pl.when(
                pl.col("holds").list.contains(pl.lit(hold.value))
                & pl.col("event").is_in([e.value for e in events])
            )
            .then(pl.lit([hold.value], dtype=pl.List(pl.String)))
            .otherwise(empty)
            for hold, events in sorted(HOLD_BLOCKS.items(), key=lambda item: item[0].value)
        ]
    )
    joined = frame.join(
        _transitions_frame(),
        left_on=["stage", "event"],
        right_on=["_source", "_event"],
        how="left",
        maintain_order="left",
    ).with_columns(blocking.alias("blocking_holds"))
    guard_holds = (
        pl.when(pl.col("guard").is_null())
        .then(pl.lit(True))
        .when(pl.col("guard") == "identity_verified")
        .then(pl.col("identity_verified").fill_null(False))
        .when(pl.col("guard") == "legal_criteria_met")
        .then(pl.col("legal_criteria_met").fill_null(False))
        .otherwise(pl.lit(False))
    )
    # The same order of refusals as fire(): no row for the stage, then holds, then the guard.
    refusal = (
        pl.when(pl.col("target").is_null())
        .then(pl.lit("no_transition"))
        .when(pl.col("blocking_holds").list.len() > 0)
        .then(pl.lit("on_hold"))
        .when(~guard_holds)
        .then(pl.lit("guard"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    allowed = refusal.is_null()
    result = joined.with_columns(refusal.alias("refusal")).with_columns(
        pl.when(allowed).then(pl.col("target")).alias("target"),
        pl.when(allowed).then(pl.col("effects")).alias("effects"),
    )
    return result.drop("guard")
