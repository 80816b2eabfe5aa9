"""accounts: schedules stored packed (fixed-size binary records) instead of JSON

Revision ID: 0010
Revises: 0001

Every stored schedule is converted, in batches, inside the migration's transaction; downgrade converts
them back to JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from arrears.domain.schedule_codec import pack_one, unpack_one

revision = "0010"
down_revision = "0001"
branch_labels = None
depends_on = None

_BATCH = 5000


def _convert(target: sa.types.TypeEngine[Any], convert: Callable[[Any], Any]) -> None:
    """Replace ``accounts.schedule`` with a column of ``target`` type holding ``convert(old value)``."""
    bind = op.get_bind()
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("schedule_new", target, nullable=True))
    accounts = sa.table("accounts", sa.column("id"), sa.column("schedule"), sa.column("schedule_new", target))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(accounts.c.id, accounts.c.schedule)
            .where(accounts.c.id > last)
            .order_by(accounts.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            accounts.update()
            .where(accounts.c.id == sa.bindparam("key"))
            .values(schedule_new=sa.bindparam("value")),
            [{"key": key, "value": convert(value)} for key, value in rows],
        )
        last = rows[-1][0]
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("schedule")
        batch.alter_column("schedule_new", new_column_name="schedule", nullable=False, existing_type=target)


def _packed(value: Any) -> bytes:
    return pack_one(json.loads(value) if isinstance(value, str | bytes) else value)


def upgrade() -> None:
    _convert(sa.LargeBinary(), _packed)


def downgrade() -> None:
    _convert(sa.JSON(), lambda value: unpack_one(bytes(value)))
