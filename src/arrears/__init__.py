"""arrears: a debt-collection platform.

The public Python API is what ``__all__`` lists; everything else may change without notice.
"""

from arrears.allocator import configure as _configure_allocator

_configure_allocator()  # before anything imports polars (see arrears.allocator)

from arrears.domain.money import Money, RoundingMode  # noqa: E402
from arrears.errors import (  # noqa: E402
    ArrearsError,
    ConfigurationError,
    ConflictError,
    CurrencyMismatchError,
    FileFormatError,
    IllegalTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)

__all__ = [
    "ArrearsError",
    "ConfigurationError",
    "ConflictError",
    "CurrencyMismatchError",
    "FileFormatError",
    "IllegalTransitionError",
    "Money",
    "NotFoundError",
    "PermissionDeniedError",
    "RoundingMode",
    "ValidationError",
]
__version__ = "0.1.0"
