"""Shared pieces of the command line: consoles, JSON output, error rendering."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from arrears.errors import ArrearsError

__all__ = ["console", "err_console", "handle_errors", "print_json", "to_jsonable"]

# Piped output is not cut at 80 columns: tables and messages stay whole in files and logs.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

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
            err_console.print(
                f"[bold red]error[/] {escape(f'[{exc.code}]')} {escape(exc.message)}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if os.environ.get("ARREARS_DEBUG"):
                raise
            err_console.print(
                f"[bold red]error[/] {escape('[internal]')} {type(exc).__name__}: {escape(str(exc))}. The transaction was "
                "rolled back, so nothing was changed. Set ARREARS_DEBUG=1 to see where it failed.",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper
