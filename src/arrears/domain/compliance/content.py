"""The content checker: what a message says, in English and Chinese.

Reusable on its own (templates are refused at save time with it): :func:`scan` returns every
category found in a text; :func:`check_text` turns those into the issues a channel, actor and
recipient would raise. The lexicon is data (``packs/lexicon.yaml``), compiled once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from arrears.errors import ConfigurationError

__all__ = ["CATEGORIES", "ContentFinding", "ContentReport", "lexicon_version", "scan"]

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class ContentFinding:
    """A category found in a text, with the words that matched."""

    category: str
    language: str
    match: str


@dataclass(frozen=True, slots=True)
class ContentReport:
    """Every category found in one text."""

    findings: tuple[ContentFinding, ...]

    @property
    def categories(self) -> frozenset[str]:
        """The categories present."""
        return frozenset(f.category for f in self.findings)

    def has(self, category: str) -> bool:
        """Whether ``category`` was found."""
        return any(f.category == category for f in self.findings)

    def matches(self, category: str) -> tuple[str, ...]:
        """The matched words of ``category`` (for reasons)."""
        return tuple(f.match for f in self.findings if f.category == category)


@lru_cache(maxsize=1)
def _lexicon() -> tuple[str, dict[str, tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]]]]:
    path = resources.files("arrears.domain.compliance") / "packs" / "lexicon.yaml"
    raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    compiled: dict[str, tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]]] = {}
    for name, spec in raw["categories"].items():
        try:
            en = tuple(re.compile(p, re.IGNORECASE) for p in spec.get("en") or ())
            zh = tuple(re.compile(p) for p in spec.get("zh") or ())
        except re.error as exc:
            raise ConfigurationError(f"packs/lexicon.yaml: category {name!r}: bad pattern ({exc})") from None
        compiled[name] = (en, zh)
    return str(raw["version"]), compiled


def lexicon_version() -> str:
    """The version of the content lexicon."""
    return _lexicon()[0]


CATEGORIES = tuple(_lexicon()[1])


@lru_cache(maxsize=2048)
def scan(text: str) -> ContentReport:
    """Every lexicon category found in ``text`` (English case-insensitive; Chinese ignoring spaces)."""
    compact = _SPACE.sub("", text)
    findings: list[ContentFinding] = []
    for name, (en, zh) in _lexicon()[1].items():
        for pattern in en:
            hit = pattern.search(text)
            if hit:
                findings.append(ContentFinding(name, "en", hit.group(0)))
                break
        for pattern in zh:
            hit = pattern.search(compact)
            if hit:
                findings.append(ContentFinding(name, "zh", hit.group(0)))
                break
    return ContentReport(tuple(findings))
