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
        plan,
        portfolio,
        privacy,
        queue,
        score,
        strategy,
        users,
    )

    app.add_typer(db.app, name="db")
    app.add_typer(portfolio.import_app, name="import")
    app.add_typer(portfolio.account_app, name="account")
    app.add_typer(portfolio.portfolio_app, name="portfolio")
    app.add_typer(portfolio.product_app, name="product")
    app.add_typer(plan.app, name="plan")
    app.add_typer(compliance.app, name="compliance")
    app.add_typer(strategy.app, name="strategy")
    app.add_typer(case.app, name="case")
    app.add_typer(users.app, name="users")
    app.add_typer(privacy.app, name="privacy")
    app.add_typer(queue.app, name="queue")
    app.add_typer(agency.app, name="agency")
    app.add_typer(audit.app, name="audit")
    app.add_typer(score.app, name="score")
    app.command("run-day")(cycle.run_day_command)
    app.command("worker")(cycle.worker_command)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
