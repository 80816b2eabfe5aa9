"""arrears: a debt-collection platform.

The public Python API is what ``__all__`` lists; everything else may change without notice.
"""

from arrears.domain.money import Money, RoundingMode
from arrears.errors import (
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
