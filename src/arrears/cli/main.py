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
    from arrears.cli import (
        agency,
        audit,
        case,
        compliance,
        cycle,
        db,
        guard,
        plan,
        portfolio,
        privacy,
        queue,
        score,
        strategy,
        users,
    )

    groups = {
        "db": db.app,
        "import": portfolio.import_app,
        "account": portfolio.account_app,
        "portfolio": portfolio.portfolio_app,
        "product": portfolio.product_app,
        "plan": plan.app,
        "compliance": compliance.app,
        "strategy": strategy.app,
        "case": case.app,
        "users": users.app,
        "privacy": privacy.app,
        "queue": queue.app,
        "agency": agency.app,
        "audit": audit.app,
        "score": score.app,
    }
    for name, group in groups.items():
        # Every command checks the acting user's permission first (arrears.cli.guard.COMMANDS).
        guard.protect(name, group)
        app.add_typer(group, name=name)
    app.command("run-day")(cycle.run_day_command)
    app.command("worker")(cycle.worker_command)
    guard.protect(None, app)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
