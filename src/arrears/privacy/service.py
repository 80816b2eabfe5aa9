"""Use cases of the privacy capability: viewing and revealing, search, holds, consents, agreements,
erasure, exports and key rotation.

Every function takes the acting user, checks a permission through :func:`arrears.access.service.require`
and writes its audit event in the caller's transaction; none commits. Audit events name records by id
and never carry personal values.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from arrears.access.permissions import Permission
from arrears.access.service import Principal, require, visible_accounts_filter
from arrears.audit.log import record_event
from arrears.cases.contacts import endpoint_kind
from arrears.cases.tables import ContactRecord
from arrears.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from arrears.portfolio.service import COMPONENTS, AccountView, account_view
from arrears.privacy.crypto import KeyRing
from arrears.privacy.sharing import AgreementKind, SharePurpose, requirement
from arrears.privacy.tables import Consent, DataAgreement, Erasure, KeyRotationRun, LegalHold
from arrears.store import personal, tables
from arrears.store.personal import PersonalKind

__all__ = [
    "ERASED",
    "ErasureRefusedError",
    "ExportResult",
    "add_agreement",
    "anonymise_debtor",
    "erase_debtor",
    "erasure_blockers",
    "export_accounts",
    "find_debtors",
    "place_legal_hold",
    "record_consent",
    "release_legal_hold",
    "rotate_keys_batch",
    "view_account",
]

ERASED: Final = "[erased]"
"""What an erased personal field holds: a marker, not a value (names are NOT NULL)."""


class ErasureRefusedError(ConflictError):
    """Erasure refused because a legal hold or an outstanding balance requires keeping the data."""

    code = "erasure_refused"


def _visible_account(session: Session, who: Principal, account_id: str) -> tables.Account:
    account = session.scalar(
        select(tables.Account).where(tables.Account.external_id == account_id, visible_accounts_filter(who))
    )
    if account is None:
        # The same answer for "no such account" and "not yours": existence is not disclosed.
        raise NotFoundError(f"no account {account_id!r} that you may see", account=account_id)
    return account


def view_account(
    session: Session, *, actor: str, account_id: str, as_of: dt.date, now: dt.datetime, reveal: bool = False
) -> AccountView:
    """An account as ``actor`` may see it: masked, or revealed with ``reveal_personal_data``.

    Revealing writes a ``privacy.personal_data_revealed`` event naming the account and the fields.
    """
    who = require(session, actor, Permission.VIEW_ACCOUNTS)
    if reveal:
        require(session, actor, Permission.REVEAL_PERSONAL_DATA)
    _visible_account(session, who, account_id)
    view = account_view(session, account_id, as_of=as_of, reveal=reveal)
    if reveal:
        fields = ["name", "national_id", *(f"contact:{c['kind']}" for c in view.debtor["contacts"])]
        record_event(
            session, actor=actor, action="privacy.personal_data_revealed", subject_type="account",
            subject_id=account_id, at=now, details={"debtor": view.debtor["debtor_id"], "fields": fields},
        )  # fmt: skip
    return view


def find_debtors(
    session: Session, *, actor: str, phone: str | None = None, national_id: str | None = None
) -> list[str]:
    """External ids of the debtors, among those ``actor`` may see, with this phone or ID number.

    Exact match through the blind index: the value is normalised (phone → E.164, ID → upper-case),
    keyed-hashed, and compared with the stored index; nothing is decrypted.
    """
    who = require(session, actor, Permission.VIEW_ACCOUNTS)
    if (phone is None) == (national_id is None):
        raise ValidationError("search by exactly one of a phone number or an ID number", field="query")
    d = tables.Debtor
    condition: ColumnElement[bool]
    if phone is not None:
        key = personal.lookup_key(PersonalKind.PHONE, phone)
        matches = select(tables.ContactPoint.debtor_id).where(tables.ContactPoint.lookup == key)
        condition = d.id.in_(matches)
    else:
        condition = d.national_id_lookup == personal.lookup_key(PersonalKind.NATIONAL_ID, str(national_id))
    seen = select(tables.Account.debtor_id).where(visible_accounts_filter(who))
    return list(
        session.scalars(select(d.external_id).where(condition, d.id.in_(seen)).order_by(d.external_id))
    )


def _debtor(session: Session, debtor_id: str) -> tables.Debtor:
    debtor = session.scalar(select(tables.Debtor).where(tables.Debtor.external_id == debtor_id))
    if debtor is None:
        raise NotFoundError(f"no debtor {debtor_id!r}", debtor=debtor_id)
    return debtor


def place_legal_hold(session: Session, *, actor: str, debtor_id: str, reason: str, now: dt.datetime) -> int:
    """Keep a debtor's data from erasure (``place_legal_hold``); returns the hold id."""
    require(session, actor, Permission.PLACE_LEGAL_HOLD)
    debtor = _debtor(session, debtor_id)
    if not reason.strip():
        raise ValidationError("a legal hold needs a reason", field="reason")
    hold = LegalHold(debtor_id=debtor.id, reason=reason.strip(), placed_at=now, placed_by=actor)
    session.add(hold)
    session.flush()
    record_event(
        session, actor=actor, action="privacy.legal_hold_placed", subject_type="debtor", subject_id=debtor_id,
        at=now, details={"hold": hold.id},
    )  # fmt: skip
    return hold.id


def release_legal_hold(session: Session, *, actor: str, hold_id: int, now: dt.datetime) -> None:
    """End a legal hold (``place_legal_hold``)."""
    require(session, actor, Permission.PLACE_LEGAL_HOLD)
    hold = session.get(LegalHold, hold_id)
    if hold is None or hold.released_at is not None:
        raise NotFoundError(f"no legal hold {hold_id} in place", hold=hold_id)
    hold.released_at = now
    debtor = session.get_one(tables.Debtor, hold.debtor_id)
    record_event(
        session, actor=actor, action="privacy.legal_hold_released", subject_type="debtor",
        subject_id=debtor.external_id, at=now, details={"hold": hold_id},
    )  # fmt: skip
    session.flush()


def record_consent(
    session: Session,
    *,
    actor: str,
    debtor_id: str,
    purpose: str,
    evidence: str,
    now: dt.datetime,
    counterparty: str | None = None,
) -> int:
    """Record a debtor's separate consent to sharing for ``purpose`` (``manage_consents``)."""
    require(session, actor, Permission.MANAGE_CONSENTS)
    debtor = _debtor(session, debtor_id)
    chosen = SharePurpose(purpose)
    if not evidence.strip():
        raise ValidationError("say where the consent is kept (a document or recording id)", field="evidence")
    consent = Consent(debtor_id=debtor.id, purpose=chosen.value, counterparty=counterparty,
                      evidence=evidence.strip()[:128], given_at=now)  # fmt: skip
    session.add(consent)
    session.flush()
    record_event(
        session, actor=actor, action="privacy.consent_recorded", subject_type="debtor", subject_id=debtor_id,
        at=now, details={"consent": consent.id, "purpose": chosen.value, "counterparty": counterparty},
    )  # fmt: skip
    return consent.id


def add_agreement(
    session: Session,
    *,
    actor: str,
    counterparty: str,
    kind: str,
    jurisdiction: str,
    reference: str,
    signed_on: dt.date,
    now: dt.datetime,
    expires_on: dt.date | None = None,
) -> int:
    """Record a written data agreement with a counterparty (``manage_consents``)."""
    require(session, actor, Permission.MANAGE_CONSENTS)
    try:
        chosen = AgreementKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in AgreementKind)
        raise ValidationError(f"unknown agreement kind {kind!r}; kinds are {known}", field="kind") from None
    if expires_on is not None and expires_on <= signed_on:
        raise ValidationError("the agreement must expire after it is signed", field="expires_on")
    row = DataAgreement(counterparty=counterparty, kind=chosen.value, jurisdiction=jurisdiction.upper(),
                        reference=reference[:128], signed_on=signed_on, expires_on=expires_on, created_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    record_event(
        session, actor=actor, action="privacy.agreement_added", subject_type="counterparty",
        subject_id=counterparty, at=now,
        details={"agreement": row.id, "kind": chosen.value, "jurisdiction": row.jurisdiction, "reference": reference},
    )  # fmt: skip
    return row.id


def erasure_blockers(session: Session, debtor_pk: int) -> list[str]:
    """Why a debtor's data must be kept: an active legal hold, or an outstanding balance on an account."""
    reasons = []
    holds = session.scalar(
        select(func.count()).where(LegalHold.debtor_id == debtor_pk, LegalHold.released_at.is_(None))
    )
    if holds:
        reasons.append("a legal hold is in place")
    e = tables.LedgerEntry
    columns = [getattr(e, f"{c}_minor") for c in COMPONENTS]
    amount = columns[0]
    for column in columns[1:]:
        amount = amount + column
    total = func.coalesce(func.sum(amount), 0)
    owed = session.scalar(
        select(total).where(
            e.account_id.in_(select(tables.Account.id).where(tables.Account.debtor_id == debtor_pk))
        )
    )
    if owed:
        reasons.append("an account still has a balance")
    return reasons


def anonymise_debtor(
    session: Session, *, debtor_pk: int, actor: str, now: dt.datetime, basis: str, reason: str
) -> None:
    """Replace every personal field of a debtor, their persons and contact points by :data:`ERASED`.

    Accounts, ledger, payments and audit events are untouched, so balances, KPIs and the audit chain
    stay as they were. Writes the :class:`Erasure` row and a ``privacy.debtor_erased`` event.
    """
    debtor = session.get_one(tables.Debtor, debtor_pk)
    debtor.name = ERASED
    debtor.national_id = None
    debtor.national_id_lookup = None
    debtor.employer = None
    debtor.monthly_income = None
    debtor.address_region = None
    debtor.address_city = None
    debtor.updated_at = now
    persons = session.execute(
        update(tables.Person).where(tables.Person.debtor_id == debtor_pk).values(name=ERASED)
    )
    points = session.execute(
        update(tables.ContactPoint)
        .where(tables.ContactPoint.debtor_id == debtor_pk)
        .values(value=ERASED, lookup=None)
    )
    # The contact history stays (it proves what contact was made, when and how often) without the
    # number or address used and without the collector's free-text notes.
    contacts = session.execute(
        update(ContactRecord).where(ContactRecord.debtor_id == debtor_pk).values(endpoint=None, notes=None)
    )
    session.add(Erasure(debtor_id=debtor_pk, basis=basis, reason=reason, erased_at=now, actor=actor))
    record_event(
        session, actor=actor, action="privacy.debtor_erased", subject_type="debtor",
        subject_id=debtor.external_id, at=now,
        details={"basis": basis, "reason": reason, "persons": persons.rowcount, "contact_points": points.rowcount,  # type: ignore[attr-defined]
                 "contacts": contacts.rowcount},  # type: ignore[attr-defined]
    )  # fmt: skip
    session.flush()


def erase_debtor(session: Session, *, actor: str, debtor_id: str, reason: str, now: dt.datetime) -> None:
    """Carry out an erasure request (``erase_personal_data``).

    Refused (:class:`ErasureRefusedError`, nothing written) while a legal hold is in place or any of
    the debtor's accounts has a balance: the data is then still needed to collect the debt or to
    establish or defend legal claims (GDPR art. 17(3)(e); PIPL art. 47 deletes once the purpose is
    met). A debtor already erased is a :class:`ConflictError`.
    """
    require(session, actor, Permission.ERASE_PERSONAL_DATA)
    if not reason.strip():
        raise ValidationError("an erasure needs a reason (the request reference)", field="reason")
    debtor = _debtor(session, debtor_id)
    if session.scalar(select(Erasure.id).where(Erasure.debtor_id == debtor.id)) is not None:
        raise ConflictError(f"debtor {debtor_id!r} was erased already", debtor=debtor_id)
    blockers = erasure_blockers(session, debtor.id)
    if blockers:
        raise ErasureRefusedError(
            f"debtor {debtor_id!r} cannot be erased yet: {'; '.join(blockers)}", debtor=debtor_id,
            blockers=blockers,
        )  # fmt: skip
    anonymise_debtor(
        session, debtor_pk=debtor.id, actor=actor, now=now, basis="request", reason=reason.strip()
    )


@dataclass(frozen=True)
class ExportResult:
    """An export: CSV text, the key file for sealed fields (None when masked), and the row count."""

    csv_text: str
    key_json: str | None
    rows: int


def _sharing_allowed(
    session: Session, debtor: tables.Debtor, counterparty: str, purpose: SharePurpose, on: dt.date
) -> str | None:
    """None when sharing this debtor's data is allowed, else why not."""
    needed = requirement(debtor.jurisdiction, purpose)
    a = DataAgreement
    agreement = session.scalar(
        select(a.id).where(
            a.counterparty == counterparty, a.kind == needed.agreement.value, a.revoked_at.is_(None),
            a.signed_on <= on, (a.expires_on.is_(None)) | (a.expires_on > on),
        )
    )  # fmt: skip
    if agreement is None:
        return f"no {needed.agreement.value} agreement with {counterparty} ({needed.cite})"
    if needed.needs_consent:
        c = Consent
        consent = session.scalar(
            select(c.id).where(
                c.debtor_id == debtor.id, c.purpose == purpose.value, c.withdrawn_at.is_(None),
                (c.counterparty.is_(None)) | (c.counterparty == counterparty),
            )
        )  # fmt: skip
        if consent is None:
            return f"no separate consent from the debtor ({needed.cite})"
    return None


_EXPORT_FIELDS: Final = (("name", PersonalKind.NAME), ("national_id", PersonalKind.NATIONAL_ID))


def export_accounts(
    session: Session,
    *,
    actor: str,
    counterparty: str,
    purpose: str,
    account_ids: list[str],
    now: dt.datetime,
    sealed: bool = False,
) -> ExportResult:
    """An export of accounts for a counterparty, refused whole unless every account may be shared.

    Each debtor's jurisdiction says what is needed (:func:`arrears.privacy.sharing.requirement`): a
    current agreement of the right kind with the counterparty, and for a PIPL provision the debtor's
    separate consent. Personal fields are masked, or with ``sealed`` encrypted under a new key ring
    returned beside the CSV (send it by another channel). Needs ``export_personal_data``; audited.
    """
    require(session, actor, Permission.EXPORT_PERSONAL_DATA)
    chosen = SharePurpose(purpose)
    ids = list(dict.fromkeys(a.strip() for a in account_ids if a.strip()))
    if not ids:
        raise ValidationError("the accounts file lists no account ids", field="accounts")
    accounts = {
        a.external_id: a
        for a in session.scalars(select(tables.Account).where(tables.Account.external_id.in_(ids)))
    }
    missing = [a for a in ids if a not in accounts]
    if missing:
        raise NotFoundError(f"no account {missing[0]!r} ({len(missing)} unknown)", accounts=missing[:10])
    refused: dict[str, str] = {}
    debtors: dict[int, tables.Debtor] = {}
    for external_id, account in accounts.items():
        debtor = debtors.setdefault(account.debtor_id, session.get_one(tables.Debtor, account.debtor_id))
        why = _sharing_allowed(session, debtor, counterparty, chosen, now.date())
        if why is not None:
            refused[external_id] = why
    if refused:
        first = next(iter(refused))
        raise PermissionDeniedError(
            f"export to {counterparty} refused for {len(refused)} of {len(ids)} accounts; "
            f"{first}: {refused[first]}",
            refused=dict(list(refused.items())[:10]),
        )
    ring = KeyRing.generate(f"export-{now:%Y%m%d%H%M%S}") if sealed else None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["account_id", "debtor_id", "jurisdiction", "currency", "principal_minor",
                     *[f for f, _ in _EXPORT_FIELDS]])  # fmt: skip
    for external_id in ids:
        account = accounts[external_id]
        debtor = debtors[account.debtor_id]
        shown: list[str] = []
        for field, kind in _EXPORT_FIELDS:
            stored = getattr(debtor, field)
            value = personal.unseal(kind, stored) if stored is not None else ""
            if ring is not None:
                shown.append(ring.encrypt(value, context=f"export:{counterparty}:{field}:{external_id}"))
            else:
                shown.append(personal.mask(kind, value))
        writer.writerow([external_id, debtor.external_id, debtor.jurisdiction, account.currency,
                         account.principal_minor, *shown])  # fmt: skip
    record_event(
        session, actor=actor, action="privacy.export_made", subject_type="counterparty", subject_id=counterparty,
        at=now, details={"purpose": chosen.value, "accounts": len(ids), "sealed": sealed,
                         "key_id": ring.active_key_id if ring else None},
    )  # fmt: skip
    return ExportResult(buffer.getvalue(), ring.to_json() if ring else None, len(ids))


# (table, primary key, [(column, kind, lookup column)]) for every sealed field.
_SEALED: Final[tuple[tuple[Any, list[tuple[str, PersonalKind | None, str | None]]], ...]] = (
    (tables.Debtor, [("name", PersonalKind.NAME, None), ("national_id", PersonalKind.NATIONAL_ID, "national_id_lookup"),
                     ("employer", PersonalKind.EMPLOYER, None), ("monthly_income", PersonalKind.INCOME, None)]),
    (tables.Person, [("name", PersonalKind.NAME, None)]),
    (tables.ContactPoint, [("value", None, "lookup")]),
    (ContactRecord, [("endpoint", None, None)]),
)  # fmt: skip


def _row_kind(row: Any) -> PersonalKind:
    """The kind of a sealed value whose kind depends on its row (a contact point's, a contact's channel)."""
    if isinstance(row, ContactRecord):
        return endpoint_kind(row.channel)
    return PersonalKind(row.kind)


def rotate_keys_batch(
    session: Session, *, actor: str, ring: KeyRing, now: dt.datetime, batch_rows: int = 5000
) -> dict[str, Any]:
    """Re-encrypt the next batch of sealed fields under the ring's active key (``manage_keys``).

    Resumable: progress is kept in ``key_rotation_runs`` per table, and a field already under the
    active key is left alone, so a rerun after an interruption continues. Values written in plaintext
    by a development run are sealed and get blind-index lookup keys. Call until ``done``; commit after
    each batch. Returns ``{"run": id, "rotated": n, "done": bool}``.
    """
    require(session, actor, Permission.MANAGE_KEYS)
    codec = personal.EncryptingCodec(ring)
    run = session.scalar(
        select(KeyRotationRun)
        .where(KeyRotationRun.key_id == ring.active_key_id, KeyRotationRun.finished_at.is_(None))
        .order_by(KeyRotationRun.id)
    )
    if run is None:
        run = KeyRotationRun(
            key_id=ring.active_key_id, actor=actor, started_at=now, cursors={}, rows_rotated=0
        )
        session.add(run)
        session.flush()
        record_event(
            session, actor=actor, action="privacy.key_rotation_started", subject_type="key",
            subject_id=ring.active_key_id, at=now, details={"run": run.id},
        )  # fmt: skip
    rotated = 0
    for table, fields in _SEALED:
        name = str(table.__tablename__)
        cursor = int(run.cursors.get(name, 0))
        if cursor < 0:
            continue
        rows = session.scalars(
            select(table).where(table.id > cursor).order_by(table.id).limit(batch_rows)
        ).all()
        for row in rows:
            for column, kind, lookup in fields:
                stored = getattr(row, column)
                if stored is None or stored == ERASED:
                    continue
                field_kind = kind or _row_kind(row)
                if personal.is_sealed(stored) and not ring.needs_rotation(stored):
                    continue
                value = codec.unseal(field_kind, stored)
                setattr(row, column, codec.seal(field_kind, value))
                if lookup is not None and not personal.is_sealed(stored):
                    setattr(row, lookup, codec.lookup_key(field_kind, value))
                rotated += 1
        run.cursors = {**run.cursors, name: rows[-1].id if len(rows) == batch_rows else -1}
        session.flush()
        if len(rows) == batch_rows:
            break
    run.rows_rotated += rotated
    done = all(int(run.cursors.get(str(t.__tablename__), 0)) < 0 for t, _ in _SEALED)
    if done:
        run.finished_at = now
        record_event(
            session, actor=actor, action="privacy.key_rotation_finished", subject_type="key",
            subject_id=ring.active_key_id, at=now, details={"run": run.id, "rows_rotated": run.rows_rotated},
        )  # fmt: skip
    session.flush()
    return {"run": run.id, "rotated": rotated, "done": done, "total": run.rows_rotated}
