"""The public API is what __all__ says; changing it is a decision, so this test pins it."""

from __future__ import annotations

import arrears


def test_public_names_are_pinned_and_sorted() -> None:
    assert arrears.__all__ == sorted(arrears.__all__)
    assert arrears.__all__ == [
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
    for name in arrears.__all__:
        assert hasattr(arrears, name)
