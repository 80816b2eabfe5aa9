"""The ledger steps in slices of account ids, and many days of 罚息/复利 accrued at once with balances rolled
forward a day at a time, write exactly what one pass over the book folding the whole ledger every day writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from arrears.cycle import ledger_steps, runner
from arrears.cycle.frames import COMPONENTS, balances_through
from arrears.cycle.runner import catch_up, run_day
from arrears.cycle.tables import AccrualCarry, CycleStepRun, DailyPosition
from arrears.portfolio.accounts_import import import_accounts
from arrears.portfolio.payments_import import import_payments
from arrears.store import tables
from arrears.store.db import make_engine, upgrade

from .test_cycle import NOW, us_row
from .test_import_accounts import good_row, write_csv

FIRST_RUN = dt.date(2026, 7, 12)  # balances stated 2026-06-20: 22 days of accrual in the first run
LAST_DAY = dt.date(2026, 7, 22)  # then day by day, through the US late fee of 2026-07-21


def _book(engine: Engine, tmp_path: Path, name: str) -> None:
    rows = [good_row(f"A{n}", debtor=f"D{n}") for n in range(1, 6)]
    rows += [us_row("L1", paid=5), us_row("L2", paid=5, fee="15.00")]
    assert import_accounts(engine=engine, path=write_csv(tmp_path / f"{name}.csv", rows), actor="t", now=NOW)
    # Payments effective inside the first run's window change the overdue principal from their day on.
    payments = tmp_path / f"{name}-p.csv"
    payments.write_text(
        "payment_id,account_id,amount,received_on\n"
        "P1,A2,500.00,2026-06-25\nP2,A3,1500.00,2026-07-05\nP3,A4,20.00,2026-07-12\n",
        encoding="utf-8",
    )
    assert import_payments(engine=engine, path=payments, actor="t", now=NOW).rows_inserted == 3


def _run(engine: Engine) -> None:
    run_day(engine, as_of=FIRST_RUN, actor="cycle", now=NOW)
    catch_up(engine, through=LAST_DAY, actor="cycle", now=NOW)


def _written(engine: Engine) -> dict[str, list[Any]]:
    e, a, c, p = tables.LedgerEntry, tables.Account, AccrualCarry, DailyPosition
    amounts = [getattr(e, f"{name}_minor") for name in COMPONENTS]
    with engine.connect() as conn:
        return {
            "entries": conn.execute(
                select(a.external_id, e.key, e.kind, e.effective_on, *amounts)
                .join(a, a.id == e.account_id)
                .order_by(a.external_id, e.key)
            ).all(),
            "carries": conn.execute(
                select(a.external_id, c.last_accrued_on, c.penalty_carry_units, c.compound_carry_units)
                .join(a, a.id == c.account_id)
                .order_by(a.external_id)
            ).all(),
            "positions": conn.execute(
                select(
                    a.external_id,
                    p.as_of,
                    p.dpd,
                    p.bucket,
                    p.overdue_minor,
                    p.oldest_unpaid_due_on,
                    *[getattr(p, f"{name}_minor") for name in COMPONENTS],
                )
                .join(a, a.id == p.account_id)
                .order_by(p.as_of, a.external_id)
            ).all(),
        }


def test_slices_and_rolled_balances_equal_one_pass_folding_every_day(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reference: one slice, and the whole ledger folded again for every day accrued.
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    upgrade(reference)
    _book(reference, tmp_path, "reference")

    def fold_again(
        folded: Any, conn: Any, ctx: ledger_steps.CycleContext, ids: tuple[int, int], day: dt.date
    ) -> Any:
        return balances_through(
            conn, through=day, partition=ctx.partition, partitions=ctx.partitions, ids=ids
        )

    with monkeypatch.context() as patched:
        patched.setattr(ledger_steps, "_roll_forward", fold_again)
        _run(reference)
    expected = _written(reference)
    reference.dispose()

    _book(engine, tmp_path, "sliced")
    monkeypatch.setattr(ledger_steps, "ACCOUNTS_PER_SLICE", 2)  # 7 accounts: four slices
    _run(engine)
    got = _written(engine)

    assert got == expected
    a1 = [row for row in got["entries"] if row[0] == "A1" and row[1].startswith("accrual:")]
    assert len(a1) == (LAST_DAY - dt.date(2026, 6, 20)).days  # every day from 2026-06-21, once
    assert a1[0][1:] == ("accrual:2026-06-21", "accrual", dt.date(2026, 6, 21), 0, 0, 98, 9, 0, 0)
    assert [row[1] for row in got["entries"] if row[1].startswith("late-fee:")] == ["late-fee:2026-07-10"] * 2
    # The payments made a difference from their day on: A2's 罚息 on its payment day is below A1's.
    a2 = {row[1]: row[6] for row in got["entries"] if row[0] == "A2"}
    a1_penalty = {row[1]: row[6] for row in a1}
    assert a2["accrual:2026-06-24"] == a1_penalty["accrual:2026-06-24"]
    assert a2["accrual:2026-06-26"] < a1_penalty["accrual:2026-06-26"]
    assert {row[1] for row in got["positions"]} == {FIRST_RUN} | {
        FIRST_RUN + dt.timedelta(days=n) for n in range(1, (LAST_DAY - FIRST_RUN).days + 1)
    }


def test_account_slices_cover_the_partition_in_ranges(engine: Engine, tmp_path: Path) -> None:
    _book(engine, tmp_path, "slices")
    with engine.connect() as conn:
        ids = list(conn.execute(select(tables.Account.id).order_by(tables.Account.id)).scalars())
        ctx = ledger_steps.CycleContext(as_of=FIRST_RUN, now=NOW, actor="t", products={})
        assert ledger_steps.account_slices(conn, ctx, size=3) == [
            (ids[0], ids[3]),
            (ids[3], ids[6]),
            (ids[6], ids[6] + 1),
        ]
        assert ledger_steps.account_slices(conn, ctx, size=100) == [(ids[0], ids[-1] + 1)]
        even = ledger_steps.CycleContext(as_of=FIRST_RUN, now=NOW, actor="t", products={}, partitions=2)
        in_partition = [i for i in ids if i % 2 == 0]
        assert ledger_steps.account_slices(conn, even, size=100) == [(in_partition[0], in_partition[-1] + 1)]


class _Recording(runner.InProcessExecutor):
    """The in-process executor, noting which (step, partition, partitions) it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def run(
        self, engine: Engine, step: runner.Step, contexts: Sequence[ledger_steps.CycleContext]
    ) -> list[dict[str, Any] | None]:
        self.calls += [(step.name, ctx.partition, ctx.partitions) for ctx in contexts]
        return super().run(engine, step, contexts)


def test_whole_book_steps_run_once_and_catch_up_uses_the_executor(engine: Engine, tmp_path: Path) -> None:
    _book(engine, tmp_path, "parts")
    executor = _Recording()
    run_day(engine, as_of=FIRST_RUN, actor="cycle", partitions=3, now=NOW, executor=executor)
    catch_up(
        engine,
        through=FIRST_RUN + dt.timedelta(days=1),
        actor="cycle",
        partitions=3,
        now=NOW,
        executor=executor,
    )
    expected = [
        (step.name, p, 3 if step.partitioned else 1)
        for step in runner.STEPS
        for p in range(3 if step.partitioned else 1)
    ]
    assert executor.calls == expected * 2
    with engine.connect() as conn:
        recorded = conn.execute(
            select(CycleStepRun.step, CycleStepRun.partition, CycleStepRun.partitions)
            .where(CycleStepRun.as_of == FIRST_RUN)
            .order_by(CycleStepRun.id)
        ).all()
    assert [tuple(r) for r in recorded] == expected
    again = run_day(engine, as_of=FIRST_RUN, actor="cycle", partitions=3, now=NOW)
    assert again.skipped == [f"{name}[{p}]" for name, p, _ in expected]
