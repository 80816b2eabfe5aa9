"""Rule packs: versioned data files, validated on load, indexed once.

A pack is one jurisdiction layer (``CN``, ``US-FED``, ``US-MA`` ...). Each rule names the pure
function that evaluates it (``check``), its citation, a statement in English and Chinese, how sure
the source is (``source_tier`` A/B/C and ``verified``), what it applies to, tunable ``params`` and its
``effect``. A deployment tunes parameters with an overrides mapping (usually a YAML file)::

    rules:
      US.REGF.FREQ.COUNT: {params: {window_mode: rolling_hours}}
      HOUSE.TIME.WINDOW: {enabled: true, params: {start: "09:00", end: "20:00"}}

Errors in a pack or an overrides file raise :class:`~arrears.errors.ConfigurationError` naming the
file and line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from arrears.domain.compliance.enums import Actor, Channel, Outcome, Role, SourceTier
from arrears.errors import ConfigurationError

__all__ = [
    "Pack",
    "PackSet",
    "RuleSpec",
    "default_pack_ids",
    "load_overrides",
    "load_packs",
]

_RULE_KEYS = {
    "id",
    "check",
    "citation",
    "statement",
    "statement_zh",
    "quoted_text",
    "source_url",
    "source_tier",
    "confidence",
    "verified",
    "effect",
    "applies_to",
    "params",
    "enabled",
    "effective_from",
    "temporal",
}
_PACK_KEYS = {
    "id",
    "title",
    "version",
    "effective_from",
    "layer_order",
    "jurisdictions",
    "rules",
    "description",
}


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule of a pack, as data."""

    id: str
    pack: str
    check: str
    citation: str
    statement: str
    statement_zh: str
    source_tier: SourceTier
    confidence: str
    verified: bool
    effect: Outcome
    actors: frozenset[Actor] | None
    channels: frozenset[Channel] | None
    roles: frozenset[Role] | None
    params: Mapping[str, Any]
    enabled: bool
    temporal: bool
    effective_from: dt.date | None
    quoted_text: str | None
    source_url: str | None
    line: int

    def applies(self, actor: Actor, channel: Channel, role: Role, today: dt.date) -> bool:
        """Whether the rule is in scope for this actor, channel, recipient role and date."""
        return (
            self.enabled
            and (self.actors is None or actor in self.actors)
            and (self.channels is None or channel in self.channels)
            and (self.roles is None or role in self.roles)
            and (self.effective_from is None or today >= self.effective_from)
        )


@dataclass(frozen=True, slots=True)
class Pack:
    """A jurisdiction layer: its rules in evaluation order."""

    id: str
    title: str
    version: str
    effective_from: dt.date | None
    layer_order: int
    jurisdictions: tuple[str, ...]
    description: str
    rules: tuple[RuleSpec, ...]
    source: str


@dataclass(frozen=True, slots=True)
class PackSet:
    """Every loaded pack, indexed by id, with tuned parameters applied."""

    packs: Mapping[str, Pack]

    def select(self, ids: tuple[str, ...]) -> tuple[Pack, ...]:
        """The packs with these ids in layer order; unknown ids raise ConfigurationError."""
        missing = [pack_id for pack_id in ids if pack_id not in self.packs]
        if missing:
            known = ", ".join(sorted(self.packs))
            raise ConfigurationError(
                f"unknown rule pack {missing[0]!r}; known packs: {known}", field="packs", pack=missing[0]
            )
        return tuple(sorted((self.packs[i] for i in ids), key=lambda p: (p.layer_order, p.id)))

    def rule(self, rule_id: str) -> RuleSpec:
        """Look a rule up by id."""
        for pack in self.packs.values():
            for rule in pack.rules:
                if rule.id == rule_id:
                    return rule
        raise ConfigurationError(f"unknown rule {rule_id!r}", rule=rule_id)


# libyaml's parser when PyYAML was built with it (the same documents, several times faster).
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):  # type: ignore[misc]
    """A safe loader that remembers the line of every mapping (key ``__line__``)."""


class _PureLineLoader(yaml.SafeLoader):
    """:class:`_LineLoader` on the pure-Python parser, whose wording invalid documents are reported in."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_PureLineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError:
        pass
    # An invalid document is read again by the pure-Python parser, so that the error names the
    # problem in the same words whichever parser PyYAML was built with.
    try:
        return yaml.load(text, Loader=_PureLineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        raise ConfigurationError(f"{where}: not valid YAML ({exc})", source=source) from None


def _fail(source: str, line: int, message: str) -> ConfigurationError:
    return ConfigurationError(f"{source}:{line}: {message}", source=source, line=line)


def _enum_set(raw: Any, enum: Any, source: str, line: int, name: str) -> frozenset[Any] | None:
    if raw is None:
        return None
    try:
        return frozenset(enum(item) for item in raw)
    except ValueError as exc:
        raise _fail(source, line, f"applies_to.{name}: {exc}") from None


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return tuple(_strip(v) for v in value)
    return value


def _parse_rule(raw: Any, pack_id: str, source: str, pack_line: int) -> RuleSpec:
    if not isinstance(raw, dict):
        raise _fail(source, pack_line, "every rule must be a mapping")
    line = int(raw.get("__line__", pack_line))
    unknown = set(raw) - _RULE_KEYS - {"__line__"}
    if unknown:
        raise _fail(source, line, f"unknown rule key(s): {', '.join(sorted(unknown))}")
    for key in ("id", "check", "citation", "statement", "statement_zh", "source_tier", "verified", "effect"):
        if key not in raw:
            raise _fail(source, line, f"rule {raw.get('id', '?')!r} is missing {key!r}")
    applies = raw.get("applies_to") or {}
    try:
        tier = SourceTier(raw["source_tier"])
        effect = Outcome(raw["effect"])
    except ValueError as exc:
        raise _fail(source, line, f"rule {raw['id']!r}: {exc}") from None
    effective = raw.get("effective_from")
    if effective is not None and not isinstance(effective, dt.date):
        raise _fail(source, line, f"rule {raw['id']!r}: effective_from must be a date")
    return RuleSpec(
        id=str(raw["id"]),
        pack=pack_id,
        check=str(raw["check"]),
        citation=str(raw["citation"]),
        statement=str(raw["statement"]).strip(),
        statement_zh=str(raw["statement_zh"]).strip(),
        source_tier=tier,
        confidence=str(raw.get("confidence", {"A": "V", "B": "V2", "C": "M"}[tier.value])),
        verified=bool(raw["verified"]),
        effect=effect,
        actors=_enum_set(applies.get("actors"), Actor, source, line, "actors"),
        channels=_enum_set(applies.get("channels"), Channel, source, line, "channels"),
        roles=_enum_set(applies.get("roles"), Role, source, line, "roles"),
        params=_strip(raw.get("params") or {}),
        enabled=bool(raw.get("enabled", True)),
        temporal=bool(raw.get("temporal", False)),
        effective_from=effective,
        quoted_text=raw.get("quoted_text"),
        source_url=raw.get("source_url"),
        line=line,
    )


def parse_pack(text: str, source: str) -> Pack:
    """Parse and validate one pack file's text."""
    raw = _load_yaml(text, source)
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{source}: a pack must be a mapping", source=source)
    line = int(raw.get("__line__", 1))
    unknown = set(raw) - _PACK_KEYS - {"__line__"}
    if unknown:
        raise _fail(source, line, f"unknown pack key(s): {', '.join(sorted(unknown))}")
    for key in ("id", "version", "layer_order", "rules"):
        if key not in raw:
            raise _fail(source, line, f"pack is missing {key!r}")
    pack_id = str(raw["id"])
    rules = tuple(_parse_rule(item, pack_id, source, line) for item in raw["rules"])
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise _fail(source, rule.line, f"duplicate rule id {rule.id!r}")
        seen.add(rule.id)
    return Pack(
        id=pack_id,
        title=str(raw.get("title", pack_id)),
        version=str(raw["version"]),
        effective_from=raw.get("effective_from"),
        layer_order=int(raw["layer_order"]),
        jurisdictions=tuple(raw.get("jurisdictions") or ()),
        description=str(raw.get("description", "")).strip(),
        rules=rules,
        source=source,
    )


def load_overrides(path: str | Path) -> dict[str, Any]:
    """Read a parameter overrides file (YAML) into the mapping :func:`load_packs` takes."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read overrides file {source}: {exc.strerror}", source=source
        ) from None
    raw = _load_yaml(text, source)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{source}: overrides must be a mapping", source=source)
    return raw


def _apply_overrides(packs: dict[str, Pack], overrides: Mapping[str, Any]) -> dict[str, Pack]:
    rules_over = overrides.get("rules") or {}
    unknown_top = set(overrides) - {"rules", "__line__"}
    if unknown_top:
        raise ConfigurationError(f"overrides: unknown key(s): {', '.join(sorted(unknown_top))}")
    by_id = {rule.id: (pack_id, rule) for pack_id, pack in packs.items() for rule in pack.rules}
    changed: dict[str, dict[str, RuleSpec]] = {}
    for rule_id, change in rules_over.items():
        if rule_id == "__line__":
            continue
        line = change.get("__line__", 0) if isinstance(change, dict) else 0
        if rule_id not in by_id:
            raise ConfigurationError(f"overrides:{line}: unknown rule {rule_id!r}", rule=rule_id, line=line)
        if not isinstance(change, dict) or set(change) - {"params", "enabled", "__line__"}:
            raise ConfigurationError(
                f"overrides:{line}: rule {rule_id!r} accepts only 'params' and 'enabled'", rule=rule_id
            )
        pack_id, rule = by_id[rule_id]
        params = dict(rule.params)
        for key, value in _strip(change.get("params") or {}).items():
            if key not in params:
                raise ConfigurationError(
                    f"overrides:{line}: rule {rule_id!r} has no parameter {key!r}", rule=rule_id, param=key
                )
            if type(value) is not type(params[key]) and params[key] is not None and value is not None:
                raise ConfigurationError(
                    f"overrides:{line}: {rule_id}.{key} must be {type(params[key]).__name__}",
                    rule=rule_id,
                    param=key,
                )
            params[key] = value
        changed.setdefault(pack_id, {})[rule_id] = replace(
            rule, params=params, enabled=bool(change.get("enabled", rule.enabled))
        )
    result = dict(packs)
    for pack_id, rules in changed.items():
        pack = packs[pack_id]
        result[pack_id] = replace(pack, rules=tuple(rules.get(r.id, r) for r in pack.rules))
    return result


@lru_cache(maxsize=1)
def _builtin_packs() -> dict[str, Pack]:
    packs: dict[str, Pack] = {}
    folder = resources.files("arrears.domain.compliance") / "packs"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml") or entry.name.startswith("lexicon"):
            continue
        pack = parse_pack(entry.read_text(encoding="utf-8"), f"packs/{entry.name}")
        packs[pack.id] = pack
    return packs


_CACHE: dict[str, PackSet] = {}


def load_packs(overrides: Mapping[str, Any] | None = None) -> PackSet:
    """The built-in packs with ``overrides`` applied (cached for the default, no-override set)."""
    if not overrides:
        cached = _CACHE.get("")
        if cached is None:
            cached = _CACHE[""] = PackSet(packs=_builtin_packs())
        return cached
    return PackSet(packs=_apply_overrides(dict(_builtin_packs()), overrides))


# Jurisdiction prefixes to their layers. US state and city layers stack on the federal one;
# the house layer always applies (its rules ship disabled and are switched on by overrides).
_STATE_PACKS = {"US-MA": "US-MA", "US-WA": "US-WA", "US-DC": "US-DC", "US-NY-NYC": "US-NYC"}


def default_pack_ids(jurisdiction: str) -> tuple[str, ...]:
    """The packs a debtor's jurisdiction selects when the request names none."""
    country = jurisdiction.split("-", 1)[0]
    ids: list[str] = []
    if country == "CN":
        ids.append("CN")
    elif country == "US":
        ids.append("US-FED")
        for prefix, pack in _STATE_PACKS.items():
            if jurisdiction == prefix or jurisdiction.startswith(prefix + "-"):
                ids.append(pack)
    elif country in {"GB", "UK"}:
        ids.append("UK")
    ids.append("HOUSE")
    return tuple(ids)
