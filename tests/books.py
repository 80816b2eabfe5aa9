"""A minimal book of CNY accounts written straight through the tables, for tests of queues and agencies."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from arrears.portfolio.products import ensure_builtin_products
from arrears.store import personal
from arrears.store import tables as core
from arrears.store.db import UnitOfWork


def open_book(
    engine: Engine,
    balances: dict[str, int],
    *,
    now: dt.datetime,
    payment_on_a1: dt.date | None = None,
    interest_minor: int = 0,
    due_on: dict[str, dt.date] | None = None,
) -> dict[str, int]:
    """One debtor and one open account per entry, its balance in an opening entry dated 2025-12-01
    (``interest_minor`` of it as interest, the rest principal); with ``payment_on_a1``, a posted
    payment of 120.00 on account A1; with ``due_on``, the named accounts' principal falls due whole
    on that date (otherwise nothing is scheduled). Returns external id → id."""
    ids: dict[str, int] = {}
    with UnitOfWork(engine) as uow:
        s = uow.session
        ensure_builtin_products(s, now=now)
        for ext, balance in balances.items():
            debtor = core.Debtor(
                external_id=f"D-{ext}", jurisdiction="CN", timezone="Asia/Shanghai", language="zh",
                name=personal.seal(personal.PersonalKind.NAME, f"debtor {ext}"), row_hash="x" * 32,
                created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(debtor)
            s.flush()
            account = core.Account(
                external_id=ext, debtor_id=debtor.id, product_code="cn-consumer-loan", currency="CNY",
                principal_minor=balance, annual_rate="0.12", term_months=12, schedule_method="manual",
                opened_on=dt.date(2025, 1, 1), first_due_on=dt.date(2025, 2, 1),
                schedule=(
                    {"due_on": [due_on[ext].isoformat()], "principal": [balance - interest_minor], "interest": [0]}
                    if due_on and ext in due_on
                    else {"due_on": [], "principal": [], "interest": []}
                ),
                charged_through_on=dt.date(2025, 1, 1), status="open", row_hash="y" * 32,
                created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(account)
            s.flush()
            s.add(
                core.LedgerEntry(
                    account_id=account.id, key="opening", kind="opening", effective_on=dt.date(2025, 12, 1),
                    posted_at=now, principal_minor=balance - interest_minor, interest_minor=interest_minor,
                )
            )  # fmt: skip
            if ext == "A1" and payment_on_a1 is not None:
                s.add(
                    core.Payment(
                        external_id="PAY-1", account_id=account.id, amount_minor=12_000, currency="CNY",
                        received_on=payment_on_a1, created_at=now, status="posted",
                    )
                )  # fmt: skip
            ids[ext] = account.id
        uow.commit()
    return ids
