"""`arrears run-day`: the daily collection cycle."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from arrears import bootstrap
from arrears.cli.common import console, err_console, handle_errors, print_json
from arrears.cycle.runner import STEPS, catch_up
from arrears.store.db import utcnow


@handle_errors
def run_day_command(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Business day to run (YYYY-MM-DD); default today (UTC).")
    ] = None,
    partitions: Annotated[int, typer.Option(help="Split the accounts into this many partitions.")] = 1,
    distributed: Annotated[
        bool, typer.Option("--distributed", help="Run the partitions as Celery tasks on the running workers.")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Instant the run happens (ISO 8601 with offset); default now. Contacts are "
            "judged and scheduled from this instant.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Run the daily cycle for a day, first catching up any missed days in order. Safe to rerun."""
    moment = utcnow()
    if at is not None:
        try:
            moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            moment = None  # type: ignore[assignment]
        if moment is None or moment.tzinfo is None:
            err_console.print(
                f"error --at: {at!r} is not an ISO 8601 instant with an offset", highlight=False
            )
            raise typer.Exit(2) from None
    try:
        day = dt.date.fromisoformat(as_of) if as_of else utcnow().date()
    except ValueError:
        err_console.print(f"error --as-of: {as_of!r} is not a date in the form YYYY-MM-DD", highlight=False)
        raise typer.Exit(2) from None

    def progress(step: str, done: int, total: int) -> None:
        if not as_json:
            err_console.print(f"  {done}/{total} {step}", highlight=False)

    settings = bootstrap.settings()
    with bootstrap.open_engine() as engine:
        from arrears.jobs.celery_app import CeleryExecutor

        executor = CeleryExecutor() if distributed else None
        reports = catch_up(
            engine,
            through=day,
            actor=settings.actor,
            partitions=partitions,
            progress=progress,
            executor=executor,
            now=moment,
        )
    if as_json:
        print_json({"days": [{"as_of": r.as_of, "steps": r.steps, "skipped": r.skipped} for r in reports]})
        return
    for report in reports:
        console.print(f"[bold]{report.as_of}[/]")
        for step in STEPS:
            if report.steps.get(step.name):
                console.print(f"  {step.name}: {report.steps[step.name]}", highlight=False)
            else:
                console.print(f"  {step.name}: already done", highlight=False)


def worker_command(
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    queue: Annotated[
        str | None, typer.Option(help="Queue to consume (default ARREARS_QUEUE or 'arrears').")
    ] = None,
) -> None:
    """Start a Celery worker for distributed cycle runs (broker from ARREARS_BROKER_URL)."""
    from arrears.jobs.celery_app import QUEUE, app

    app.worker_main(["worker", f"--concurrency={concurrency}", "-Q", queue or QUEUE, "--loglevel=INFO"])
