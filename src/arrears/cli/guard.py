"""Which permission each command needs: one table, applied to every command when the CLI is assembled.

Every command of ``arrears`` appears here (a test keeps the table complete). An entry is the
permission the acting user must hold, ``OWN`` for commands that check a finer permission themselves
(they take ``--as``), or ``None`` for commands that touch no stored data (a quote, a file check, a
key file). A callable decides from the command's arguments (``compliance check --record`` writes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, Final

import typer

from arrears.access.permissions import Permission

__all__ = ["COMMANDS", "OWN", "protect"]

OWN: Final = "own"
P = Permission
Rule = Permission | str | None | Callable[[Mapping[str, Any]], Permission | None]

COMMANDS: Final[dict[str, Rule]] = {
    "run-day": P.MANAGE_STRATEGY,  # running the cycle executes the published strategy
    "worker": None,  # a process; each task acts as the actor that scheduled the run
    "db upgrade": OWN,
    "db current": None,
    "import accounts": OWN,
    "import payments": OWN,
    "account show": OWN,
    "portfolio summary": OWN,
    "product list": OWN,
    "product add": OWN,
    "plan quote": None,
    "compliance check": lambda kw: P.WORK_CASES if kw.get("record") else None,
    "compliance report": P.VIEW_ALL_ACCOUNTS,
    "strategy validate": None,
    "strategy simulate": P.VIEW_ALL_ACCOUNTS,
    "strategy publish": P.MANAGE_STRATEGY,
    "strategy history": P.VIEW_ALL_ACCOUNTS,
    **{f"case {name}": P.VIEW_ACCOUNTS for name in ("show", "list", "timeline")},
    **{
        f"case {name}": P.WORK_CASES
        for name in (
            "open",
            "log-contact",
            "verify-identity",
            "confirm",
            "itemise",
            "dispute",
            "promise",
            "plan",
            "settle",
            "waive",
            "escalate",
            "refer-legal",
            "legal",
            "hold",
            "release",
            "close",
        )
    },
    "case approve": P.APPROVE_CONCESSIONS,
    **{
        f"users {name}": OWN
        for name in ("add", "list", "grant", "revoke", "set-password", "api-key", "assign", "matrix")
    },
    **{
        f"privacy {name}": OWN
        for name in (
            "keygen",
            "rotate-keys",
            "find",
            "hold",
            "release-hold",
            "consent",
            "agreement",
            "erase",
            "retention-run",
            "export",
        )
    },
    **{
        f"queue {name}": P.ASSIGN_ACCOUNTS
        for name in ("build", "reassign-idle", "add-team", "add-collector", "set-capacity", "deactivate")
    },
    "queue collectors": P.VIEW_ACCOUNTS,
    "queue show": P.WORK_CASES,
    "queue complete": P.WORK_CASES,
    **{f"agency {name}": P.ASSIGN_ACCOUNTS for name in ("add", "evaluate", "agreement", "place", "recall")},
    "agency results": P.VIEW_ALL_ACCOUNTS,
    "agency list": P.VIEW_ACCOUNTS,
    **{f"audit {name}": P.VIEW_AUDIT_LOG for name in ("verify", "prove", "export-heads", "show")},
    "audit checkpoint": P.MANAGE_AUDIT,
    "audit keygen": None,  # writes a key file only; installing it is the operator's act
    "score cv": None,  # works on a file, not on stored data
    "score train": P.MANAGE_STRATEGY,
    "score promote": P.MANAGE_STRATEGY,
    "score rollback": P.MANAGE_STRATEGY,
    "score models": P.VIEW_ALL_ACCOUNTS,
    "score psi": P.VIEW_ALL_ACCOUNTS,
    "score explain": P.VIEW_ALL_ACCOUNTS,
}


def _check(rule: Rule, kwargs: Mapping[str, Any], *, case_command: bool) -> None:
    if rule is None or rule == OWN:
        return
    permission = rule(kwargs) if callable(rule) else rule
    if permission is None:
        return
    from arrears.cli.users import check_permission

    name = check_permission(Permission(permission), kwargs.get("as_user"))
    if case_command and kwargs.get("case_id") is not None:
        _require_visible_case(name, int(kwargs["case_id"]))


def _require_visible_case(username: str, case_id: int) -> None:
    """Collectors work only the cases assigned to them, agency users only their agency's placements."""
    from sqlalchemy import select

    from arrears.access.service import principal, visible_accounts_filter
    from arrears.cases.tables import CaseAccount
    from arrears.cli.users import unit_of_work
    from arrears.errors import PermissionDeniedError
    from arrears.store import tables

    with unit_of_work() as uow:
        who = principal(uow.session, username)
        if who.can(Permission.VIEW_ALL_ACCOUNTS):
            return
        accounts = select(CaseAccount.account_id).where(CaseAccount.case_id == case_id)
        hidden = uow.session.scalar(
            select(tables.Account.id)
            .where(tables.Account.id.in_(accounts), ~visible_accounts_filter(who))
            .limit(1)
        )
        if hidden is not None:
            raise PermissionDeniedError(
                f"case {case_id} is not assigned to {username!r}; ask a supervisor to assign it",
                actor=username,
                case=case_id,
            )


def protect(group: str | None, app: typer.Typer) -> None:
    """Wrap every command of ``app`` so that it checks its permission first (before any work)."""
    for info in app.registered_commands:
        callback = info.callback
        if callback is None:
            continue
        name = info.name or callback.__name__.replace("_", "-")
        key = f"{group} {name}" if group else name
        if key not in COMMANDS:
            raise KeyError(f"command {key!r} has no entry in arrears.cli.guard.COMMANDS")
        info.callback = _guarded(COMMANDS[key], callback, case_command=group == "case")


def _guarded(rule: Rule, callback: Callable[..., Any], *, case_command: bool) -> Callable[..., Any]:
    if rule is None or rule == OWN:
        return callback

    @wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        from arrears.cli.common import handle_errors

        handle_errors(lambda: _check(rule, kwargs, case_command=case_command))()
        return callback(*args, **kwargs)

    return run
