"""Roles, permissions and the permission matrix: the one place that says who may do what.

The matrix is data (:data:`MATRIX`); :func:`render_matrix_markdown` renders it into
docs/audit-and-privacy.md, and a test keeps the page and the table equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

__all__ = ["MATRIX", "Permission", "Role", "permissions_of", "render_matrix_markdown"]


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    SUPERVISOR = "supervisor"
    COLLECTOR = "collector"
    AGENCY_COLLECTOR = "agency_collector"
    LEGAL = "legal"
    COMPLIANCE_OFFICER = "compliance_officer"
    AUDITOR = "auditor"
    READ_ONLY = "read_only"


class Permission(StrEnum):
    """What an action needs. Reading is split from changing, and personal data from everything else."""

    VIEW_ACCOUNTS = "view_accounts"  # accounts the user may see (see visible_accounts_filter)
    VIEW_ALL_ACCOUNTS = "view_all_accounts"  # every account, not only assigned ones
    VIEW_AUDIT_LOG = "view_audit_log"
    IMPORT_DATA = "import_data"
    MANAGE_PRODUCTS = "manage_products"
    MANAGE_SCHEMA = "manage_schema"
    MANAGE_USERS = "manage_users"
    MANAGE_KEYS = "manage_keys"
    MANAGE_AUDIT = "manage_audit"  # issue signed tree heads (checkpoints)
    WORK_CASES = "work_cases"  # contacts, promises, notes on visible cases
    ASSIGN_ACCOUNTS = "assign_accounts"  # to collectors, and placements with agencies
    APPROVE_CONCESSIONS = "approve_concessions"
    MANAGE_STRATEGY = "manage_strategy"
    REVEAL_PERSONAL_DATA = "reveal_personal_data"
    EXPORT_PERSONAL_DATA = "export_personal_data"
    ERASE_PERSONAL_DATA = "erase_personal_data"
    MANAGE_RETENTION = "manage_retention"
    MANAGE_CONSENTS = "manage_consents"  # consents and data-sharing agreements
    PLACE_LEGAL_HOLD = "place_legal_hold"


P = Permission
_READ: Final = frozenset({P.VIEW_ACCOUNTS, P.VIEW_ALL_ACCOUNTS})

MATRIX: Final[dict[Role, frozenset[Permission]]] = {
    # Runs the installation; sees every account masked but does not reveal, export or erase personal
    # data: those belong to the people answerable for it (separation of duties).
    Role.ADMINISTRATOR: _READ
    | {P.VIEW_AUDIT_LOG, P.IMPORT_DATA, P.MANAGE_PRODUCTS, P.MANAGE_SCHEMA, P.MANAGE_USERS, P.MANAGE_KEYS,
       P.MANAGE_AUDIT, P.MANAGE_STRATEGY, P.ASSIGN_ACCOUNTS},
    Role.SUPERVISOR: _READ
    | {P.IMPORT_DATA, P.WORK_CASES, P.APPROVE_CONCESSIONS, P.MANAGE_STRATEGY, P.REVEAL_PERSONAL_DATA,
       P.ASSIGN_ACCOUNTS},
    # Collectors work, and reveal contact details of, only the cases assigned to them.
    Role.COLLECTOR: frozenset({P.VIEW_ACCOUNTS, P.WORK_CASES, P.REVEAL_PERSONAL_DATA}),
    Role.AGENCY_COLLECTOR: frozenset({P.VIEW_ACCOUNTS, P.WORK_CASES, P.REVEAL_PERSONAL_DATA}),
    Role.LEGAL: _READ | {P.WORK_CASES, P.REVEAL_PERSONAL_DATA, P.PLACE_LEGAL_HOLD},
    Role.COMPLIANCE_OFFICER: _READ
    | {P.VIEW_AUDIT_LOG, P.REVEAL_PERSONAL_DATA, P.EXPORT_PERSONAL_DATA, P.ERASE_PERSONAL_DATA,
       P.MANAGE_RETENTION, P.MANAGE_CONSENTS, P.PLACE_LEGAL_HOLD},
    # Auditors read everything, the audit log included, masked, and change nothing.
    Role.AUDITOR: _READ | {P.VIEW_AUDIT_LOG},
    Role.READ_ONLY: _READ,
}  # fmt: skip


def permissions_of(roles: Iterable[Role | str]) -> frozenset[Permission]:
    """Every permission the given roles grant together."""
    granted: set[Permission] = set()
    for role in roles:
        granted |= MATRIX[Role(role)]
    return frozenset(granted)


def render_matrix_markdown() -> str:
    """The matrix as a Markdown table: one row per permission, one column per role."""
    roles = list(Role)
    lines = [
        "| permission | " + " | ".join(r.value for r in roles) + " |",
        "|---|" + "|".join(":-:" for _ in roles) + "|",
    ]
    for permission in Permission:
        marks = ["✓" if permission in MATRIX[r] else "" for r in roles]
        lines.append(f"| `{permission.value}` | " + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"
