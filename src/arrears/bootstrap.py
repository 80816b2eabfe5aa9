"""Composition root: settings in, wired adapters out. Entry points call this; nothing else builds engines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from arrears.config import Settings
from arrears.privacy.crypto import KeyRing
from arrears.store import personal
from arrears.store.db import make_engine, require_current_schema

__all__ = ["engine", "install_personal_codec", "key_ring", "open_engine", "settings"]


def settings() -> Settings:
    """Settings from the environment (cheap; read afresh so tests and tools can change them)."""
    return Settings()


def key_ring(config: Settings | None = None) -> KeyRing | None:
    """The field-encryption key ring configured for this deployment, or None when there is none.

    ``ARREARS_FIELD_KEYS`` (JSON, or ``@path``) wins over ``ARREARS_FIELD_KEYS_FILE``.
    """

    config = config or settings()
    if config.field_keys is not None and config.field_keys.get_secret_value().strip():
        value = config.field_keys.get_secret_value().strip()
        if value.startswith("@"):
            return KeyRing.from_file(value[1:])
        return KeyRing.from_json(value, source="$ARREARS_FIELD_KEYS")
    if config.field_keys_file is not None:
        return KeyRing.from_file(config.field_keys_file)
    return None


def install_personal_codec(config: Settings | None = None) -> personal.PersonalCodec:
    """Install how personal data is stored for this process, by the one rule of docs/audit-and-privacy.md.

    Keys configured → AES-256-GCM with blind indexes. No keys and
    ``ARREARS_ALLOW_PLAINTEXT_PERSONAL_DATA=1`` → plaintext (development machines). No keys otherwise →
    every read and write of personal data is refused with a message saying how to configure keys.
    """
    config = config or settings()
    ring = key_ring(config)
    chosen: personal.PersonalCodec
    if ring is not None:
        chosen = personal.EncryptingCodec(ring)
    elif config.allow_plaintext_personal_data:
        chosen = personal.PlainCodec()
    else:
        chosen = personal.RefusingCodec()
    personal.set_codec(chosen)
    return chosen


def engine(*, check_schema: bool = True) -> Engine:
    """The engine for the configured database; by default refuses a database that is not upgraded.

    It does not install the personal-data codec: a command opens its engine with :func:`open_engine`,
    which does; a long-running process (API server, worker) calls :func:`install_personal_codec` once
    at start.
    """
    config = settings()
    built = make_engine(config.database_url)
    if check_schema:
        try:
            require_current_schema(built)
        except Exception:
            built.dispose()
            raise
    return built


@contextmanager
def open_engine(*, check_schema: bool = True) -> Iterator[Engine]:
    """An engine for one command, with the personal-data codec of the settings installed for it.

    The codec is chosen by :func:`install_personal_codec` before the database is touched (a key file
    that cannot be read stops the command) and the previous one is put back when the block ends, as
    are the engine's connections closed.
    """
    previous = personal.codec()
    install_personal_codec()
    try:
        built = engine(check_schema=check_schema)
        try:
            yield built
        finally:
            built.dispose()
    finally:
        personal.set_codec(previous)
