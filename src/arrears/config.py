"""Settings: one typed object, read from ``ARREARS_*`` environment variables once and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Wiring for one deployment. Rules, products and strategies are data files, not settings."""

    model_config = SettingsConfigDict(env_prefix="ARREARS_", extra="ignore")

    database_url: str = Field(default="sqlite:///arrears.db", description="SQLAlchemy URL")
    import_batch_rows: int = Field(default=20_000, ge=100, description="rows per bulk write during import")
    data_dir: Path = Field(default=Path("."), description="where rejects files and exports are written")
    actor: str = Field(default="cli", description="the user the CLI acts as")
    broker_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Celery broker for distributed cycle runs (redis://... or amqp://guest:guest@host//)",
    )
    result_backend: str = Field(default="redis://127.0.0.1:6379/1", description="Celery result backend")
    audit_signing_key_file: Path | None = Field(
        default=None, description="PEM file of the Ed25519 key that signs audit tree heads"
    )
    strategy: str | None = Field(
        default=None,
        description="id of the published strategy the daily cycle runs (needed when several exist)",
    )
    collector_type: str = Field(
        default="first_party_creditor",
        description="who collects, for the compliance rules: first_party_creditor, third_party_collector, "
        "debt_buyer or collection_agency",
    )

    # --- personal data (keys live in a file or the environment, never in the database) ---
    field_keys: SecretStr | None = Field(
        default=None,
        description="the field-encryption key ring as JSON, or @/path/to/keys.json (ARREARS_FIELD_KEYS)",
    )
    field_keys_file: Path | None = Field(
        default=None, description="path of the key ring file written by `arrears privacy keygen`"
    )
    allow_plaintext_personal_data: bool = Field(
        default=False,
        description="development machines only: store personal data in plaintext when no keys are set",
    )
    retention_policy_file: Path | None = Field(
        default=None, description="retention policy YAML; the built-in policy when unset"
    )

    # --- access ---
    login_max_failures: int = Field(default=5, ge=1, description="failed logins before the user is locked")
    login_lock_minutes: int = Field(default=15, ge=1, description="how long a locked user stays locked")
    token_secret: SecretStr | None = Field(
        default=None,
        description="HMAC secret (32+ bytes, base64) signing bearer tokens (ARREARS_TOKEN_SECRET)",
    )
    token_ttl_minutes: int = Field(default=60, ge=1, le=24 * 60, description="lifetime of a bearer token")
