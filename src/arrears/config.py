"""Settings: one typed object, read from ``ARREARS_*`` environment variables once and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Wiring for one deployment. Rules, products and strategies are data files, not settings."""

    model_config = SettingsConfigDict(env_prefix="ARREARS_", extra="ignore")

    database_url: str = Field(default="sqlite:///arrears.db", description="SQLAlchemy URL")
    import_batch_rows: int = Field(default=20_000, ge=100, description="rows per bulk write during import")
    data_dir: Path = Field(default=Path("."), description="where rejects files and exports are written")
    actor: str = Field(default="cli", description="the user the CLI acts as")
