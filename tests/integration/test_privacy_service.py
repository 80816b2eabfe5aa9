"""Personal data through the import, blind-index search, reveal, erasure, export, key rotation
(SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from arrears.access.service import add_user
from arrears.audit.entry import decode_entry
from arrears.cases.tables import ContactRecord
from arrears.errors import ConflictError, NotFoundError, PermissionDeniedError
from arrears.portfolio.accounts_import import import_accounts
from arrears.portfolio.service import balances_frame
from arrears.privacy import service
from arrears.privacy.crypto import KeyRing
from arrears.privacy.tables import Consent, DataAgreement, Erasure, LegalHold
from arrears.store import personal, tables
from arrears.store.db import UnitOfWork
from arrears.store.personal import EncryptingCodec, PersonalKind
from tests.integration.test_import_accounts import NOW, good_row, write_csv

AS_OF = dt.date(2026, 6, 20)
LATER = NOW + dt.timedelta(days=1)


@pytest.fixture
def ring() -> Iterator[KeyRing]:
    before = personal.codec()
    ring = KeyRing.generate("k1")
    personal.set_codec(EncryptingCodec(ring))
    yield ring
    personal.set_codec(before)


@pytest.fixture
def book(engine: Engine, ring: KeyRing, tmp_path: Path) -> Engine:
    """Two debtors (A1/D1 with a balance, A2/D2 paid off) and a user per role."""
    rows = [good_row("A1", "D1"), good_row("A2", "D2", debtor_name="王芳", national_id="110101198001011232",
            mobile_phone="13700137000", email="wang@example.com", emergency_contact_phone="13600136000")]  # fmt: skip
    import_accounts(engine=engine, path=write_csv(tmp_path / "a.csv", rows), actor="loader", now=NOW)
    with UnitOfWork(engine) as uow:
        add_user(uow.session, actor="setup", username="admin", roles=["administrator"], now=NOW)
        for name, role in [("cara", "compliance_officer"), ("col", "collector"), ("aud", "auditor"),
                           ("sup", "supervisor"), ("lee", "legal")]:  # fmt: skip
            add_user(uow.session, actor="admin", username=name, roles=[role], now=NOW)
        # Pay off A2 entirely so its debtor may be erased.
        a2 = uow.session.scalar(select(tables.Account.id).where(tables.Account.external_id == "A2"))
        row = balances_frame(uow.connection, as_of=AS_OF, account_ids=[a2]).row(0, named=True)
        uow.session.add(tables.LedgerEntry(
            account_id=a2, key="payoff", kind="payment", effective_on=AS_OF, posted_at=NOW,
            **{k: -v for k, v in row.items() if k.endswith("_minor")},
        ))  # fmt: skip
        uow.commit()
    return engine


def add_contact(
    engine: Engine, debtor: str, *, channel: str, endpoint: str | None, notes: str | None
) -> None:
    """A logged outbound contact of ``debtor`` (its endpoint sealed as the contact log seals it)."""
    kind = PersonalKind.ADDRESS if channel == "letter" else PersonalKind.PHONE
    with UnitOfWork(engine) as uow:
        debtor_pk = uow.session.scalar(select(tables.Debtor.id).where(tables.Debtor.external_id == debtor))
        uow.session.add(ContactRecord(
            debtor_id=debtor_pk, at=NOW, channel=channel, direction="outbound", recipient="debtor",
            made_by="human", agent="col", outcome="no_answer", notes=notes,
            endpoint=None if endpoint is None else personal.seal(kind, endpoint),
        ))  # fmt: skip
        uow.commit()


def snapshot(engine: Engine) -> dict[str, Any]:
    """Every row of the tables a privacy action could touch."""
    names = ["debtors", "persons", "contact_points", "accounts", "ledger_entries", "audit_events",
             "erasures", "legal_holds", "consents", "data_agreements", "key_rotation_runs", "case_contacts"]  # fmt: skip
    with engine.connect() as conn:
        return {n: conn.execute(text(f"SELECT * FROM {n} ORDER BY 1")).all() for n in names}


def test_import_stores_tokens_and_blind_indexes(book: Engine, ring: KeyRing) -> None:
    with book.connect() as conn:
        name, national_id, lookup = conn.execute(
            select(tables.Debtor.name, tables.Debtor.national_id, tables.Debtor.national_id_lookup).where(
                tables.Debtor.external_id == "D1"
            )
        ).one()
        values = conn.execute(select(tables.ContactPoint.value, tables.ContactPoint.lookup)).all()
        dump = " ".join(str(r) for t in ("debtors", "persons", "contact_points")
                        for r in conn.execute(text(f"SELECT * FROM {t}")))  # fmt: skip
    assert name.startswith("v1.k1.") and national_id.startswith("v1.k1.")
    assert ring.decrypt(national_id, context="personal:national_id") == "11010519491231002X"
    assert lookup == ring.blind_index("11010519491231002x", kind="national_id")
    assert all(v.startswith("v1.k1.") and len(k) == 64 for v, k in values)
    for secret in ("张伟", "11010519491231002X", "13800138000", "zhang.wei", "李娜", "13900139000"):
        assert secret.lower() not in dump.lower()


def test_search_by_phone_and_id_through_the_blind_index(book: Engine) -> None:
    with UnitOfWork(book) as uow:
        s = uow.session
        assert service.find_debtors(s, actor="sup", phone="+86 138-0013-8000") == ["D1"]
        assert service.find_debtors(s, actor="sup", phone="13700137000") == ["D2"]
        assert service.find_debtors(s, actor="sup", national_id="110101198001011232") == ["D2"]
        assert service.find_debtors(s, actor="sup", phone="13500000000") == []
        # A collector with nothing assigned finds nobody, even by an exact phone number.
        assert service.find_debtors(s, actor="col", phone="13800138000") == []


def test_reveal_needs_the_permission_and_is_audited(book: Engine) -> None:
    with UnitOfWork(book) as uow:
        masked = service.view_account(uow.session, actor="aud", account_id="A1", as_of=AS_OF, now=LATER)
        assert masked.debtor["national_id"] == "110***********002X"
        before = snapshot(book)
    with UnitOfWork(book) as uow, pytest.raises(PermissionDeniedError, match="reveal_personal_data"):
        service.view_account(uow.session, actor="aud", account_id="A1", as_of=AS_OF, now=LATER, reveal=True)
    assert snapshot(book) == before
    with UnitOfWork(book) as uow:
        shown = service.view_account(
            uow.session, actor="sup", account_id="A1", as_of=AS_OF, now=LATER, reveal=True
        )
        uow.commit()
    assert (shown.debtor["name"], shown.debtor["national_id"]) == ("张伟", "11010519491231002X")
    with book.connect() as conn:
        event = conn.execute(
            select(tables.AuditEvent.actor, tables.AuditEvent.action, tables.AuditEvent.subject_id,
                   tables.AuditEvent.entry).order_by(tables.AuditEvent.id.desc()).limit(1)
        ).one()  # fmt: skip
    event = (*event[:3], decode_entry(event[3]).event())
    assert event[:3] == ("sup", "privacy.personal_data_revealed", "A1")
    assert sorted(event[3]["details"]["fields"]) == ["contact:email", "contact:phone", "name", "national_id"]
    assert "张伟" not in str(event[3])
    # An unassigned collector may not even see the account: it is "not found", not "forbidden".
    with UnitOfWork(book) as uow, pytest.raises(NotFoundError):
        service.view_account(uow.session, actor="col", account_id="A1", as_of=AS_OF, now=LATER)


def test_erasure_keeps_balances_and_the_audit_log(book: Engine, ring: KeyRing) -> None:
    add_contact(book, "D2", channel="call", endpoint="13700137000", notes="spoke to 王芳 at work")
    add_contact(book, "D1", channel="call", endpoint="13800138000", notes="promised Friday")
    with book.connect() as conn:
        balances = balances_frame(conn, as_of=AS_OF)
    before = snapshot(book)
    # Refused: an open balance on A1, then a legal hold on D2; nothing is written either time.
    with UnitOfWork(book) as uow, pytest.raises(service.ErasureRefusedError, match="still has a balance"):
        service.erase_debtor(uow.session, actor="cara", debtor_id="D1", reason="GDPR-REQ-1", now=LATER)
    with UnitOfWork(book) as uow, pytest.raises(PermissionDeniedError):
        service.erase_debtor(uow.session, actor="sup", debtor_id="D2", reason="GDPR-REQ-2", now=LATER)
    assert snapshot(book) == before
    with UnitOfWork(book) as uow:
        hold = service.place_legal_hold(
            uow.session, actor="lee", debtor_id="D2", reason="court case", now=LATER
        )
        uow.commit()
    held = snapshot(book)
    with UnitOfWork(book) as uow, pytest.raises(service.ErasureRefusedError, match="legal hold"):
        service.erase_debtor(uow.session, actor="cara", debtor_id="D2", reason="GDPR-REQ-2", now=LATER)
    assert snapshot(book) == held
    with UnitOfWork(book) as uow:
        service.release_legal_hold(uow.session, actor="lee", hold_id=hold, now=LATER)
        service.erase_debtor(uow.session, actor="cara", debtor_id="D2", reason="GDPR-REQ-2", now=LATER)
        uow.commit()
    after = snapshot(book)
    assert after["audit_events"][: len(held["audit_events"])] == held["audit_events"]
    with book.connect() as conn:
        actions = (
            conn.execute(select(tables.AuditEvent.action).order_by(tables.AuditEvent.id)).scalars().all()
        )
    assert actions[len(held["audit_events"]) :] == ["privacy.legal_hold_released", "privacy.debtor_erased"]
    assert after["ledger_entries"] == held["ledger_entries"] and after["accounts"] == held["accounts"]
    with book.connect() as conn:
        assert balances_frame(conn, as_of=AS_OF).equals(balances)
        d2 = conn.execute(select(tables.Debtor).where(tables.Debtor.external_id == "D2")).one()
        points = conn.execute(
            select(tables.ContactPoint.value, tables.ContactPoint.lookup).where(
                tables.ContactPoint.debtor_id == d2.id
            )
        ).all()
        erased = conn.execute(select(Erasure.basis, Erasure.reason)).all()
    assert (d2.name, d2.national_id, d2.national_id_lookup, d2.employer) == ("[erased]", None, None, None)
    assert set(points) == {("[erased]", None)}
    with book.connect() as conn:
        kept = conn.execute(
            select(ContactRecord.debtor_id, ContactRecord.channel, ContactRecord.outcome,
                   ContactRecord.endpoint, ContactRecord.notes).order_by(ContactRecord.id)
        ).all()  # fmt: skip
    # D2's contact stays as a record of the contact, without endpoint or notes; D1's is untouched.
    first = kept[0]
    assert (first.debtor_id, first.channel, first.outcome, first.endpoint, first.notes) == (
        d2.id, "call", "no_answer", None, None,
    )  # fmt: skip
    assert personal.unseal(PersonalKind.PHONE, kept[1].endpoint) == "13800138000"
    assert kept[1].notes == "promised Friday"
    assert erased == [("request", "GDPR-REQ-2")]
    with UnitOfWork(book) as uow:
        assert service.find_debtors(uow.session, actor="sup", phone="13700137000") == []
    with UnitOfWork(book) as uow, pytest.raises(ConflictError, match="erased already"):
        service.erase_debtor(uow.session, actor="cara", debtor_id="D2", reason="again", now=LATER)


def test_export_is_refused_without_agreement_and_consent(book: Engine, ring: KeyRing) -> None:
    before = snapshot(book)
    with (
        UnitOfWork(book) as uow,
        pytest.raises(PermissionDeniedError, match="no entrusted_processing agreement"),
    ):
        service.export_accounts(uow.session, actor="cara", counterparty="acme", purpose="placement",
                                account_ids=["A1", "A2"], now=LATER)  # fmt: skip
    with UnitOfWork(book) as uow, pytest.raises(PermissionDeniedError, match="export_personal_data"):
        service.export_accounts(uow.session, actor="sup", counterparty="acme", purpose="placement",
                                account_ids=["A1"], now=LATER)  # fmt: skip
    assert snapshot(book) == before
    with UnitOfWork(book) as uow:
        service.add_agreement(uow.session, actor="cara", counterparty="acme", kind="entrusted_processing",
                              jurisdiction="CN", reference="AGR-7", signed_on=AS_OF, now=LATER)  # fmt: skip
        service.add_agreement(uow.session, actor="cara", counterparty="buyer", kind="provision",
                              jurisdiction="CN", reference="SALE-1", signed_on=AS_OF, now=LATER)  # fmt: skip
        uow.commit()
    with UnitOfWork(book) as uow:
        masked = service.export_accounts(uow.session, actor="cara", counterparty="acme", purpose="placement",
                                         account_ids=["A1", "A2"], now=LATER)  # fmt: skip
        uow.commit()
    assert masked.csv_text.splitlines() == [
        "account_id,debtor_id,jurisdiction,currency,principal_minor,name,national_id",
        "A1,D1,CN,CNY,1200000,张*,110***********002X",
        "A2,D2,CN,CNY,1200000,王*,110***********1232",
    ]
    assert masked.key_json is None
    # A sale needs each debtor's separate consent (PIPL art. 23): D1 gave it, D2 did not.
    with UnitOfWork(book) as uow:
        service.record_consent(uow.session, actor="cara", debtor_id="D1", purpose="sale", evidence="REC-1",
                               now=LATER, counterparty="buyer")  # fmt: skip
        uow.commit()
    with (
        UnitOfWork(book) as uow,
        pytest.raises(PermissionDeniedError, match="1 of 2 accounts; A2: no separate consent"),
    ):
        service.export_accounts(uow.session, actor="cara", counterparty="buyer", purpose="sale",
                                account_ids=["A1", "A2"], now=LATER)  # fmt: skip
    with UnitOfWork(book) as uow:
        sealed = service.export_accounts(uow.session, actor="cara", counterparty="buyer", purpose="sale",
                                         account_ids=["A1"], now=LATER, sealed=True)  # fmt: skip
        uow.commit()
    assert sealed.key_json is not None
    export_ring = KeyRing.from_json(sealed.key_json)
    token = sealed.csv_text.splitlines()[1].split(",")[5]
    assert export_ring.decrypt(token, context="export:buyer:name:A1") == "张伟"
    with book.connect() as conn:
        exports = conn.execute(
            select(tables.AuditEvent.subject_id, tables.AuditEvent.entry)
            .where(tables.AuditEvent.action == "privacy.export_made").order_by(tables.AuditEvent.id)
        ).all()  # fmt: skip
        assert conn.execute(select(func.count()).select_from(DataAgreement)).scalar_one() == 2
        assert conn.execute(select(func.count()).select_from(Consent)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(LegalHold)).scalar_one() == 0
    documents = [(s, decode_entry(e).event()) for s, e in exports]
    assert [(s, p["details"]["accounts"], p["details"]["sealed"]) for s, p in documents] == [
        ("acme", 2, False),
        ("buyer", 1, True),
    ]


def test_key_rotation_is_resumable_and_keeps_search_working(book: Engine, ring: KeyRing) -> None:
    add_contact(book, "D1", channel="call", endpoint="13800138000", notes=None)
    add_contact(book, "D1", channel="letter", endpoint="北京市朝阳区建国路1号", notes=None)
    add_contact(book, "D1", channel="visit", endpoint=None, notes=None)
    new_ring = KeyRing.from_json(ring.to_json()).with_new_active_key("k2")
    personal.set_codec(EncryptingCodec(new_ring))
    with UnitOfWork(book) as uow, pytest.raises(PermissionDeniedError, match="manage_keys"):
        service.rotate_keys_batch(uow.session, actor="cara", ring=new_ring, now=LATER)
    results = []
    for _ in range(30):
        with UnitOfWork(book) as uow:
            results.append(service.rotate_keys_batch(uow.session, actor="admin", ring=new_ring, now=LATER,
                                                     batch_rows=1))  # fmt: skip
            uow.commit()
        if results[-1]["done"]:
            break
    assert results[-1]["done"] and len(results) > 3  # one row per batch: several resumed runs
    # 2 debtors x (name, national_id) + 2 emergency contacts + 2 x (mobile, email, contact's phone)
    # + 2 logged contacts with an endpoint
    assert results[-1]["total"] == 2 * 2 + 2 + 2 * 3 + 2
    assert len({r["run"] for r in results}) == 1
    with book.connect() as conn:
        tokens = [
            *conn.execute(select(tables.Debtor.name)).scalars(),
            *conn.execute(select(tables.ContactPoint.value)).scalars(),
        ]
    assert all(t.startswith("v1.k2.") for t in tokens)
    with book.connect() as conn:
        endpoints = conn.execute(select(ContactRecord.endpoint).order_by(ContactRecord.id)).scalars().all()
    assert endpoints[2] is None and all(e.startswith("v1.k2.") for e in endpoints[:2])
    assert personal.unseal(PersonalKind.PHONE, endpoints[0]) == "13800138000"
    assert personal.unseal(PersonalKind.ADDRESS, endpoints[1]) == "北京市朝阳区建国路1号"
    with UnitOfWork(book) as uow:
        assert service.find_debtors(uow.session, actor="sup", phone="13800138000") == ["D1"]
        view = service.view_account(
            uow.session, actor="sup", account_id="A1", as_of=AS_OF, now=LATER, reveal=True
        )
    assert view.debtor["name"] == "张伟"
    assert personal.unseal(PersonalKind.NAME, tokens[0]) in {"张伟", "王芳"}
