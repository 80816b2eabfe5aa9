"""`make demo`: a fresh SQLite database, a generated overdue portfolio, imported the way a user would.

Runs the same commands a user runs (`arrears db upgrade`, `arrears privacy keygen`, `arrears users add`,
`arrears import accounts|payments`, `arrears portfolio summary`, `arrears account show`) against
``demo-data/``; nothing else is touched. Personal data is encrypted under a key file created in
``demo-data/``, and the commands act as the installation's first administrator, ``demo``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import polars as pl

from arrears.sim.generate import generate_accounts, generate_payments, write

__all__ = ["main"]

BALANCES_AS_OF = dt.date(2026, 11, 20)
AS_OF = dt.date(2026, 11, 27)


def _arrears(*args: str, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> None:
    command = [sys.executable, "-m", "arrears.cli.main", *args]
    print(f"\n$ arrears {' '.join(args)}", flush=True)
    result = subprocess.run(command, env=env, check=False)  # noqa: S603
    if result.returncode not in ok:
        raise SystemExit(f"`arrears {' '.join(args)}` failed with exit status {result.returncode}")


def main(accounts: int = 3000) -> None:
    folder = Path("demo-data")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    env = {
        **os.environ,
        "ARREARS_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
        "ARREARS_ACTOR": "demo",
        "ARREARS_FIELD_KEYS_FILE": str(folder / "keys.json"),
        "ARREARS_AUDIT_SIGNING_KEY_FILE": str(folder / "audit-key.pem"),
    }
    env.pop("ARREARS_FIELD_KEYS", None)
    portfolio = generate_accounts(accounts, as_of=BALANCES_AS_OF)
    # A few rows with the mistakes real files have, to show how they are reported and the rest kept.
    broken = portfolio.head(3).with_columns(
        pl.Series("account_id", ["BAD-1", "BAD-2", "BAD-3"]),
        pl.Series("principal", ["12,000.001", "5000", "8000"]),
        pl.Series("national_id", [None, "110105199001011234", None]),
        pl.Series("balances_as_of", ["2026-11-20", "2026-11-20", "20/11/2026"]),
    )
    accounts_file = write(pl.concat([portfolio, broken]), folder / "accounts.csv")
    payments_file = write(
        generate_payments(portfolio, share=0.25, as_of=BALANCES_AS_OF), folder / "payments.csv"
    )
    print(f"generated {portfolio.height} accounts (+3 broken rows) and a payments file in {folder}/")

    _arrears("privacy", "keygen", str(folder / "keys.json"), env=env)
    _arrears("audit", "keygen", str(folder / "audit-key.pem"), env=env)
    _arrears("db", "upgrade", env=env)
    # The bootstrap rule: the first user of an empty installation may be added by anyone, as administrator.
    _arrears("users", "add", "demo", "--role", "administrator", "--role", "supervisor", env=env)
    _arrears("import", "accounts", str(accounts_file), env=env, ok=(0, 3))
    print(f"\nrejects file {accounts_file}.rejects.csv:")
    print((folder / "accounts.csv.rejects.csv").read_text(encoding="utf-8"))
    _arrears("import", "payments", str(payments_file), env=env)
    _arrears("import", "accounts", str(accounts_file), env=env, ok=(0, 3))
    _arrears("portfolio", "summary", "--as-of", BALANCES_AS_OF.isoformat(), env=env)

    # The daily cycle over a simulated week: a strategy, a team of collectors, then one run a day.
    strategy = resources.files("arrears").joinpath("data/strategies/cn-consumer.yaml")
    with resources.as_file(strategy) as strategy_file:
        _arrears("strategy", "publish", str(strategy_file), env=env)
    _arrears("queue", "add-team", "early", "--name", "Early collections", env=env)
    for i, languages in enumerate((["zh"], ["zh"], ["zh", "en"]), start=1):
        options = [item for language in languages for item in ("--language", language)]
        _arrears("queue", "add-collector", f"c{i}", "--team", "early", "--capacity", "60", *options, env=env)
    first = BALANCES_AS_OF + dt.timedelta(days=1)
    # 09:30 in Beijing: inside the 08:00-22:00 window (GB/T 45251—2025), so today's contacts are allowed.
    _arrears("run-day", "--as-of", first.isoformat(), "--at", f"{first.isoformat()}T01:30:00+00:00", env=env)
    # Two debtors write in: one asks that contact cease, one disputes the debt.
    _arrears("case", "hold", "1", "--kind", "cease_contact", "--reason", "written request received", env=env)
    _arrears("case", "hold", "2", "--kind", "dispute", "--reason", "says the amount is wrong", env=env)
    # The rest of the week runs late in the evening in Beijing (22:30): contacts wait for the morning.
    _arrears("run-day", "--as-of", AS_OF.isoformat(), "--at", f"{AS_OF.isoformat()}T14:30:00+00:00", env=env)
    _arrears("compliance", "report", "--from", first.isoformat(), "--to", AS_OF.isoformat(), env=env)
    _arrears("portfolio", "summary", "--as-of", AS_OF.isoformat(), env=env)
    _arrears("account", "show", str(portfolio["account_id"][0]), "--as-of", AS_OF.isoformat(), env=env)
    # Every day of the cycle ended with a signed tree head; the log proves it has not been altered.
    _arrears("audit", "verify", env=env)


if __name__ == "__main__":
    main()
