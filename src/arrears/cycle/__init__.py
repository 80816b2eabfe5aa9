"""The daily collection cycle (`arrears run-day`)."""

from arrears.cycle import tables as _tables  # noqa: F401  (registers the cycle's tables)
