"""The migrations build exactly the schema every table module declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine

# Every table module (the same list src/arrears/store/migrations/env.py loads for autogenerate).
import arrears.access.tables
import arrears.allocation.tables
import arrears.audit.tables
import arrears.cases.tables
import arrears.compliance.tables
import arrears.cycle.tables
import arrears.privacy.tables
import arrears.scoring.tables
import arrears.strategy.tables  # noqa: F401
from tests.schema import schema_diffs


def test_migrated_schema_equals_every_declared_table(engine: Engine) -> None:
    assert schema_diffs(engine) == []
