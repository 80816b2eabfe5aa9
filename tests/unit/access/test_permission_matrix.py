"""The permission matrix, role by role, exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.access.permissions import MATRIX, Permission, Role, permissions_of, render_matrix_markdown

P = Permission
READ = {P.VIEW_ACCOUNTS, P.VIEW_ALL_ACCOUNTS}

EXPECTED = {
    Role.ADMINISTRATOR: READ | {P.VIEW_AUDIT_LOG, P.IMPORT_DATA, P.MANAGE_PRODUCTS, P.MANAGE_SCHEMA,
                               P.MANAGE_USERS, P.MANAGE_KEYS, P.MANAGE_AUDIT, P.MANAGE_STRATEGY,
                               P.ASSIGN_ACCOUNTS},
    Role.SUPERVISOR: READ | {P.IMPORT_DATA, P.WORK_CASES, P.APPROVE_CONCESSIONS, P.MANAGE_STRATEGY,
                            P.REVEAL_PERSONAL_DATA, P.ASSIGN_ACCOUNTS},
    Role.COLLECTOR: {P.VIEW_ACCOUNTS, P.WORK_CASES, P.REVEAL_PERSONAL_DATA},
    Role.AGENCY_COLLECTOR: {P.VIEW_ACCOUNTS, P.WORK_CASES, P.REVEAL_PERSONAL_DATA},
    Role.LEGAL: READ | {P.WORK_CASES, P.REVEAL_PERSONAL_DATA, P.PLACE_LEGAL_HOLD},
    Role.COMPLIANCE_OFFICER: READ | {P.VIEW_AUDIT_LOG, P.REVEAL_PERSONAL_DATA, P.EXPORT_PERSONAL_DATA,
                                    P.ERASE_PERSONAL_DATA, P.MANAGE_RETENTION, P.MANAGE_CONSENTS,
                                    P.PLACE_LEGAL_HOLD},
    Role.AUDITOR: READ | {P.VIEW_AUDIT_LOG},
    Role.READ_ONLY: READ,
}  # fmt: skip

CHANGING = set(Permission) - READ - {P.VIEW_AUDIT_LOG}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_has_exactly_its_permissions(role: Role) -> None:
    assert set(MATRIX[role]) == EXPECTED[role]


def test_every_role_is_in_the_matrix() -> None:
    assert set(MATRIX) == set(Role)


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.READ_ONLY])
def test_auditors_and_read_only_change_nothing(role: Role) -> None:
    assert not (MATRIX[role] & CHANGING)


def test_roles_combine() -> None:
    assert permissions_of(["collector", "auditor"]) == frozenset(
        {P.VIEW_ACCOUNTS, P.VIEW_ALL_ACCOUNTS, P.WORK_CASES, P.REVEAL_PERSONAL_DATA, P.VIEW_AUDIT_LOG}
    )


def test_rendered_matrix_has_a_row_per_permission() -> None:
    lines = render_matrix_markdown().splitlines()
    assert lines[0].startswith("| permission | administrator | supervisor | collector |")
    assert len(lines) == 2 + len(Permission)
    assert lines[2] == "| `view_accounts` | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |"


def test_the_documented_matrix_is_the_matrix() -> None:
    page = (Path(__file__).parents[3] / "docs" / "audit-and-privacy.md").read_text(encoding="utf-8")
    assert render_matrix_markdown() in page
