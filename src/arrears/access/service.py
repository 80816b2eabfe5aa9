"""Users and roles, the permission check every service makes, and the accounts a user may see.

Every function that changes something takes the acting user's name (``actor``), checks the actor's
permission with :func:`require`, and writes its audit event in the caller's transaction. A refused
call raises before it writes anything.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.orm import Session

from arrears.access.permissions import Permission, Role, permissions_of
from arrears.access.tables import AccountAssignment, User, UserRole
from arrears.audit.log import record_event
from arrears.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from arrears.store import tables

__all__ = [
    "Principal",
    "add_user",
    "assign_account",
    "grant_role",
    "list_users",
    "principal",
    "require",
    "revoke_role",
    "visible_accounts_filter",
]

_USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


@dataclass(frozen=True)
class Principal:
    """A signed-in user as the services see it: name, agency, roles and what they grant."""

    user_id: int
    username: str
    agency: str | None
    roles: frozenset[Role]
    permissions: frozenset[Permission]

    def can(self, permission: Permission) -> bool:
        """Whether this user holds ``permission``."""
        return permission in self.permissions


def _user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _roles(session: Session, user_id: int) -> frozenset[Role]:
    rows = session.scalars(select(UserRole.role).where(UserRole.user_id == user_id))
    return frozenset(Role(r) for r in rows)


def principal(session: Session, username: str) -> Principal:
    """The active user ``username`` with roles and permissions; PermissionDeniedError if unknown."""
    user = _user(session, username)
    if user is None or not user.is_active:
        raise PermissionDeniedError(
            f"{username!r} is not an active arrears user; ask an administrator to add you "
            "(`arrears users add`), and act as yourself with ARREARS_ACTOR or --as",
            actor=username,
        )
    roles = _roles(session, user.id)
    return Principal(user.id, user.username, user.agency, roles, permissions_of(roles))


def require(session: Session, actor: str, permission: Permission) -> Principal:
    """The actor, if they hold ``permission``; otherwise :class:`PermissionDeniedError` (exit 6)."""
    who = principal(session, actor)
    if not who.can(permission):
        roles = ", ".join(sorted(who.roles)) or "no role"
        raise PermissionDeniedError(
            f"{actor!r} ({roles}) may not do this: it needs the {permission.value!r} permission",
            actor=actor,
            permission=permission.value,
        )
    return who


def visible_accounts_filter(who: Principal) -> ColumnElement[bool]:
    """A WHERE clause on ``accounts`` keeping only the accounts ``who`` may see.

    ``view_all_accounts`` sees every account; a collector sees the accounts assigned to them; an
    agency user those placed with their agency; anyone else nothing. Case and queue queries add it:
    ``select(Account).where(visible_accounts_filter(who))``.
    """
    if who.can(Permission.VIEW_ALL_ACCOUNTS):
        return true()
    if not who.can(Permission.VIEW_ACCOUNTS):
        return false()
    a = AccountAssignment
    current = a.ended_at.is_(None)
    if Role.AGENCY_COLLECTOR in who.roles:
        if who.agency is None:
            return false()
        return tables.Account.id.in_(select(a.account_id).where(current, a.agency == who.agency))
    return tables.Account.id.in_(select(a.account_id).where(current, a.user_id == who.user_id))


def _valid_username(username: str) -> str:
    name = username.strip()
    if not _USERNAME.fullmatch(name):
        raise ValidationError(
            f"user name {username!r}: use 2-64 lower-case letters, digits, '.', '_' or '-'", field="username"
        )
    return name


def _parse_roles(roles: list[str]) -> list[Role]:
    parsed = []
    for role in roles:
        try:
            parsed.append(Role(role.strip()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValidationError(f"unknown role {role!r}; roles are {known}", field="role") from None
    if not parsed:
        raise ValidationError("give at least one role", field="role")
    return parsed


def add_user(
    session: Session,
    *,
    actor: str,
    username: str,
    roles: list[str],
    now: dt.datetime,
    display_name: str | None = None,
    agency: str | None = None,
) -> Principal:
    """Add a user with roles. Needs ``manage_users`` — except the very first user of an empty
    installation, who may be added by anyone provided they are an administrator (the bootstrap rule)."""
    name = _valid_username(username)
    wanted = _parse_roles(roles)
    first = session.scalar(select(func.count()).select_from(User)) == 0
    if first:
        if Role.ADMINISTRATOR not in wanted:
            raise PermissionDeniedError(
                "the first user of an installation must be an administrator (--role administrator)",
                actor=actor,
            )
    else:
        require(session, actor, Permission.MANAGE_USERS)
    if Role.AGENCY_COLLECTOR in wanted and not agency:
        raise ValidationError("an agency_collector needs --agency", field="agency")
    if _user(session, name) is not None:
        raise ConflictError(f"user {name!r} exists already", username=name)
    user = User(
        username=name, display_name=display_name, agency=agency, is_active=True, failed_logins=0,
        created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(user)
    session.flush()
    for role in dict.fromkeys(wanted):
        session.add(UserRole(user_id=user.id, role=role.value, granted_at=now, granted_by=actor))
    record_event(
        session, actor=actor, action="access.user_added", subject_type="user", subject_id=name, at=now,
        after={"roles": sorted(r.value for r in wanted), "agency": agency},
        details={"bootstrap_administrator": first},
    )  # fmt: skip
    session.flush()
    return principal(session, name)


def grant_role(session: Session, *, actor: str, username: str, role: str, now: dt.datetime) -> Principal:
    """Give ``username`` another role (``manage_users``)."""
    require(session, actor, Permission.MANAGE_USERS)
    target = principal(session, username)
    (new,) = _parse_roles([role])
    if new in target.roles:
        return target
    if new is Role.AGENCY_COLLECTOR and target.agency is None:
        raise ValidationError("an agency_collector needs an agency; add the user with --agency", field="role")
    session.add(UserRole(user_id=target.user_id, role=new.value, granted_at=now, granted_by=actor))
    record_event(
        session, actor=actor, action="access.role_granted", subject_type="user", subject_id=username, at=now,
        before={"roles": sorted(target.roles)}, after={"roles": sorted({*target.roles, new})},
    )  # fmt: skip
    session.flush()
    return principal(session, username)


def revoke_role(session: Session, *, actor: str, username: str, role: str, now: dt.datetime) -> Principal:
    """Take a role from ``username`` (``manage_users``); the last administrator cannot lose the role."""
    require(session, actor, Permission.MANAGE_USERS)
    target = principal(session, username)
    (old,) = _parse_roles([role])
    if old not in target.roles:
        raise NotFoundError(f"{username!r} does not have the role {old.value!r}", username=username)
    if old is Role.ADMINISTRATOR:
        admins = session.scalar(
            select(func.count())
            .select_from(UserRole)
            .join(User, User.id == UserRole.user_id)
            .where(UserRole.role == Role.ADMINISTRATOR.value, User.is_active.is_(True))
        )
        if admins == 1:
            raise ConflictError("this is the last administrator; grant the role to someone else first")
    row = session.get_one(UserRole, (target.user_id, old.value))
    session.delete(row)
    record_event(
        session, actor=actor, action="access.role_revoked", subject_type="user", subject_id=username, at=now,
        before={"roles": sorted(target.roles)}, after={"roles": sorted(target.roles - {old})},
    )  # fmt: skip
    session.flush()
    return principal(session, username)


def list_users(session: Session, *, actor: str) -> list[dict[str, object]]:
    """Every user with roles, agency and lock state (``manage_users``)."""
    require(session, actor, Permission.MANAGE_USERS)
    out: list[dict[str, object]] = []
    for user in session.scalars(select(User).order_by(User.username)):
        out.append(
            {
                "username": user.username,
                "display_name": user.display_name,
                "agency": user.agency,
                "roles": sorted(_roles(session, user.id)),
                "is_active": user.is_active,
                "has_password": user.password_hash is not None,
                "locked_until": user.locked_until,
                "last_login_at": user.last_login_at,
            }
        )
    return out


def assign_account(
    session: Session,
    *,
    actor: str,
    account_id: str,
    now: dt.datetime,
    username: str | None = None,
    agency: str | None = None,
) -> None:
    """Assign an account to a collector or place it with an agency (``assign_accounts``).

    The previous current assignment of the same kind (collector or agency) ends at ``now``.
    """
    require(session, actor, Permission.ASSIGN_ACCOUNTS)
    if (username is None) == (agency is None):
        raise ValidationError("assign to exactly one of a user or an agency", field="assignee")
    account = session.scalar(select(tables.Account).where(tables.Account.external_id == account_id))
    if account is None:
        raise NotFoundError(f"no account {account_id!r}", account=account_id)
    user_id = None
    if username is not None:
        user_id = principal(session, username).user_id
    a = AccountAssignment
    kind = a.user_id.is_not(None) if username is not None else a.agency.is_not(None)
    for previous in session.scalars(
        select(a).where(a.account_id == account.id, a.ended_at.is_(None), kind).order_by(a.id)
    ):
        previous.ended_at = now
    session.add(AccountAssignment(account_id=account.id, user_id=user_id, agency=agency, assigned_at=now))
    record_event(
        session, actor=actor, action="access.account_assigned", subject_type="account", subject_id=account_id,
        at=now, after={"user": username, "agency": agency},
    )  # fmt: skip
    session.flush()
