"""The daily cycle on SQLite and PostgreSQL: exact accruals, charges on due dates, idempotency, resume."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, select

from arrears.cycle import ledger_steps, runner
from arrears.cycle.runner import catch_up, run_day
from arrears.cycle.tables import DailyPosition
from arrears.domain.schedules import build_schedule
from arrears.portfolio.accounts_import import import_accounts
from arrears.portfolio.payments_import import import_payments
from arrears.portfolio.service import account_view
from arrears.store import tables
from arrears.store.db import UnitOfWork

from .test_import_accounts import INST, good_row, write_csv

NOW = dt.datetime(2026, 6, 20, 20, 0, tzinfo=dt.UTC)


def setup(engine: Engine, tmp_path: Path) -> None:
    # Balances stated 2026-06-20: instalments 4 and 5 unpaid (overdue principal 1,959.47, interest 172.91).
    path = write_csv(tmp_path / "a.csv", [good_row("A1"), good_row("A2", debtor="D2")])
    import_accounts(engine=engine, path=path, actor="tester", now=NOW)


def entries(engine: Engine, account: str, as_of: dt.date) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    with UnitOfWork(engine) as uow:
        view = account_view(uow.session, account, as_of=as_of)
    return [(e["key"], e["kind"], e["penalty"], e["compound"], e["interest"]) for e in view.ledger]


def entry_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(tables.LedgerEntry)).scalar_one()


def test_daily_penalty_and_compound_are_exact(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    run_day(engine, as_of=dt.date(2026, 6, 22), actor="cycle", now=NOW)
    # cn-consumer-loan: 罚息 = overdue principal x 12 % x 1.5 / 360; 复利 = overdue interest x 12 % x 1.5 / 360,
    # exact amounts carried and rounded half-up once: 1,959.47 x 0.0005 = 0.979735 a day -> 0.98, then
    # round(1.95947) - 0.98 = 0.98; 172.91 x 0.0005 = 0.086455 -> 0.09, then round(0.17291) - 0.09 = 0.08.
    assert entries(engine, "A1", dt.date(2026, 6, 22)) == [
        ("opening", "opening", Decimal("12.34"), Decimal("0.00"), INST[3].interest + INST[4].interest),
        ("accrual:2026-06-21", "accrual", Decimal("0.98"), Decimal("0.09"), Decimal("0.00")),
        ("accrual:2026-06-22", "accrual", Decimal("0.98"), Decimal("0.08"), Decimal("0.00")),
    ]


def test_interest_falls_due_on_its_date_and_dpd_moves(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    catch_up(engine, through=dt.date(2026, 7, 9), actor="cycle", now=NOW)
    run_day(engine, as_of=dt.date(2026, 7, 10), actor="cycle", now=NOW)
    keys = [e[0] for e in entries(engine, "A1", dt.date(2026, 7, 10))]
    assert "interest:2026-07-10" in keys
    assert next(k for k in keys if k.startswith("accrual:")) == "accrual:2026-06-21"
    assert len([k for k in keys if k.startswith("accrual:")]) == 20  # 2026-06-21 .. 2026-07-10
    with engine.connect() as conn:
        rows = conn.execute(
            select(DailyPosition.as_of, DailyPosition.dpd, DailyPosition.bucket)
            .join(tables.Account, tables.Account.id == DailyPosition.account_id)
            .where(tables.Account.external_id == "A1")
            .order_by(DailyPosition.as_of)
        ).all()
    # The first run ran only the day asked for; from then on every day, in order.
    assert [r[0] for r in rows] == [dt.date(2026, 7, 9), dt.date(2026, 7, 10)]
    # Oldest unpaid instalment due 2026-05-10: 60 days on 2026-07-09 (M2), 61 on 2026-07-10 (M3).
    assert [(r[1], r[2]) for r in rows] == [(60, "M2"), (61, "M3")]
    with UnitOfWork(engine) as uow:
        view = account_view(uow.session, "A1", as_of=dt.date(2026, 7, 10))
    assert view.balances["interest"] == INST[3].interest + INST[4].interest + INST[5].interest


def test_rerun_adds_nothing_and_missed_days_are_caught_up_in_order(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    run_day(engine, as_of=dt.date(2026, 6, 21), actor="cycle", now=NOW)
    before = entry_count(engine)
    again = run_day(engine, as_of=dt.date(2026, 6, 21), actor="cycle", now=NOW)
    assert again.skipped == [f"{step.name}[0]" for step in runner.STEPS]
    assert entry_count(engine) == before
    reports = catch_up(engine, through=dt.date(2026, 6, 24), actor="cycle", now=NOW)
    assert [r.as_of for r in reports] == [dt.date(2026, 6, 22), dt.date(2026, 6, 23), dt.date(2026, 6, 24)]
    # Two accounts, one accrual entry each per day.
    assert entry_count(engine) == before + 3 * 2


def test_a_run_killed_mid_step_finishes_on_rerun(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(engine, tmp_path)
    reference_dir = tmp_path / "ref"
    reference_dir.mkdir()

    def dies(conn: Connection, ctx: ledger_steps.CycleContext) -> dict[str, int]:
        ledger_steps.step_positions(conn, ctx)  # writes, then the process "dies" before commit
        raise KeyboardInterrupt

    steps = (runner.STEPS[0], runner.Step("positions", dies, "dies"))
    with pytest.raises(KeyboardInterrupt):
        run_day(engine, as_of=dt.date(2026, 6, 21), actor="cycle", steps=steps, now=NOW)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DailyPosition)).scalar_one() == 0
    report = run_day(engine, as_of=dt.date(2026, 6, 21), actor="cycle", steps=runner.STEPS[:2], now=NOW)
    assert report.skipped == ["accrue[0]"]
    assert report.steps["positions"]["accounts"] == 2
    assert [e[0] for e in entries(engine, "A1", dt.date(2026, 6, 21))] == ["opening", "accrual:2026-06-21"]


def test_partitions_give_the_same_result(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    report = run_day(engine, as_of=dt.date(2026, 6, 22), actor="cycle", partitions=3, now=NOW)
    assert report.steps["positions"]["accounts"] == 2
    assert entries(engine, "A1", dt.date(2026, 6, 22))[1:] == [
        ("accrual:2026-06-21", "accrual", Decimal("0.98"), Decimal("0.09"), Decimal("0.00")),
        ("accrual:2026-06-22", "accrual", Decimal("0.98"), Decimal("0.08"), Decimal("0.00")),
    ]


US_SCHEDULE = build_schedule(
    principal=Decimal("1200.00"), annual_rate=Decimal("0.12"), months=12, method="equal-installment",
    start_date=dt.date(2026, 1, 10), currency="USD",
)  # fmt: skip


def us_row(account: str, *, paid: int, fee: str = "0") -> dict[str, str]:
    """A US instalment loan whose first ``paid`` instalments are paid, balances stated 2026-06-20."""
    items = US_SCHEDULE.installments
    principal = Decimal("1200.00") - sum((i.principal for i in items[:paid]), Decimal(0))
    interest = sum((i.interest for i in items[paid:5]), Decimal(0))
    return good_row(
        account, debtor=f"U{account}", product="us-installment", principal="1200.00",
        principal_balance=str(principal), interest_balance=str(interest), penalty_balance="0",
        fee_balance=fee, national_id="", mobile_phone="+1 212 555 0100", email="a@example.com",
        emergency_contact_name="", emergency_contact_relation="", emergency_contact_phone="",
    )  # fmt: skip


def test_late_fee_after_grace_and_never_pyramided(engine: Engine, tmp_path: Path) -> None:
    # Instalment 6 falls due 2026-07-10; us-installment charges 15.00 once it is short after 10 days of grace.
    # L1 pays nothing; L2 pays instalment 6 in full on time although a 15.00 fee from earlier is unpaid
    # (the fees-first waterfall puts 15.00 of it on that fee: still no new fee, 16 CFR 444.4).
    path = write_csv(tmp_path / "us.csv", [us_row("L1", paid=5), us_row("L2", paid=5, fee="15.00")])
    assert import_accounts(engine=engine, path=path, actor="tester", now=NOW).rows_inserted == 2
    payment = US_SCHEDULE.installments[5].payment
    (tmp_path / "p.csv").write_text(
        f"payment_id,account_id,amount,received_on\nP1,L2,{payment},2026-07-10\n", encoding="utf-8"
    )
    assert import_payments(engine=engine, path=tmp_path / "p.csv", actor="tester", now=NOW).rows_inserted == 1
    catch_up(engine, through=dt.date(2026, 7, 20), actor="cycle", now=NOW)
    catch_up(engine, through=dt.date(2026, 7, 22), actor="cycle", now=NOW)
    # catch_up started at 2026-07-20 (the first run runs the day asked for), then 07-21 and 07-22.
    fees = {
        a: [e for e in entries(engine, a, dt.date(2026, 7, 22)) if e[0].startswith("late-fee:")]
        for a in ("L1", "L2")
    }
    assert [e[0] for e in fees["L1"]] == ["late-fee:2026-07-10"]
    assert fees["L2"] == []
    with UnitOfWork(engine) as uow:
        l1 = account_view(uow.session, "L1", as_of=dt.date(2026, 7, 22))
        l2 = account_view(uow.session, "L2", as_of=dt.date(2026, 7, 22))
    assert l1.balances["fee"] == Decimal("15.00")
    assert l2.balances["fee"] == Decimal("0.00")
    assert l1.ledger[-1]["effective_on"] == dt.date(2026, 7, 21)


def test_charged_through_moves_when_an_instalment_falls_due_or_the_product_does_not_accrue(
    engine: Engine, tmp_path: Path
) -> None:
    # A1 accrues 罚息 (cn-consumer-loan); A3's product accrues nothing (us-installment). Balances stated
    # 2026-06-20; the next instalment of both falls due 2026-07-10.
    path = write_csv(
        tmp_path / "a.csv", [good_row("A1"), good_row("A3", debtor="D3", product="us-installment")]
    )
    report = import_accounts(engine=engine, path=path, actor="tester", now=NOW)
    assert report.rows_inserted == 2

    def charged_through() -> dict[str, dt.date]:
        with engine.connect() as conn:
            a = tables.Account
            return {ext: on for ext, on in conn.execute(select(a.external_id, a.charged_through_on))}

    run_day(engine, as_of=dt.date(2026, 6, 21), actor="cycle", now=NOW)
    # A1: nothing fell due since 2026-06-20, so the stored date already covers every instalment due by
    # today and is not rewritten; A3 has no accrual carry to start from later, so it moves every day.
    assert charged_through() == {"A1": dt.date(2026, 6, 20), "A3": dt.date(2026, 6, 21)}
    catch_up(engine, through=dt.date(2026, 7, 9), actor="cycle", now=NOW)
    assert charged_through() == {"A1": dt.date(2026, 6, 20), "A3": dt.date(2026, 7, 9)}
    run_day(engine, as_of=dt.date(2026, 7, 10), actor="cycle", now=NOW)
    assert charged_through() == {"A1": dt.date(2026, 7, 10), "A3": dt.date(2026, 7, 10)}
    run_day(engine, as_of=dt.date(2026, 7, 11), actor="cycle", now=NOW)
    assert charged_through() == {"A1": dt.date(2026, 7, 10), "A3": dt.date(2026, 7, 11)}
    # The interest of 2026-07-10 was posted once, and the positions of the days after read it as posted.
    keys = [e[0] for e in entries(engine, "A1", dt.date(2026, 7, 11))]
    assert keys.count("interest:2026-07-10") == 1
    with engine.connect() as conn:
        rows = conn.execute(
            select(DailyPosition.as_of, DailyPosition.overdue_minor, DailyPosition.interest_minor)
            .join(tables.Account, tables.Account.id == DailyPosition.account_id)
            .where(tables.Account.external_id == "A1", DailyPosition.as_of >= dt.date(2026, 7, 9))
            .order_by(DailyPosition.as_of)
        ).all()
    interest_due = int((INST[5].interest * 100).to_integral_value())
    assert rows[1][2] - rows[0][2] == interest_due  # posted on its due date
    assert rows[2][2] == rows[1][2]  # and not counted again the day after
