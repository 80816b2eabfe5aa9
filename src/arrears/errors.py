"""The one error hierarchy of arrears.

Every error a user can meet carries a stable ``code``, an HTTP status, a CLI exit status and
structured ``fields``; the message says what to do about it::

    ArrearsError
    ├── ValidationError          bad input (a field, a row, a request)         422 / exit 2
    │   └── FileFormatError      a file that cannot be used at all             422 / exit 2
    ├── NotFoundError            no such account, case, user ...               404 / exit 4
    ├── ConflictError            someone else changed it first (version)      409 / exit 5
    ├── IllegalTransitionError   not allowed from this stage                   409 / exit 5
    ├── PermissionDeniedError    the actor may not do this                     403 / exit 6
    ├── CurrencyMismatchError    arithmetic across two currencies              422 / exit 2
    └── ConfigurationError       settings, rule packs, products, strategies    500 / exit 2
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ArrearsError",
    "ConfigurationError",
    "ConflictError",
    "CurrencyMismatchError",
    "FileFormatError",
    "IllegalTransitionError",
    "NotFoundError",
    "PermissionDeniedError",
    "ValidationError",
]


class ArrearsError(Exception):
    """Root of every error arrears raises on purpose."""

    code: ClassVar[str] = "arrears_error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (code, message, fields)."""
        return {"code": self.code, "message": self.message, "fields": self.fields}


class ValidationError(ArrearsError):
    code = "validation_error"
    http_status = 422
    exit_code = 2


class FileFormatError(ValidationError):
    code = "file_unusable"


class NotFoundError(ArrearsError):
    code = "not_found"
    http_status = 404
    exit_code = 4


class ConflictError(ArrearsError):
    code = "conflict"
    http_status = 409
    exit_code = 5


class IllegalTransitionError(ConflictError):
    code = "illegal_transition"


class PermissionDeniedError(ArrearsError):
    code = "permission_denied"
    http_status = 403
    exit_code = 6


class CurrencyMismatchError(ArrearsError):
    code = "currency_mismatch"
    http_status = 422
    exit_code = 2


class ConfigurationError(ArrearsError):
    code = "configuration_error"
    http_status = 500
    exit_code = 2
