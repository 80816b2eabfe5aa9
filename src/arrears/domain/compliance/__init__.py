"""The compliance engine, pure: requests in, decisions out, rules as versioned data.

Layers (rule packs) per jurisdiction are evaluated together and the most restrictive outcome wins;
see :mod:`arrears.domain.compliance.engine`. Nothing here reads the clock: ``now`` comes in the
request.
"""

from arrears.domain.compliance.content import ContentReport, scan
from arrears.domain.compliance.engine import evaluate, pack_ids_for
from arrears.domain.compliance.enums import (
    Actor,
    CallOutcome,
    Channel,
    ContactKind,
    Direction,
    Outcome,
    Place,
    Role,
)
from arrears.domain.compliance.models import Decision, FiredRule, Obligation, Request
from arrears.domain.compliance.packs import PackSet, RuleSpec, default_pack_ids, load_overrides, load_packs

__all__ = [
    "Actor",
    "CallOutcome",
    "Channel",
    "ContactKind",
    "ContentReport",
    "Decision",
    "Direction",
    "FiredRule",
    "Obligation",
    "Outcome",
    "PackSet",
    "Place",
    "Request",
    "Role",
    "RuleSpec",
    "default_pack_ids",
    "evaluate",
    "load_overrides",
    "load_packs",
    "pack_ids_for",
    "scan",
]
