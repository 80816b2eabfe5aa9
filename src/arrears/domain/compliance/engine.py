"""The engine: evaluate every applicable rule of every layer and combine them.

Order within a pack is the order of its file (absolute bars, place, content, frequency, windows);
all layers are evaluated, the most restrictive outcome wins, and the decision lists every rule
that fired. For a delay, ``next_allowed_at`` is the earliest instant at which every temporal rule
of every layer passes, found by iterating: moving into tomorrow can change a frequency window.
"""

from __future__ import annotations

import datetime as dt

from arrears.domain.compliance.context import build_context
from arrears.domain.compliance.enums import Outcome
from arrears.domain.compliance.models import Decision, FiredRule, Obligation, Request
from arrears.domain.compliance.packs import PackSet, RuleSpec, default_pack_ids, load_packs
from arrears.domain.compliance.rules import REGISTRY, Hit

__all__ = ["evaluate", "pack_ids_for"]

_MAX_ITERATIONS = 64
_HORIZON = dt.timedelta(days=400)


def pack_ids_for(request: Request) -> tuple[str, ...]:
    """The pack ids a request is judged by: its own list, else those of the debtor's jurisdiction."""
    return request.packs if request.packs else default_pack_ids(request.debtor.jurisdiction)


def _fired(spec: RuleSpec, hit: Hit, outcome: Outcome) -> FiredRule:
    return FiredRule(
        id=spec.id,
        outcome=outcome,
        citation=spec.citation,
        reason=hit.reason,
        reason_zh=hit.reason_zh,
        pack=spec.pack,
        source_tier=spec.source_tier.value,
        verified=spec.verified,
        until=hit.until if outcome is Outcome.DELAY else None,
    )


def evaluate(request: Request, packs: PackSet | None = None) -> Decision:
    """Judge one validated request against its packs and return the decision."""
    packset = packs or load_packs()
    ctx = build_context(request)
    selected = packset.select(pack_ids_for(request))
    now = ctx.now
    fired: list[FiredRule] = []
    obligations: list[Obligation] = []
    temporal: list[RuleSpec] = []
    outcome = Outcome.ALLOW
    for pack in selected:
        for spec in pack.rules:
            if not spec.applies(ctx.actor, ctx.channel, ctx.role, ctx.today):
                continue
            fn = REGISTRY[spec.check]
            if spec.temporal:
                temporal.append(spec)
            hit = fn(ctx, spec, now)
            if hit is None:
                continue
            if hit.outcome is None:
                obligations.append(Obligation(spec.id, spec.citation, hit.reason, hit.reason_zh))
                continue
            result = hit.outcome
            if result is Outcome.DELAY and (hit.until is None or hit.until <= now):
                result = Outcome.REVIEW
            fired.append(_fired(spec, hit, result))
            if result.severity > outcome.severity:
                outcome = result
    next_allowed_at: dt.datetime | None = None
    if outcome is Outcome.DELAY:
        next_allowed_at, stuck = _settle(ctx, temporal, max(r.until for r in fired if r.until is not None))
        if stuck is not None:
            fired.append(stuck)
            outcome = Outcome.REVIEW
            next_allowed_at = None
    return Decision(
        outcome=outcome,
        next_allowed_at=next_allowed_at,
        rules=tuple(fired),
        obligations=tuple(obligations),
        packs=tuple(p.id for p in selected),
        zones=ctx.zones,
    )


def _settle(
    ctx: object, temporal: list[RuleSpec], start: dt.datetime
) -> tuple[dt.datetime, FiredRule | None]:
    """Advance ``start`` until every temporal rule passes at the same instant."""
    t = start
    for _ in range(_MAX_ITERATIONS):
        moved = False
        for spec in temporal:
            hit = REGISTRY[spec.check](ctx, spec, t)  # type: ignore[arg-type]
            if hit is None or hit.outcome is None:
                continue
            if hit.outcome is not Outcome.DELAY or hit.until is None or hit.until <= t:
                return t, _fired(spec, hit, Outcome.REVIEW)
            t = hit.until
            moved = True
        if not moved:
            return t, None
        if t - start > _HORIZON:
            break
    stuck = Hit(
        Outcome.REVIEW,
        "No instant within the search horizon satisfies every time-based rule.",
        "在搜索范围内找不到同时满足所有时间类规则的时间。",
    )
    spec = temporal[0]
    return t, _fired(spec, stuck, Outcome.REVIEW)
