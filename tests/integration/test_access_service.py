"""Users, roles, credentials and account visibility on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from arrears.access import credentials
from arrears.access.permissions import Permission
from arrears.access.service import (
    add_user,
    assign_account,
    grant_role,
    list_users,
    principal,
    require,
    revoke_role,
    visible_accounts_filter,
)
from arrears.audit.entry import decode_entry
from arrears.errors import ConflictError, PermissionDeniedError, ValidationError
from arrears.portfolio.accounts_import import import_accounts
from arrears.store import tables
from arrears.store.db import UnitOfWork
from tests.integration.test_import_accounts import NOW, good_row, write_csv

SECRET = base64.b64encode(b"k" * 32).decode()


def rows(engine: Engine) -> dict[str, Any]:
    names = ["users", "user_roles", "api_keys", "account_assignments", "audit_events"]
    with engine.connect() as conn:
        return {n: conn.execute(text(f"SELECT * FROM {n} ORDER BY 1")).all() for n in names}


def test_first_administrator_then_permissions(engine: Engine) -> None:
    with UnitOfWork(engine) as uow, pytest.raises(PermissionDeniedError, match="must be an administrator"):
        add_user(uow.session, actor="anyone", username="bob", roles=["collector"], now=NOW)
    assert rows(engine)["users"] == []
    with UnitOfWork(engine) as uow:
        admin = add_user(uow.session, actor="installer", username="admin", roles=["administrator"], now=NOW)
        uow.commit()
    assert admin.can(Permission.MANAGE_USERS) and not admin.can(Permission.REVEAL_PERSONAL_DATA)
    before = rows(engine)
    # Once a user exists the bootstrap rule is closed: only manage_users may add users.
    with UnitOfWork(engine) as uow, pytest.raises(PermissionDeniedError, match="not an active arrears user"):
        add_user(uow.session, actor="installer", username="eve", roles=["administrator"], now=NOW)
    with UnitOfWork(engine) as uow:
        add_user(uow.session, actor="admin", username="aud", roles=["auditor"], now=NOW)
        uow.commit()
    before = rows(engine)
    with (
        UnitOfWork(engine) as uow,
        pytest.raises(PermissionDeniedError, match="'aud' \\(auditor\\) may not do this"),
    ):
        add_user(uow.session, actor="aud", username="eve", roles=["collector"], now=NOW)
    with UnitOfWork(engine) as uow, pytest.raises(PermissionDeniedError):
        grant_role(uow.session, actor="aud", username="aud", role="administrator", now=NOW)
    with UnitOfWork(engine) as uow, pytest.raises(ValidationError, match="unknown role 'boss'"):
        add_user(uow.session, actor="admin", username="eve", roles=["boss"], now=NOW)
    with UnitOfWork(engine) as uow, pytest.raises(ValidationError, match="needs --agency"):
        add_user(uow.session, actor="admin", username="eve", roles=["agency_collector"], now=NOW)
    with UnitOfWork(engine) as uow, pytest.raises(ConflictError, match="last administrator"):
        revoke_role(uow.session, actor="admin", username="admin", role="administrator", now=NOW)
    assert rows(engine) == before  # every refusal above left nothing behind
    with UnitOfWork(engine) as uow:
        grant_role(uow.session, actor="admin", username="aud", role="read_only", now=NOW)
        revoke_role(uow.session, actor="admin", username="aud", role="auditor", now=NOW)
        listed = list_users(uow.session, actor="admin")
        uow.commit()
    assert [(u["username"], u["roles"]) for u in listed] == [
        ("admin", ["administrator"]),
        ("aud", ["read_only"]),
    ]
    with engine.connect() as conn:
        actions = (
            conn.execute(select(tables.AuditEvent.action).order_by(tables.AuditEvent.id)).scalars().all()
        )
    assert actions == ["access.user_added", "access.user_added", "access.role_granted", "access.role_revoked"]


def test_login_throttling_and_passwords(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        add_user(uow.session, actor="x", username="admin", roles=["administrator"], now=NOW)
        with pytest.raises(ValidationError, match="at least 12"):
            credentials.set_password(uow.session, actor="admin", username="admin", password="short", now=NOW)
        credentials.set_password(
            uow.session, actor="admin", username="admin", password="correct horse battery", now=NOW
        )
        uow.commit()
    with engine.connect() as conn:
        stored = [decode_entry(e).event() for e in conn.execute(select(tables.AuditEvent.entry)).scalars()]
        hashed = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert hashed.startswith("$argon2id$") and "correct horse" not in str(stored)

    def attempt(password: str, at: dt.datetime) -> credentials.LoginOutcome:
        with UnitOfWork(engine) as uow:
            outcome = credentials.login(uow.session, username="admin", password=password, now=at,
                                        max_failures=3, lock_minutes=15)  # fmt: skip
            uow.commit()
        return outcome

    assert [attempt("wrong", NOW).reason for _ in range(2)] == ["bad_credentials", "bad_credentials"]
    third = attempt("wrong", NOW)
    assert (third.reason, third.locked_until) == ("locked", NOW + dt.timedelta(minutes=15))
    # While locked even the right password is refused; after the lock it works and clears the count.
    assert attempt("correct horse battery", NOW + dt.timedelta(minutes=14)).reason == "locked"
    with pytest.raises(PermissionDeniedError, match="try again after"):
        attempt("correct horse battery", NOW + dt.timedelta(minutes=14)).raise_if_refused()
    ok = attempt("correct horse battery", NOW + dt.timedelta(minutes=16))
    assert ok.principal is not None and ok.principal.username == "admin"
    assert attempt("nobody", NOW).reason == "bad_credentials"
    with UnitOfWork(engine) as uow:
        unknown = credentials.login(uow.session, username="ghost", password="x" * 12, now=NOW)
    assert unknown.reason == "bad_credentials"
    with engine.connect() as conn:
        actions = conn.execute(
            select(tables.AuditEvent.action).where(tables.AuditEvent.action.like("access.login%"))
            .order_by(tables.AuditEvent.id)
        ).scalars().all()  # fmt: skip
    assert actions == ["access.login_failed"] * 5 + ["access.login_succeeded", "access.login_failed"]


def test_api_keys_are_hashed_and_revocable(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        add_user(uow.session, actor="x", username="admin", roles=["administrator"], now=NOW)
        add_user(uow.session, actor="admin", username="svc", roles=["read_only"], now=NOW)
        key = credentials.create_api_key(uow.session, actor="admin", username="svc", name="reports", now=NOW)
        uow.commit()
    with engine.connect() as conn:
        prefix, stored = conn.execute(text("SELECT prefix, secret_hash FROM api_keys")).one()
    assert key.startswith(f"ark_{prefix}_") and key not in stored and len(stored) == 64
    with UnitOfWork(engine) as uow:
        assert credentials.authenticate_api_key(uow.session, key, now=NOW).username == "svc"
        for bad in (key[:-1] + ("A" if key[-1] != "A" else "B"), "ark_nope_x", "garbage"):
            with pytest.raises(PermissionDeniedError, match="API key is not valid"):
                credentials.authenticate_api_key(uow.session, bad, now=NOW)
        with pytest.raises(PermissionDeniedError):
            credentials.create_api_key(uow.session, actor="svc", username="admin", name="x", now=NOW)
        credentials.revoke_api_key(uow.session, actor="svc", prefix=prefix, now=NOW)
        uow.commit()
    with UnitOfWork(engine) as uow, pytest.raises(PermissionDeniedError):
        credentials.authenticate_api_key(uow.session, key, now=NOW)


def test_bearer_tokens() -> None:
    token = credentials.issue_token("admin", secret=SECRET, now=NOW, ttl=dt.timedelta(minutes=60))
    claims = credentials.verify_token(token, secret=SECRET, now=NOW + dt.timedelta(minutes=59))
    assert (claims.username, claims.issued_at, claims.expires_at) == (
        "admin",
        NOW,
        NOW + dt.timedelta(hours=1),
    )
    with pytest.raises(PermissionDeniedError, match="expired"):
        credentials.verify_token(token, secret=SECRET, now=NOW + dt.timedelta(minutes=60))
    other = base64.b64encode(b"o" * 32).decode()
    with pytest.raises(PermissionDeniedError, match="not valid"):
        credentials.verify_token(token, secret=other, now=NOW)
    head, body, sig = token.split(".")
    with pytest.raises(PermissionDeniedError, match="not valid"):
        credentials.verify_token(f"{head}.{body}x.{sig}", secret=SECRET, now=NOW)
    with pytest.raises(PermissionDeniedError, match="not valid"):  # alg=none is never accepted
        credentials.verify_token(f"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{body}.", secret=SECRET, now=NOW)


def test_visible_accounts_by_role(engine: Engine, tmp_path: Path) -> None:
    import_accounts(engine=engine, path=write_csv(tmp_path / "a.csv", [good_row("A1"), good_row("A2"), good_row("A3")]),
                    actor="loader", now=NOW)  # fmt: skip
    with UnitOfWork(engine) as uow:
        s = uow.session
        add_user(s, actor="x", username="admin", roles=["administrator"], now=NOW)
        add_user(s, actor="admin", username="col", roles=["collector"], now=NOW)
        add_user(s, actor="admin", username="col2", roles=["collector"], now=NOW)
        add_user(s, actor="admin", username="agent", roles=["agency_collector"], agency="acme", now=NOW)
        add_user(s, actor="admin", username="aud", roles=["auditor"], now=NOW)
        assign_account(s, actor="admin", account_id="A1", username="col", now=NOW)
        assign_account(s, actor="admin", account_id="A2", username="col", now=NOW)
        assign_account(s, actor="admin", account_id="A2", username="col2", now=NOW)  # reassigned
        assign_account(s, actor="admin", account_id="A3", agency="acme", now=NOW)
        with pytest.raises(PermissionDeniedError):
            assign_account(s, actor="col", account_id="A3", username="col", now=NOW)

        def seen(user: str) -> list[str]:
            who = principal(s, user)
            return list(s.scalars(select(tables.Account.external_id).where(visible_accounts_filter(who))
                                  .order_by(tables.Account.external_id)))  # fmt: skip

        assert seen("col") == ["A1"]
        assert seen("col2") == ["A2"]
        assert seen("agent") == ["A3"]
        assert seen("aud") == ["A1", "A2", "A3"]
        assert require(s, "aud", Permission.VIEW_AUDIT_LOG).username == "aud"
