"""Entry point of the ``arrears`` command: assembles the sub-commands of each capability."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="arrears",
    help="arrears: debt collection — ledger, cases, compliance, strategy and scoring.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:  # pragma: no cover - trivial wiring
    # Imported here so that `arrears --help` stays the single place that lists every command.
    return


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
