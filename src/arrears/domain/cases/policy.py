"""The case policy as data: grace days, plan limits, affordability, authority limits, escalation and legal.

A policy file (YAML; the defaults ship as ``arrears/cases/policy.yaml``) is validated on load into
:class:`CasePolicy`; an invalid file raises :class:`~arrears.errors.ConfigurationError` naming the
file and the field. Amounts are decimal text per currency (``{CNY: "2000.00"}``), never floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from arrears.domain.cases.enums import ConcessionKind
from arrears.domain.money import exponent, parse_decimal, to_minor
from arrears.errors import ArrearsError, ConfigurationError

__all__ = [
    "AuthorityLimit",
    "CasePolicy",
    "DisputePause",
    "EscalationRule",
    "amount_minor",
    "policy_from_mapping",
]


def _exact(value: object) -> Decimal:
    if isinstance(value, float):
        # YAML reads 0.1 as a float; its decimal text is what the author wrote.
        value = repr(value)
    try:
        return parse_decimal(value, field="value")
    except ArrearsError as exc:
        raise ValueError(exc.message.removeprefix("value: ")) from None


ExactDecimal = Annotated[Decimal, BeforeValidator(_exact)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _amounts(value: dict[str, Decimal]) -> dict[str, Decimal]:
    for currency, amount in value.items():
        exponent(currency)
        if amount < 0:
            raise ValueError(f"{currency}: must not be negative")
        to_minor(amount, currency)
    return value


class AuthorityLimit(_Frozen):
    """How much a role may concede on its own: a share of the balance and, per currency, a cap.

    A concession is within authority when it is at most ``share`` × the balance and at most the
    cap of the currency. A currency without a cap is capped only by the share when ``max`` is
    omitted altogether, and not at all allowed (cap 0) when ``max`` lists other currencies only.
    """

    share: ExactDecimal = Decimal(0)
    max: dict[str, ExactDecimal] | None = None

    @field_validator("share")
    @classmethod
    def _share(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value <= Decimal(1):
            raise ValueError("must be between 0 and 1")
        return value

    _check_max = field_validator("max")(lambda v: None if v is None else _amounts(v))


class Affordability(_Frozen):
    """Disposable income = income − expenses − dependants × allowance; the sustainable share of it."""

    sustainable_share: ExactDecimal = Decimal("0.8")
    dependant_allowance: dict[str, ExactDecimal] = Field(default_factory=dict)

    _check = field_validator("dependant_allowance")(_amounts)


class PlanPolicy(_Frozen):
    grace_days: int = Field(default=5, ge=0, le=60)
    # 个性化分期: personalised instalment plans run up to 60 months.
    max_months: int = Field(default=60, ge=1, le=600)


class EscalationRule(_Frozen):
    """Escalate when every listed condition holds (at least one condition)."""

    id: str
    broken_promises_at_least: int | None = Field(default=None, ge=1)
    dpd_at_least: int | None = Field(default=None, ge=1)
    days_without_right_party_at_least: int | None = Field(default=None, ge=1)
    refusals_at_least: int | None = Field(default=None, ge=1)

    def conditions(self) -> dict[str, int]:
        """The conditions set on this rule, by signal name (``broken_promises`` ...)."""
        data = self.model_dump(exclude={"id"}, exclude_none=True)
        return {k.removesuffix("_at_least"): int(v) for k, v in data.items()}


class LegalPolicy(_Frozen):
    min_balance: dict[str, ExactDecimal] = Field(default_factory=dict)
    # Limitation periods in years by country; "default" for the rest.
    limitation_years: dict[str, int] = Field(default_factory=lambda: {"default": 3})

    _check = field_validator("min_balance")(_amounts)


class DisputePause(StrEnum):
    """Which disputes pause collection until verification is sent."""

    ALWAYS = "always"
    # 12 CFR 1006.38(d)(2): a written dispute within the validation period.
    WRITTEN_WITHIN_PERIOD = "written_within_period"


class CasePolicy(_Frozen):
    version: str
    promise_grace_days: int = Field(default=3, ge=0, le=60)
    plan: PlanPolicy = Field(default_factory=PlanPolicy)
    follow_up_days: int = Field(default=90, ge=0, le=3650)
    affordability: Affordability = Field(default_factory=Affordability)
    authority: dict[str, dict[ConcessionKind, AuthorityLimit]] = Field(default_factory=dict)
    escalation: tuple[EscalationRule, ...] = ()
    legal: LegalPolicy = Field(default_factory=LegalPolicy)
    dispute_pause: dict[str, DisputePause] = Field(default_factory=lambda: {"default": DisputePause.ALWAYS})
    # Jurisdictions (countries) whose collectors send a validation notice (12 CFR 1006.34).
    validation_notice_countries: tuple[str, ...] = ("US",)

    @field_validator("escalation")
    @classmethod
    def _rules(cls, rules: tuple[EscalationRule, ...]) -> tuple[EscalationRule, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            if not rule.conditions():
                raise ValueError(f"rule {rule.id!r} has no condition")
            seen.add(rule.id)
        return rules

    def limitation_years(self, country: str) -> int:
        """Years after which a debt of ``country`` is time-barred (the policy's default otherwise)."""
        years = self.legal.limitation_years
        return years.get(country, years.get("default", 3))

    def dispute_pause_for(self, country: str) -> DisputePause:
        """Which disputes pause collection in ``country``."""
        return self.dispute_pause.get(country, self.dispute_pause.get("default", DisputePause.ALWAYS))


def amount_minor(amounts: Mapping[str, Decimal] | None, currency: str) -> int | None:
    """The amount of ``currency`` in minor units, or None when the mapping has none."""
    if amounts is None or currency not in amounts:
        return None
    return to_minor(amounts[currency], currency)


def policy_from_mapping(data: Mapping[str, Any], *, source: str) -> CasePolicy:
    """Validate a parsed policy file; errors name ``source`` and the field's path."""
    try:
        return CasePolicy.model_validate(dict(data))
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigurationError(f"{source}: {where}: {message}", field=where, source=source) from None
