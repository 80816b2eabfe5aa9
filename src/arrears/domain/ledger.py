"""The account ledger: append-only entries over components; balances are folds of entries.

An :class:`Entry` moves one component of one account's debt by a signed amount of minor units:
``+`` raises what is owed, ``-`` lowers it. Nothing is edited or deleted: a correction is a
``REVERSAL`` entry naming the key of the entry it undoes, with the opposite amount. Every entry has an
idempotency key (``"accrual:2026-03-01:penalty"``, ``"pay-7781:interest"``) so that writing the same
fact twice is detectable.

:func:`fold` sums entries into :class:`Balances`; :func:`validate_entries` checks a batch and returns
problems as data instead of raising half-way; :func:`post_payment` turns a payment into entries through
a waterfall; :func:`reverse_payment` undoes a bounced payment and re-allocates the payments that came
after it; :func:`fold_frame` folds many accounts at once with Polars.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import polars as pl

from arrears.errors import ValidationError

if TYPE_CHECKING:
    from arrears.domain.allocation import Allocation

__all__ = [
    "Balances",
    "Component",
    "Entry",
    "EntryKind",
    "LedgerProblem",
    "PaymentPosting",
    "ProblemCode",
    "fold",
    "fold_frame",
    "payment_entry_key",
    "post_payment",
    "reverse_payment",
    "validate_entries",
]


class Component(StrEnum):
    """What an amount owed is made of."""

    PRINCIPAL = "principal"  # 本金
    INTEREST = "interest"  # 利息 (contractual)
    PENALTY = "penalty"  # 罚息 (penalty interest on overdue principal)
    COMPOUND = "compound"  # 复利 (interest on overdue interest)
    FEE = "fee"  # 费用 (late fees, service fees)
    COST = "cost"  # 实现债权的费用 (legal and collection costs)


class EntryKind(StrEnum):
    """Why an entry was written. The sign of the amount says whether it raises (+) or lowers (-) the debt."""

    OPENING = "opening"  # balance taken over from the loan system at import
    CHARGE = "charge"  # scheduled interest falling due, a fee, a cost
    ACCRUAL = "accrual"  # daily penalty or compound interest
    PAYMENT = "payment"  # money received, allocated by the product's waterfall
    WAIVER = "waiver"  # 减免: a concession
    ADJUSTMENT = "adjustment"  # a correction with a reason
    REVERSAL = "reversal"  # undoes an earlier entry (a bounced payment)


@dataclass(frozen=True, slots=True)
class Entry:
    """One signed movement of one component.

    ``source`` groups the entries one event wrote: the entries of a payment carry the payment's key,
    so that a bounced payment can be found and undone as a whole.
    """

    component: Component
    kind: EntryKind
    amount_minor: int
    effective_on: date
    key: str
    reverses: str | None = None
    installment_no: int | None = None
    memo: str = ""
    source: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise ValidationError(
                "amount_minor must be an integer number of minor units", field="amount_minor", key=self.key
            )
        object.__setattr__(self, "component", Component(self.component))
        object.__setattr__(self, "kind", EntryKind(self.kind))


_COMPONENTS: Final[tuple[Component, ...]] = tuple(Component)


class Balances(Mapping[Component, int]):
    """What is owed per component, in minor units: an immutable mapping with every component present."""

    __slots__ = ("_minor",)

    def __init__(self, minor: Mapping[Component, int] | Mapping[str, int] | None = None) -> None:
        values = dict.fromkeys(_COMPONENTS, 0)
        for component, amount in (minor or {}).items():
            values[Component(component)] += int(amount)
        self._minor: dict[Component, int] = values

    @classmethod
    def zero(cls) -> Balances:
        """Nothing owed on any component."""
        return cls()

    def __getitem__(self, component: Component) -> int:
        try:
            return self._minor[Component(component)]
        except ValueError:
            raise KeyError(component) from None

    def __iter__(self) -> Iterator[Component]:
        return iter(_COMPONENTS)

    def __len__(self) -> int:
        return len(_COMPONENTS)

    def __hash__(self) -> int:
        return hash(tuple(self._minor.values()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return all(self._minor[c] == other.get(c, 0) for c in _COMPONENTS) and all(
                k in self._minor for k in other
            )
        return NotImplemented

    def __repr__(self) -> str:
        inner = ", ".join(f"{c.value}={v}" for c, v in self._minor.items() if v)
        return f"Balances({inner})"

    @property
    def total(self) -> int:
        """Everything owed, all components together."""
        return sum(self._minor.values())

    def amount(self, component: Component) -> int:
        """Minor units owed on ``component`` (0 when nothing is)."""
        return self._minor[Component(component)]

    def plus(self, component: Component, delta_minor: int) -> Balances:
        """A copy with ``delta_minor`` added to ``component``."""
        values = dict(self._minor)
        values[Component(component)] += delta_minor
        return Balances(values)

    def apply(self, entry: Entry) -> Balances:
        """A copy with one entry folded in."""
        return self.plus(entry.component, entry.amount_minor)

    def __add__(self, other: Mapping[Component, int]) -> Balances:
        return Balances({c: self._minor[c] + other.get(c, 0) for c in _COMPONENTS})

    def __sub__(self, other: Mapping[Component, int]) -> Balances:
        return Balances({c: self._minor[c] - other.get(c, 0) for c in _COMPONENTS})

    def __neg__(self) -> Balances:
        return Balances({c: -v for c, v in self._minor.items()})

    def nonzero(self) -> dict[Component, int]:
        """Only the components with something on them."""
        return {c: v for c, v in self._minor.items() if v}

    def to_dict(self) -> dict[str, int]:
        """Plain ``{"principal": 500000, ...}`` for JSON and tables."""
        return {c.value: v for c, v in self._minor.items()}


def fold(entries: Iterable[Entry]) -> Balances:
    """Sum entries into balances. Reversals carry their own (opposite) amounts, so a plain sum is right."""
    values = dict.fromkeys(_COMPONENTS, 0)
    for e in entries:
        values[e.component] += e.amount_minor
    return Balances(values)


# -- validation -------------------------------------------------------------------------------------


class ProblemCode(StrEnum):
    """Stable codes of what :func:`validate_entries` can find."""

    EMPTY_KEY = "empty_key"
    DUPLICATE_KEY = "duplicate_key"
    ZERO_AMOUNT = "zero_amount"
    WRONG_SIGN = "wrong_sign"
    REVERSAL_WITHOUT_TARGET = "reversal_without_target"
    REVERSES_ON_NON_REVERSAL = "reverses_on_non_reversal"
    UNKNOWN_REVERSAL_TARGET = "unknown_reversal_target"
    ALREADY_REVERSED = "already_reversed"
    REVERSES_REVERSAL = "reverses_reversal"
    REVERSAL_MISMATCH = "reversal_mismatch"
    NEGATIVE_BALANCE = "negative_balance"


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """One thing wrong with a batch of entries, pointing at the entry (position and key)."""

    code: ProblemCode
    index: int
    key: str
    message: str


# Sign each kind must have: +1 raises the debt, -1 lowers it, 0 either way.
_SIGN: Final[dict[EntryKind, int]] = {
    EntryKind.OPENING: 1,
    EntryKind.CHARGE: 1,
    EntryKind.ACCRUAL: 1,
    EntryKind.PAYMENT: -1,
    EntryKind.WAIVER: -1,
    EntryKind.ADJUSTMENT: 0,
    EntryKind.REVERSAL: 0,
}


def validate_entries(entries: Iterable[Entry]) -> list[LedgerProblem]:
    """Check a batch of entries in posting order and return every problem found (never raises).

    Checks: empty or duplicate keys; zero amounts; signs by kind (a payment or waiver must lower the
    debt, a charge, accrual or opening must raise it); reversals that name no entry, an unknown entry,
    an entry already reversed, another reversal, or that do not exactly offset their target; and any
    entry that drives a component below zero.
    """
    problems: list[LedgerProblem] = []
    seen: dict[str, Entry] = {}
    reversed_keys: set[str] = set()
    running = dict.fromkeys(_COMPONENTS, 0)

    def report(code: ProblemCode, i: int, e: Entry, message: str) -> None:
        problems.append(LedgerProblem(code, i, e.key, message))

    for i, e in enumerate(entries):
        if not e.key:
            report(ProblemCode.EMPTY_KEY, i, e, "entry has no idempotency key")
        elif e.key in seen:
            report(ProblemCode.DUPLICATE_KEY, i, e, f"key {e.key!r} was already used")
        if e.amount_minor == 0:
            report(ProblemCode.ZERO_AMOUNT, i, e, "entry moves nothing")
        sign = _SIGN[e.kind]
        if sign and e.amount_minor * sign < 0:
            direction = "raise" if sign > 0 else "lower"
            report(ProblemCode.WRONG_SIGN, i, e, f"a {e.kind.value} entry must {direction} the debt")
        if e.kind is EntryKind.REVERSAL:
            target = seen.get(e.reverses) if e.reverses is not None else None
            if e.reverses is None:
                report(ProblemCode.REVERSAL_WITHOUT_TARGET, i, e, "a reversal must name the entry it undoes")
            elif target is None:
                report(ProblemCode.UNKNOWN_REVERSAL_TARGET, i, e, f"no earlier entry has key {e.reverses!r}")
            elif e.reverses in reversed_keys:
                report(ProblemCode.ALREADY_REVERSED, i, e, f"entry {e.reverses!r} was already reversed")
            elif target.kind is EntryKind.REVERSAL:
                report(ProblemCode.REVERSES_REVERSAL, i, e, "a reversal cannot be reversed; post a new entry")
            elif target.component is not e.component or target.amount_minor != -e.amount_minor:
                report(
                    ProblemCode.REVERSAL_MISMATCH,
                    i,
                    e,
                    f"must be {-target.amount_minor} on {target.component.value} to undo {e.reverses!r}",
                )
            if e.reverses is not None:
                reversed_keys.add(e.reverses)
        elif e.reverses is not None:
            report(ProblemCode.REVERSES_ON_NON_REVERSAL, i, e, "only a reversal entry may name `reverses`")
        before = running[e.component]
        running[e.component] = before + e.amount_minor
        if e.amount_minor < 0 and running[e.component] < 0:
            report(
                ProblemCode.NEGATIVE_BALANCE,
                i,
                e,
                f"{e.component.value} would fall to {running[e.component]} (was {before})",
            )
        if e.key and e.key not in seen:
            seen[e.key] = e
    return problems


# -- payments ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentPosting:
    """The entries one payment writes (one negative entry per component paid) and the unapplied excess."""

    entries: tuple[Entry, ...]
    excess_minor: int
    allocation: Allocation = field(compare=False)


def payment_entry_key(payment_key: str, component: Component) -> str:
    """The idempotency key of the entry a payment writes on one component."""
    return f"{payment_key}:{component.value}"


def post_payment(
    *,
    balances: Mapping[Component, int],
    payment_minor: int,
    waterfall: str | Sequence[Component],
    effective_on: date,
    key: str,
    installment_no: int | None = None,
) -> PaymentPosting:
    """Allocate a payment through ``waterfall`` (a registered name or a component list) and write entries.

    Each component paid gets one ``PAYMENT`` entry with a negative amount and key ``"<key>:<component>"``;
    all carry ``source=key``. What the debt cannot absorb is returned as ``excess_minor`` (an
    overpayment to hold unapplied or refund).
    """
    from arrears.domain.allocation import allocate, resolve_order

    if not key:
        raise ValidationError("a payment needs an idempotency key", field="key")
    allocation = allocate(payment_minor, balances, resolve_order(waterfall))
    entries = tuple(
        Entry(
            component=c,
            kind=EntryKind.PAYMENT,
            amount_minor=-amount,
            effective_on=effective_on,
            key=payment_entry_key(key, c),
            installment_no=installment_no,
            source=key,
        )
        for c, amount in allocation.applied.items()
        if amount
    )
    return PaymentPosting(entries=entries, excess_minor=allocation.excess_minor, allocation=allocation)


def _payment_event(e: Entry, by_key: Mapping[str, Entry]) -> str | None:
    """The payment an entry belongs to: its own allocation entries and the reversals of them."""
    if e.kind is EntryKind.PAYMENT:
        return e.source or e.key
    if e.kind is EntryKind.REVERSAL and e.reverses is not None:
        target = by_key.get(e.reverses)
        if target is not None and target.kind is EntryKind.PAYMENT:
            return target.source or target.key
    return None


_BOUNCE: Final = "bounce:"
_REALLOCATE: Final = "reallocate:"


def _reversal_of(e: Entry, effective_on: date, memo: str, prefix: str) -> Entry:
    return Entry(
        component=e.component,
        kind=EntryKind.REVERSAL,
        amount_minor=-e.amount_minor,
        effective_on=effective_on,
        key=f"{prefix}{e.key}",
        reverses=e.key,
        installment_no=e.installment_no,
        memo=memo,
        source=e.source,
    )


def reverse_payment(
    entries: Sequence[Entry],
    payment_key: str,
    *,
    effective_on: date,
    waterfall: str | Sequence[Component],
    received_minor: Mapping[str, int] | None = None,
) -> list[Entry]:
    """Undo a bounced payment and re-allocate every payment that came after it.

    Returns the new entries to append. The bounced payment's live entries are reversed (keys
    ``"bounce:<entry key>"``, which also mark the payment as bounced for later replays). Each later
    payment is then allocated again, in posting order, against the balances as they stand without the
    bounced payment; where its allocation changes, its live entries are reversed (keys
    ``"reallocate:<entry key>"``) and it is posted anew (keys ``"<payment>:<component>:r<n>"``).
    Appending the result gives the balances the ledger would hold had the bounced payment never
    arrived.

    A payment's amount is what its live entries applied, unless ``received_minor`` gives the amount
    received (needed when a later payment had an unapplied excess, which is not in the ledger). A
    payment that applied nothing at all wrote no entries, so the ledger cannot place it in time: it
    stays outside this replay.
    Interest accrued meanwhile is not recomputed here: the daily accrual run works forward from the
    corrected balances. All new entries are effective on ``effective_on``.
    """
    from arrears.domain.allocation import allocate, resolve_order

    order = resolve_order(waterfall)
    received = dict(received_minor or {})
    by_key = {e.key: e for e in entries}
    reversed_keys = {e.reverses for e in entries if e.reverses is not None}
    event_pos: dict[str, int] = {}
    event_entries: dict[str, list[Entry]] = {}
    live: dict[str, list[Entry]] = {}
    bounced: set[str] = set()
    standalone: list[tuple[int, Entry]] = []
    for i, e in enumerate(entries):
        event = _payment_event(e, by_key)
        if event is None:
            standalone.append((i, e))
            continue
        event_pos.setdefault(event, i)
        event_entries.setdefault(event, []).append(e)
        if e.kind is EntryKind.PAYMENT and e.key not in reversed_keys:
            live.setdefault(event, []).append(e)
        if e.kind is EntryKind.REVERSAL and e.key.startswith(_BOUNCE):
            bounced.add(event)
    if payment_key not in event_pos:
        raise ValidationError(
            f"no payment with key {payment_key!r} in this ledger", field="payment_key", value=payment_key
        )
    if payment_key in bounced:
        raise ValidationError(
            f"payment {payment_key!r} has already been reversed", field="payment_key", value=payment_key
        )
    if not live.get(payment_key):
        raise ValidationError(
            f"payment {payment_key!r} applied nothing to this ledger; there is nothing to reverse",
            field="payment_key",
            value=payment_key,
        )
    bounce_at = event_pos[payment_key]
    memo = f"bounced payment {payment_key}"
    new: list[Entry] = [_reversal_of(e, effective_on, memo, _BOUNCE) for e in live[payment_key]]
    used_keys = set(by_key) | {e.key for e in new}

    # Balances just before the bounced payment: everything that happened earlier in posting order.
    balances = fold(e for i, e in standalone if i < bounce_at)
    for event, pos in event_pos.items():
        if pos < bounce_at:
            balances = balances + fold(event_entries[event])

    timeline: list[tuple[int, Entry | str]] = [(i, e) for i, e in standalone if i > bounce_at]
    timeline += [(pos, event) for event, pos in event_pos.items() if pos > bounce_at]
    timeline.sort(key=lambda item: item[0])
    for _, item in timeline:
        if isinstance(item, Entry):
            balances = balances.apply(item)
            continue
        if item in bounced:
            continue
        current = {e.component: -e.amount_minor for e in live.get(item, [])}
        amount = received.get(item, sum(current.values()))
        if amount <= 0:
            continue
        allocation = allocate(amount, balances, order)
        wanted = {c: v for c, v in allocation.applied.items() if v}
        balances = balances - wanted
        if wanted == current:
            continue
        new += [
            _reversal_of(e, effective_on, f"re-allocated after {memo}", _REALLOCATE)
            for e in live.get(item, [])
        ]
        installment_no = next((e.installment_no for e in live.get(item, [])), None)
        for c, v in wanted.items():
            n = 1
            while f"{item}:{c.value}:r{n}" in used_keys:
                n += 1
            key = f"{item}:{c.value}:r{n}"
            used_keys.add(key)
            new.append(
                Entry(
                    component=c,
                    kind=EntryKind.PAYMENT,
                    amount_minor=-v,
                    effective_on=effective_on,
                    key=key,
                    installment_no=installment_no,
                    memo=f"re-allocated after {memo}",
                    source=item,
                )
            )
    return new


# -- vectorised ---------------------------------------------------------------------------------------


def fold_frame(entries: pl.DataFrame) -> pl.DataFrame:
    """Fold many accounts at once.

    ``entries`` has columns ``account_id``, ``component`` (a :class:`Component` value) and
    ``amount_minor``. Returns one row per account, sorted by ``account_id``, with ``<component>_minor``
    for every component and ``total_minor``.
    """
    missing = [c for c in ("account_id", "component", "amount_minor") if c not in entries.columns]
    if missing:
        raise ValidationError(f"fold_frame: missing columns {missing}", field="columns", value=missing)
    component = pl.col("component").cast(pl.String)
    known = [c.value for c in _COMPONENTS]
    unknown = entries.filter(~component.is_in(known)).select(component.unique()).to_series().to_list()
    if unknown:
        raise ValidationError(f"fold_frame: unknown components {sorted(unknown)}", field="component")
    amount = pl.col("amount_minor").cast(pl.Int64)
    sums = [amount.filter(component == c.value).sum().alias(f"{c.value}_minor") for c in _COMPONENTS]
    return (
        entries.group_by("account_id")
        .agg(*sums)
        .with_columns(pl.sum_horizontal([f"{c.value}_minor" for c in _COMPONENTS]).alias("total_minor"))
        .sort("account_id")
    )
