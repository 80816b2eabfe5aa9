"""Products as data: the rules of a loan or card product, loaded from TOML and validated on load.

A file holds any number of ``[[product]]`` tables. Every error names the file, the product (its index
and code) and the field: ``products.toml: product[2] 'cn-card': penalty.factor: must be > 0``.
Numbers in the file are read as exact decimals (TOML floats never become binary floats here).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from arrears.domain.allocation import WATERFALLS, resolve_order
from arrears.domain.delinquency import BucketScheme
from arrears.domain.ledger import Component
from arrears.domain.money import CURRENCY_EXPONENTS, RoundingMode, exponent, parse_decimal, to_minor
from arrears.errors import ArrearsError, ConfigurationError

__all__ = [
    "AccrualMode",
    "CompoundInterest",
    "DayCount",
    "LateFee",
    "Penalty",
    "Product",
    "ProductKind",
    "builtin_products",
    "load_products",
]


class DayCount(StrEnum):
    """How a yearly rate becomes a daily one."""

    ANNUAL_360 = "annual/360"  # Chinese bank convention: daily rate = annual / 360
    ANNUAL_365 = "annual/365"

    @property
    def basis_days(self) -> int:
        """The divisor of the yearly rate (360 or 365)."""
        return 360 if self is DayCount.ANNUAL_360 else 365


class AccrualMode(StrEnum):
    """How daily accruals are rounded (see accrual.py and the T8 example)."""

    EXACT_ROUND_ONCE = "exact-round-once"
    ROUND_DAILY = "round-daily"


class ProductKind(StrEnum):
    """Open-end (card) or closed-end (instalment) credit; sets the default charge-off point."""

    CARD = "card"
    CLOSED_END = "closed-end"


# FFIEC Uniform Retail Credit Classification Policy (65 FR 36903): closed-end loans are charged off
# at 120 DPD, open-end (card) credit at 180 DPD.
DEFAULT_CHARGE_OFF_DPD: Final[dict[ProductKind, int]] = {ProductKind.CARD: 180, ProductKind.CLOSED_END: 120}

# Factors and fee amounts are read at most to this many decimal places, so that vectorised accruals
# can run on exact integers (see accrual.FACTOR_SCALE).
FACTOR_DECIMALS: Final = 4


def _exact_decimal(value: object) -> Decimal:
    try:
        return parse_decimal(value, field="value")
    except ArrearsError as exc:
        raise ValueError(exc.message.removeprefix("value: ")) from None


ExactDecimal = Annotated[Decimal, BeforeValidator(_exact_decimal)]


def _factor(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be > 0")
    if -value.normalize().as_tuple().exponent > FACTOR_DECIMALS:  # type: ignore[operator]
        raise ValueError(f"at most {FACTOR_DECIMALS} decimal places")
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Penalty(_Frozen):
    """罚息: penalty interest on overdue principal at ``factor`` × the contract rate.

    PBoC 银发〔2003〕251号 puts 逾期罚息 at the contract rate plus 30–50 %, i.e. factor 1.3–1.5
    [from memory, verify].
    """

    factor: ExactDecimal

    _check = field_validator("factor")(_factor)


class CompoundInterest(_Frozen):
    """复利: interest on overdue interest at ``factor`` × the contract rate, when ``enabled``."""

    enabled: bool = True
    factor: ExactDecimal = Decimal("1")

    _check = field_validator("factor")(_factor)


class LateFee(_Frozen):
    """A flat late fee, assessed once an instalment is still short after ``grace_days``."""

    amount: ExactDecimal
    grace_days: int = Field(default=0, ge=0)
    max_per_installment: int = Field(default=1, ge=1)

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("must be > 0")
        return value

    def amount_minor(self, currency: str) -> int:
        """The fee in minor units of ``currency``."""
        return to_minor(self.amount, currency)


class Product(_Frozen):
    """One product's rules. Build with :func:`load_products`; the model is immutable."""

    code: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1)
    name_zh: str | None = None
    kind: ProductKind
    currency: str
    rounding: RoundingMode = RoundingMode.HALF_UP
    day_count: DayCount = DayCount.ANNUAL_360
    penalty: Penalty | None = None
    compound_interest: CompoundInterest | None = None
    accrual_mode: AccrualMode = AccrualMode.EXACT_ROUND_ONCE
    late_fee: LateFee | None = None
    allocation: str | tuple[Component, ...]
    bucket_scheme: BucketScheme
    charge_off_dpd: int = Field(ge=1)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = dict(data)
            # "none" (or false) in the file means the product has no penalty / compounding / fee.
            for key in ("penalty", "compound_interest", "late_fee"):
                if data.get(key) in ("none", False):
                    data[key] = None
            if "charge_off_dpd" not in data and data.get("kind") in DEFAULT_CHARGE_OFF_DPD:
                data["charge_off_dpd"] = DEFAULT_CHARGE_OFF_DPD[ProductKind(data["kind"])]
        return data

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCY_EXPONENTS:
            raise ValueError(f"unknown currency {value!r}; use an ISO 4217 code such as CNY, USD or GBP")
        return value

    @field_validator("allocation", mode="before")
    @classmethod
    def _waterfall(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in WATERFALLS:
                raise ValueError(f"unknown waterfall {value!r}; known: {', '.join(sorted(WATERFALLS))}")
            return value
        if isinstance(value, list | tuple):
            try:
                order = resolve_order(value)
            except ArrearsError as exc:
                raise ValueError(exc.message.removeprefix("waterfall: ")) from None
            missing = [c.value for c in Component if c not in order]
            if missing:
                raise ValueError(f"must list every component; missing {', '.join(missing)}")
            return order
        raise ValueError("must be a waterfall name or a list of components")

    @model_validator(mode="after")
    def _fee_fits_currency(self) -> Product:
        if self.late_fee is not None:
            digits = -self.late_fee.amount.normalize().as_tuple().exponent  # type: ignore[operator]
            if digits > exponent(self.currency):
                raise ValueError(f"late_fee.amount: more decimal places than {self.currency} allows")
        return self

    @property
    def waterfall(self) -> tuple[Component, ...]:
        """The allocation order as components."""
        return resolve_order(self.allocation)

    @property
    def basis_days(self) -> int:
        """360 or 365: the day-count divisor."""
        return self.day_count.basis_days


# -- loading ------------------------------------------------------------------------------------------

_MESSAGES: Final[dict[str, str]] = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "string_too_short": "must not be empty",
    "string_pattern_mismatch": "use lower-case letters, digits and '-'",
}


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    loc = ".".join(
        str(p) for p in error["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tuple[")))
    )
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in _MESSAGES:
        message = _MESSAGES[kind]
    elif kind == "greater_than_equal":
        message = f"must be >= {ctx.get('ge')}"
    elif kind == "greater_than":
        message = f"must be > {ctx.get('gt')}"
    elif kind == "enum":
        message = f"must be one of {ctx.get('expected')}"
    elif kind == "value_error":
        message = str(error["msg"]).removeprefix("Value error, ")
    else:
        message = str(error["msg"])
    # A model-level check names its own field inside the message.
    if not loc and ": " in message:
        loc, message = message.split(": ", 1)
    return loc, message


def load_products(text_or_path: str | Path, *, source: str | None = None) -> dict[str, Product]:
    """Read and validate products from TOML text or a file; returns them by code.

    A :class:`~pathlib.Path` (or a one-line string without ``[``) is read as a file; other strings
    are TOML text. ``source`` names the file in messages (defaults to the file name, or
    ``<text>``). Any problem raises :class:`~arrears.errors.ConfigurationError` naming the file,
    ``product[i]`` (0-based, in file order) with its code, and the field.
    """
    if isinstance(text_or_path, Path) or ("\n" not in text_or_path and "[" not in text_or_path):
        path = Path(text_or_path)
        label = source or path.name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"{label}: cannot read product file ({exc.strerror})", file=str(path)
            ) from None
    else:
        text, label = text_or_path, source or "<text>"
    try:
        document = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{label}: not valid TOML: {exc}", file=label) from None
    unknown = sorted(set(document) - {"product"})
    if unknown:
        raise ConfigurationError(
            f"{label}: unknown top-level key(s) {unknown}; products go in [[product]] tables", file=label
        )
    tables = document.get("product", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigurationError(f"{label}: no [[product]] tables found", file=label)
    products: dict[str, Product] = {}
    where: dict[str, int] = {}
    for i, table in enumerate(tables):
        code = table.get("code") if isinstance(table, dict) else None
        name = f"product[{i}]" + (f" {code!r}" if isinstance(code, str) and code else "")
        try:
            product = Product.model_validate(table)
        except PydanticValidationError as exc:
            field, message = _describe(exc.errors()[0])
            more = len(exc.errors()) - 1
            suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            raise ConfigurationError(
                f"{label}: {name}: {field}: {message}{suffix}",
                file=label,
                product_index=i,
                product_code=code,
                field=field,
            ) from None
        if product.code in products:
            raise ConfigurationError(
                f"{label}: {name}: code: duplicate of product[{where[product.code]}]",
                file=label,
                product_index=i,
                product_code=product.code,
                field="code",
            )
        products[product.code] = product
        where[product.code] = i
    return products


@lru_cache(maxsize=1)
def _builtin() -> dict[str, Product]:
    resource = resources.files("arrears").joinpath("data/products.toml")
    return load_products(resource.read_text(encoding="utf-8"), source="products.toml")


def builtin_products() -> dict[str, Product]:
    """The products shipped with arrears (src/arrears/data/products.toml), by code."""
    return dict(_builtin())
