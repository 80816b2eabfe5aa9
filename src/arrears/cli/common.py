"""Shared pieces of the command line: consoles, JSON output, error rendering."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from arrears.errors import ArrearsError

__all__ = ["console", "err_console", "handle_errors", "print_json", "to_jsonable"]

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def to_jsonable(value: Any) -> Any:
    """Decimals become strings (never floats), dates ISO text, containers recursively."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, int | str | float | bool):
        return value.value
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn an :class:`ArrearsError` into a one-line message and the error's exit status."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ArrearsError as exc:
            err_console.print(f"[bold red]error[/] [{exc.code}] {exc.message}", highlight=False, markup=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper
