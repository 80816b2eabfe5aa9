"""Cycle step "checkpoint": a signed tree head over the audit log at the end of every cycle day.

This is the scheduled checkpoint an outside party can keep (`arrears audit export-heads`). Without a
configured signing key the step records that none was issued; `arrears audit checkpoint` issues one
on demand.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from arrears.audit.service import issue_checkpoint
from arrears.audit.tree_head import load_configured_signing_key
from arrears.cycle.ledger_steps import CycleContext
from arrears.errors import ConfigurationError

__all__ = ["step_checkpoint"]


def step_checkpoint(conn: Connection, ctx: CycleContext) -> dict[str, Any]:
    from arrears import bootstrap

    settings = bootstrap.settings()
    try:
        key = load_configured_signing_key(key_file=settings.audit_signing_key_file)
    except ConfigurationError:
        return {"checkpoint": "no signing key configured"}
    with Session(bind=conn, autoflush=False) as session:
        head = issue_checkpoint(session, at=ctx.now, key=key, actor=ctx.actor)
        session.flush()
    return {"tree_size": head.tree_size}
