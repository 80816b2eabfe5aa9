"""Composition root: settings in, wired adapters out. Entry points call this; nothing else builds engines."""

from __future__ import annotations

from sqlalchemy import Engine

from arrears.config import Settings
from arrears.store.db import make_engine, require_current_schema

__all__ = ["engine", "settings"]


def settings() -> Settings:
    """Settings from the environment (cheap; read afresh so tests and tools can change them)."""
    return Settings()


def engine(*, check_schema: bool = True) -> Engine:
    """The engine for the configured database; by default refuses a database that is not upgraded."""
    built = make_engine(settings().database_url)
    if check_schema:
        require_current_schema(built)
    return built
