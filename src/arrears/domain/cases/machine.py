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
