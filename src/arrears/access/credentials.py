"""Credentials: argon2 passwords with login throttling, hashed API keys, signed bearer tokens.

* Passwords are hashed with argon2id (``argon2-cffi``, its RFC 9106 low-memory defaults). After
  ``max_failures`` wrong passwords in a row the user is locked for ``lock_minutes``; a correct password
  while locked is refused too, so guessing gains nothing.
* An API key is ``ark_<prefix>_<secret>``: 128 random bits of secret, shown once; the database keeps the
  prefix (to find the row) and the SHA-256 of the whole key. A slow hash adds nothing for a random
  128-bit secret, and SHA-256 keeps every API request cheap.
* Bearer tokens are JWTs (RFC 7519, ``PyJWT``) signed with HMAC-SHA-256 under ``ARREARS_TOKEN_SECRET``
  (RFC 6750 bearer usage), carrying the user name, issue and expiry times and a unique id.

Login attempts are written whether they succeed or not: :func:`login` returns an outcome for the
caller to commit, and the caller then refuses a failed attempt.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Final

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.access.permissions import Permission
from arrears.access.service import Principal, principal, require
from arrears.access.tables import ApiKey, User
from arrears.audit.log import record_event
from arrears.errors import ConfigurationError, NotFoundError, PermissionDeniedError, ValidationError

__all__ = [
    "LoginOutcome",
    "TokenClaims",
    "authenticate_api_key",
    "create_api_key",
    "hash_password",
    "issue_token",
    "login",
    "revoke_api_key",
    "set_password",
    "verify_password",
    "verify_token",
]

MIN_PASSWORD_LENGTH: Final = 12
_HASHER: Final = PasswordHasher()
_KEY_PREFIX: Final = "ark"
_ISSUER: Final = "arrears"
_ALGORITHM: Final = "HS256"


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (refuses one shorter than 12 characters)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password")
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; never raises for a wrong or malformed hash."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def set_password(session: Session, *, actor: str, username: str, password: str, now: dt.datetime) -> None:
    """Set a password: one's own, or anyone's with ``manage_users``. Clears a lock."""
    if actor != username:
        require(session, actor, Permission.MANAGE_USERS)
    else:
        principal(session, actor)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user {username!r}", username=username)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.updated_at = now
    record_event(
        session, actor=actor, action="access.password_set", subject_type="user", subject_id=username, at=now
    )
    session.flush()


@dataclass(frozen=True)
class LoginOutcome:
    """The result of a login attempt: the user on success, else why not (``bad_credentials``, ``locked``)."""

    principal: Principal | None
    reason: str | None = None
    locked_until: dt.datetime | None = None

    def raise_if_refused(self) -> Principal:
        """The principal, or :class:`PermissionDeniedError` (commit the attempt first)."""
        if self.principal is not None:
            return self.principal
        if self.reason == "locked":
            raise PermissionDeniedError(
                f"too many failed logins; try again after {self.locked_until:%Y-%m-%d %H:%M} UTC",
                reason="locked",
            )
        raise PermissionDeniedError("wrong user name or password", reason="bad_credentials")


def login(
    session: Session,
    *,
    username: str,
    password: str,
    now: dt.datetime,
    max_failures: int = 5,
    lock_minutes: int = 15,
) -> LoginOutcome:
    """Check a password, counting failures and locking after ``max_failures`` in a row.

    Every attempt writes an audit event (``access.login_succeeded`` / ``access.login_failed``), and the
    outcome must be committed by the caller even when it is a refusal, or throttling would not hold.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        # The same work and answer as a wrong password, so user names cannot be probed.
        verify_password(_DUMMY_HASH, password)
        record_event(
            session, actor=username, action="access.login_failed", subject_type="user", subject_id=username,
            at=now, details={"reason": "unknown_user"},
        )  # fmt: skip
        return LoginOutcome(None, "bad_credentials")
    if user.locked_until is not None and user.locked_until > now:
        record_event(
            session, actor=username, action="access.login_failed", subject_type="user", subject_id=username,
            at=now, details={"reason": "locked"},
        )  # fmt: skip
        return LoginOutcome(None, "locked", user.locked_until)
    if user.password_hash is None or not verify_password(user.password_hash, password):
        user.failed_logins += 1
        user.updated_at = now
        details: dict[str, Any] = {"reason": "bad_credentials", "failures": user.failed_logins}
        outcome = LoginOutcome(None, "bad_credentials")
        if user.failed_logins >= max_failures:
            user.locked_until = now + dt.timedelta(minutes=lock_minutes)
            user.failed_logins = 0
            details["locked_until"] = user.locked_until
            outcome = LoginOutcome(None, "locked", user.locked_until)
        record_event(
            session, actor=username, action="access.login_failed", subject_type="user", subject_id=username,
            at=now, details=details,
        )  # fmt: skip
        session.flush()
        return outcome
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    user.updated_at = now
    record_event(
        session, actor=username, action="access.login_succeeded", subject_type="user", subject_id=username,
        at=now, details={"method": "password"},
    )  # fmt: skip
    session.flush()
    return LoginOutcome(principal(session, username))


_DUMMY_HASH: Final = _HASHER.hash(secrets.token_urlsafe(16))


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def create_api_key(
    session: Session,
    *,
    actor: str,
    username: str,
    name: str,
    now: dt.datetime,
    expires_at: dt.datetime | None = None,
) -> str:
    """A new API key for ``username`` (one's own, or anyone's with ``manage_users``).

    Returns the key — the only time it is ever available; only its hash is stored.
    """
    if actor != username:
        require(session, actor, Permission.MANAGE_USERS)
    target = principal(session, username)
    if expires_at is not None and expires_at <= now:
        raise ValidationError("the expiry must be in the future", field="expires_at")
    prefix = secrets.token_hex(6)
    key = f"{_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(16)}"
    session.add(
        ApiKey(user_id=target.user_id, prefix=prefix, secret_hash=_key_hash(key), name=name[:64],
               created_at=now, expires_at=expires_at)
    )  # fmt: skip
    record_event(
        session, actor=actor, action="access.api_key_created", subject_type="user", subject_id=username,
        at=now, details={"prefix": prefix, "label": name[:64], "expires_at": expires_at},
    )  # fmt: skip
    session.flush()
    return key


def revoke_api_key(session: Session, *, actor: str, prefix: str, now: dt.datetime) -> None:
    """Revoke the API key with ``prefix`` (its owner, or anyone with ``manage_users``)."""
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None:
        raise NotFoundError(f"no API key {prefix!r}", prefix=prefix)
    owner = session.get_one(User, row.user_id)
    if actor != owner.username:
        require(session, actor, Permission.MANAGE_USERS)
    row.revoked_at = now
    record_event(
        session, actor=actor, action="access.api_key_revoked", subject_type="user", subject_id=owner.username,
        at=now, details={"prefix": prefix},
    )  # fmt: skip
    session.flush()


def authenticate_api_key(session: Session, key: str, *, now: dt.datetime) -> Principal:
    """The user an API key belongs to; PermissionDeniedError for an unknown, revoked or expired key."""
    refused = PermissionDeniedError("the API key is not valid", reason="bad_api_key")
    parts = key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != _KEY_PREFIX:
        raise refused
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if row is None or not hmac.compare_digest(row.secret_hash, _key_hash(key.strip())):
        raise refused
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise refused
    owner = session.get_one(User, row.user_id)
    return principal(session, owner.username)


@dataclass(frozen=True)
class TokenClaims:
    """What a verified bearer token says."""

    username: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    token_id: str


def _secret_bytes(secret: str) -> bytes:
    try:
        key = base64.b64decode(secret, validate=True)
    except binascii.Error:
        key = secret.encode("utf-8")
    if len(key) < 32:
        raise ConfigurationError(
            "the token secret must be at least 32 bytes (base64); create one with "
            "`python -c 'import secrets,base64;print(base64.b64encode(secrets.token_bytes(32)).decode())'`",
            setting="token_secret",
        )
    return key


def issue_token(username: str, *, secret: str, now: dt.datetime, ttl: dt.timedelta) -> str:
    """A signed bearer token for ``username`` valid from ``now`` for ``ttl``."""
    claims = {
        "iss": _ISSUER,
        "sub": username,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, _secret_bytes(secret), algorithm=_ALGORITHM)


def verify_token(token: str, *, secret: str, now: dt.datetime) -> TokenClaims:
    """The claims of a token this installation signed and that has not expired at ``now``.

    Anything else — another signature, algorithm or issuer, an expired or malformed token — is a
    :class:`PermissionDeniedError`.
    """
    key = _secret_bytes(secret)
    try:
        # Expiry is checked against the ``now`` passed in (no clock read here), so verify it below.
        claims = jwt.decode(
            token, key, algorithms=[_ALGORITHM], issuer=_ISSUER,
            options={"verify_exp": False, "require": ["exp", "iat", "sub", "jti", "iss"]},
        )  # fmt: skip
    except jwt.PyJWTError as exc:
        raise PermissionDeniedError("the bearer token is not valid", reason="bad_token") from exc
    expires_at = dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC)
    if expires_at <= now:
        raise PermissionDeniedError("the bearer token has expired; sign in again", reason="expired_token")
    return TokenClaims(
        username=str(claims["sub"]),
        issued_at=dt.datetime.fromtimestamp(int(claims["iat"]), dt.UTC),
        expires_at=expires_at,
        token_id=str(claims["jti"]),
    )
