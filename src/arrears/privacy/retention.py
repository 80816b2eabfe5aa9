"""Retention: the policy file (per record type and jurisdiction) and the run that applies it.

The policy is data (``retention_policy.yaml`` beside this module, or ``ARREARS_RETENTION_POLICY_FILE``),
validated on load with errors naming the entry. :func:`run_retention` anonymises the personal data of
debtors whose records are past retention (see docs/audit-and-privacy.md, "Retention").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.access.permissions import Permission
from arrears.access.service import require
from arrears.audit.log import record_event
from arrears.errors import ConfigurationError
from arrears.privacy.service import anonymise_debtor, erasure_blockers
from arrears.privacy.tables import Erasure
from arrears.store import tables

__all__ = ["RetentionPolicy", "RetentionRule", "load_policy", "run_retention"]

BUILTIN_POLICY: Final = Path(__file__).with_name("retention_policy.yaml")
RECORD_TYPES: Final = ("call_recording", "contact_log", "debtor_record")


@dataclass(frozen=True)
class RetentionRule:
    years: int
    cite: str


@dataclass(frozen=True)
class RetentionPolicy:
    """Rules by record type and jurisdiction prefix (``*`` the fallback)."""

    rules: dict[str, dict[str, RetentionRule]]
    actions: dict[str, str]
    source: str

    def rule(self, record_type: str, jurisdiction: str) -> RetentionRule:
        """The rule for a record of ``record_type`` under ``jurisdiction`` (longest prefix wins)."""
        by_jurisdiction = self.rules[record_type]
        code = jurisdiction.upper()
        matches = [p for p in by_jurisdiction if p != "*" and code.startswith(p)]
        if matches:
            return by_jurisdiction[max(matches, key=len)]
        return by_jurisdiction["*"]


def _fail(source: str, where: str, message: str) -> ConfigurationError:
    return ConfigurationError(f"{source}: {where}: {message}", source=source, entry=where)


def load_policy(path: Path | None = None) -> RetentionPolicy:
    """Read and validate a retention policy (the built-in one when ``path`` is None)."""
    file = path or BUILTIN_POLICY
    try:
        document: Any = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read the retention policy {file}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"the retention policy {file} is not YAML: {exc}") from exc
    source = str(file)
    if not isinstance(document, dict) or not isinstance(document.get("record_types"), dict):
        raise _fail(source, "record_types", "the policy needs a record_types mapping")
    rules: dict[str, dict[str, RetentionRule]] = {}
    actions: dict[str, str] = {}
    for record_type in RECORD_TYPES:
        entry = document["record_types"].get(record_type)
        if not isinstance(entry, dict) or not isinstance(entry.get("rules"), dict):
            raise _fail(source, record_type, "missing, or without rules")
        action = entry.get("action", "erase")
        if action not in ("erase", "anonymise"):
            raise _fail(source, f"{record_type}.action", f"{action!r} is not erase or anonymise")
        actions[record_type] = action
        parsed: dict[str, RetentionRule] = {}
        for jurisdiction, rule in entry["rules"].items():
            where = f"{record_type}.rules.{jurisdiction}"
            years = rule.get("years") if isinstance(rule, dict) else None
            if not isinstance(years, int) or isinstance(years, bool) or years < 1:
                raise _fail(source, where, "years must be a whole number of at least 1")
            parsed[str(jurisdiction).upper()] = RetentionRule(years, str(rule.get("cite", "")))
        if "*" not in parsed:
            raise _fail(source, record_type, 'needs a "*" rule for other jurisdictions')
        rules[record_type] = parsed
    # Floors no local file may go below: CN card rules art. 68 (2 years), 12 CFR 1006.100 (3 years).
    for record_type in ("call_recording", "contact_log"):
        if rules[record_type].get("CN", RetentionRule(2, "")).years < 2:
            raise _fail(source, f"{record_type}.rules.CN", "below the 2 years of the card rules art. 68")
        if rules[record_type].get("US", RetentionRule(3, "")).years < 3:
            raise _fail(source, f"{record_type}.rules.US", "below the 3 years of 12 CFR 1006.100")
    return RetentionPolicy(rules, actions, source)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class RetentionReport:
    as_of: dt.date
    anonymised: list[str]
    kept: dict[str, str]


def run_retention(
    session: Session, *, actor: str, as_of: dt.date, now: dt.datetime, policy: RetentionPolicy
) -> RetentionReport:
    """Anonymise every debtor whose last account closed more than the retention period before ``as_of``.

    A debtor with an open account, a balance, or a legal hold is kept (and reported with the reason).
    Needs ``manage_retention``; one audit event for the run, one per anonymised debtor.
    """
    require(session, actor, Permission.MANAGE_RETENTION)
    a = tables.Account
    erased = select(Erasure.debtor_id)
    rows = session.execute(
        select(
            tables.Debtor.id, tables.Debtor.external_id, tables.Debtor.jurisdiction, func.max(a.updated_at)
        )
        .join(a, a.debtor_id == tables.Debtor.id)
        .where(tables.Debtor.id.not_in(erased))
        .group_by(tables.Debtor.id, tables.Debtor.external_id, tables.Debtor.jurisdiction)
        .order_by(tables.Debtor.id)
    ).all()
    open_debtors = set(session.scalars(select(a.debtor_id).where(a.status == "open").distinct()))
    anonymised: list[str] = []
    kept: dict[str, str] = {}
    for debtor_pk, external_id, jurisdiction, closed_at in rows:
        if debtor_pk in open_debtors:
            continue
        rule = policy.rule("debtor_record", jurisdiction)
        if _add_years(closed_at.date(), rule.years) > as_of:
            continue
        blockers = erasure_blockers(session, debtor_pk)
        if blockers:
            kept[external_id] = "; ".join(blockers)
            continue
        anonymise_debtor(session, debtor_pk=debtor_pk, actor=actor, now=now, basis="retention",
                         reason=f"retention: {rule.years} years after closure ({rule.cite})")  # fmt: skip
        anonymised.append(external_id)
    record_event(
        session, actor=actor, action="privacy.retention_run", subject_type="retention", subject_id=str(as_of),
        at=now, details={"anonymised": len(anonymised), "kept": len(kept), "policy": policy.source},
    )  # fmt: skip
    return RetentionReport(as_of, anonymised, kept)
