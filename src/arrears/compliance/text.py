"""The content checker on its own: vet a text for a jurisdiction, actor, channel and recipient."""

from __future__ import annotations

import datetime as dt

from arrears.domain.compliance.context import build_context
from arrears.domain.compliance.enums import Actor, Channel, Role
from arrears.domain.compliance.models import FiredRule, Request
from arrears.domain.compliance.packs import PackSet, default_pack_ids, load_packs
from arrears.domain.compliance.rules import REGISTRY

__all__ = ["CONTENT_CHECKS", "check_content"]

# Rule functions that judge only the text (and the recipient), never history or time.
CONTENT_CHECKS = frozenset(
    {
        "content_prohibited",
        "content_required",
        "limited_content_voicemail",
        "third_party_disclosure",
    }
)


def check_content(
    text: str,
    *,
    jurisdiction: str,
    actor: Actor | str,
    channel: Channel | str,
    as_of: dt.datetime,
    recipient: Role | str = Role.DEBTOR,
    packs: tuple[str, ...] | None = None,
    collector_name: str | None = None,
    pack_set: PackSet | None = None,
) -> tuple[FiredRule, ...]:
    """The content rules a text breaks (empty when it may be saved as a template)."""
    role = Role(recipient)
    persons = [] if role is Role.DEBTOR else [{"id": "recipient", "role": role.value}]
    request = Request.model_validate(
        {
            "now": as_of,
            "actor": Actor(actor).value,
            "packs": packs,
            "debtor": {"id": "debtor", "jurisdiction": jurisdiction},
            "persons": persons,
            "proposed": {
                "channel": Channel(channel).value,
                "person": None if role is Role.DEBTOR else "recipient",
                "content": text,
                "collector_name": collector_name,
            },
        }
    )
    ctx = build_context(request)
    selected = (pack_set or load_packs()).select(packs or default_pack_ids(jurisdiction))
    fired: list[FiredRule] = []
    for pack in selected:
        for spec in pack.rules:
            if spec.check not in CONTENT_CHECKS or not spec.applies(
                ctx.actor, ctx.channel, ctx.role, ctx.today
            ):
                continue
            hit = REGISTRY[spec.check](ctx, spec, ctx.now)
            if hit is None or hit.outcome is None:
                continue
            fired.append(
                FiredRule(
                    id=spec.id,
                    outcome=hit.outcome,
                    citation=spec.citation,
                    reason=hit.reason,
                    reason_zh=hit.reason_zh,
                    pack=spec.pack,
                    source_tier=spec.source_tier.value,
                    verified=spec.verified,
                )
            )
    return tuple(fired)
