"""Importing accounts: validate whole columns, derive schedules, write debtors, accounts and ledger in bulk.

The import key is ``account_id`` (and ``debtor_id`` for debtors). The whole file is one transaction:
it lands entirely (good rows) or not at all. Rejected rows go to the rejects file with their row
number, field and reason; good rows are imported regardless.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers
import polars as pl
from sqlalchemy import Engine, select

from arrears.audit.log import record_event
from arrears.domain.money import CURRENCY_EXPONENTS, parse_decimal, to_minor
from arrears.domain.products import Product
from arrears.domain.schedule_codec import pack_schedules
from arrears.domain.schedule_frame import schedule_frame
from arrears.errors import ValidationError
from arrears.portfolio import checks
from arrears.portfolio.checks import (
    PROBLEMS,
    collect_problems,
    column_problems,
    parse_date,
    problem,
    stripped,
)
from arrears.portfolio.products import ensure_builtin_products, product_catalogue
from arrears.portfolio.readers import ROW, Batch, quick_start, read_ahead, read_batches
from arrears.portfolio.report import ImportReport, RejectSink
from arrears.portfolio.schema import ACCOUNT_COLUMNS
from arrears.store import bulk, personal, tables
from arrears.store.db import UnitOfWork
from arrears.store.personal import PersonalKind

__all__ = ["import_accounts"]

REQUIRED = [c.name for c in ACCOUNT_COLUMNS if c.required]
BALANCES = ("principal", "interest", "penalty", "compound", "fee", "cost")
DEBTOR_COLUMNS = (
    "debtor_id", "debtor_name", "national_id", "mobile_phone", "home_phone", "work_phone", "email",
    "address", "city", "region", "country", "jurisdiction", "timezone", "language", "employer",
    "monthly_income", "emergency_contact_name", "emergency_contact_relation", "emergency_contact_phone",
)  # fmt: skip
_CN_MOBILE = r"^(?:\+?86)?1[3-9][0-9]{9}$"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
ProgressFn = Callable[[int], None]
# Tables an import fills; their secondary indexes are built after the load when they start empty.
_LOADED_TABLES = ("debtors", "persons", "contact_points", "accounts", "ledger_entries")


def _ensure_columns(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [c.name for c in ACCOUNT_COLUMNS if c.name not in frame.columns]
    return frame.with_columns([pl.lit(None, dtype=pl.String).alias(name) for name in missing])


def _row_hash(columns: list[str]) -> pl.Expr:
    """The row's columns as given (the keys trimmed), hashed: what tells a changed row from the same."""
    keys = ("account_id", "debtor_id")
    values = [(pl.col(c).str.strip_chars() if c in keys else pl.col(c)).fill_null("\x00") for c in columns]
    return pl.concat_str(values, separator="\x1f").hash(seed=20261128).cast(pl.String)


def _phone_e164(frame: pl.DataFrame, name: str) -> tuple[pl.Series, pl.Series]:
    """E.164 phone numbers and a problem column; the common Chinese mobile form is handled in bulk,
    anything else goes through ``phonenumbers`` (with the row's country as the default region)."""
    raw = frame[name].str.strip_chars().str.replace_all(r"[\s\-()]", "")
    fast = raw.str.contains(_CN_MOBILE).fill_null(False)
    e164 = pl.Series(name, [None] * frame.height, dtype=pl.String)
    e164 = pl.select(pl.when(fast).then(pl.lit("+86") + raw.str.slice(-11)).otherwise(e164)).to_series()
    slow_idx = ((~fast) & raw.is_not_null() & (raw != "")).arg_true().to_list()
    values = e164.to_list()
    problems: list[str | None] = [None] * frame.height
    countries = frame["country"].to_list()
    for i in slow_idx:
        text = raw[i]
        region = (countries[i] or "CN").upper()
        if not text.isascii():
            # phonenumbers would read full-width digits; every other digit field refuses them.
            problems[i] = f"{name}\t'{text}' is not a phone number (ASCII digits 0-9)"
            continue
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            problems[i] = f"{name}\t'{text}' is not a phone number"
            continue
        if not phonenumbers.is_valid_number(number):
            problems[i] = f"{name}\t'{text}' is not a valid phone number for {region}"
            continue
        values[i] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return pl.Series(name, values, dtype=pl.String), pl.Series(f"_p_{name}", problems, dtype=pl.String)


def _explicit_schedules(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[int, str]]:
    """Parse ``due_schedule`` JSON for the rows that have one (rare: a Python loop is fine here)."""
    items: list[tuple[int, int, dt.date, int, int]] = []
    problems: dict[int, str] = {}
    sub = frame.filter(pl.col("due_schedule").is_not_null())
    for row, text, currency in sub.select(ROW, "due_schedule", "currency").iter_rows():
        try:
            parsed = json.loads(text)
            if not isinstance(parsed, list) or not parsed:
                raise ValueError("must be a non-empty JSON array")
            previous: dt.date | None = None
            total, limit = 0, 10 ** (15 + CURRENCY_EXPONENTS[currency])
            if len(parsed) > 600:
                raise ValueError("must have at most 600 items")
            for n, item in enumerate(parsed, start=1):
                if not isinstance(item, dict):
                    raise ValueError(f"item {n} must be an object with due_on, principal, interest")
                due_on = dt.date.fromisoformat(str(item["due_on"]))
                if not checks.DATE_MIN <= due_on <= checks.DATE_MAX:
                    raise ValueError(f"item {n}: due_on is outside {checks.DATE_MIN} to {checks.DATE_MAX}")
                if previous is not None and due_on <= previous:
                    raise ValueError(f"item {n}: due dates must increase")
                previous = due_on
                principal = to_minor(
                    parse_decimal(str(item.get("principal", "0")), field="principal"), currency
                )
                interest = to_minor(parse_decimal(str(item.get("interest", "0")), field="interest"), currency)
                if principal < 0 or interest < 0:
                    raise ValueError(f"item {n}: amounts must not be negative")
                total += principal + interest
                if total >= limit:
                    # The same bound as a money column (15 digits before the point), for the sum.
                    raise ValueError("amounts of the items add up to more than 15 digits before the point")
                items.append((row, n, due_on, principal, interest))
        except (ValueError, KeyError, TypeError, ArithmeticError, ValidationError) as exc:
            message = exc.message if isinstance(exc, ValidationError) else str(exc)
            if isinstance(exc, KeyError):
                message = f"an item lacks {exc}"
            problems[row] = f"due_schedule\t{message}"
    schema = {
        ROW: pl.Int64, "number": pl.Int32, "due_on": pl.Date, "principal_minor": pl.Int64,
        "interest_minor": pl.Int64,
    }  # fmt: skip
    good = [i for i in items if i[0] not in problems]
    return pl.DataFrame(good, schema=schema, orient="row"), problems


def _validate(frame: pl.DataFrame, products: dict[str, Product], seen: dict[str, int]) -> pl.DataFrame:
    """Typed columns plus ``_problems`` for every row of the batch (``seen``: see :func:`checks.first_rows`)."""
    frame = _ensure_columns(frame)
    currency_of = {code: p.currency for code, p in products.items()}
    rounding_of = {code: str(p.rounding) for code, p in products.items()}
    product = pl.col("product").str.strip_chars()
    frame = frame.with_columns(
        pl.coalesce(pl.col("currency").str.strip_chars().str.to_uppercase(),
                    checks.lookup(currency_of, product, pl.String)).alias("currency"),
        checks.lookup(currency_of, product, pl.String).alias("_product_currency"),
        checks.lookup(rounding_of, product, pl.String).alias("_rounding"),
    )  # fmt: skip
    # Hashes of the row as given (the currency filled in), before blanks become missing values: the
    # hash stored for a row stays the hash of the same row.
    frame = frame.with_columns(
        _row_hash([c.name for c in ACCOUNT_COLUMNS]).alias("_account_hash"),
        _row_hash(list(DEBTOR_COLUMNS)).alias("_debtor_hash"),
    )
    frame = checks.blanks_to_null(frame, [c.name for c in ACCOUNT_COLUMNS])
    frame = frame.with_columns(pl.coalesce(pl.col("currency"), pl.col("_product_currency")).alias("currency"))
    exponent = checks.lookup(CURRENCY_EXPONENTS, pl.col("currency"), pl.Int32)
    frame = frame.with_columns(exponent.alias("_exp"))
    # Trimmed copies of every column, made once and read by the checks below (after currency is set).
    frame = checks.with_stripped(frame, [c.name for c in ACCOUNT_COLUMNS])
    frame = frame.with_columns(checks.first_rows(frame, stripped("account_id"), seen).alias("_first_row"))
    product = pl.col(stripped("product"))
    num, den = checks.rate_parts("annual_rate")
    opened = pl.col(stripped("opened_on")).str.to_date("%Y-%m-%d", strict=False)
    typed = [
        num.alias("_rate_num"),
        den.alias("_rate_den"),
        pl.col(stripped("term_months")).cast(pl.Int32, strict=False).alias("_term"),
        opened.alias("_opened_on"),
        pl.coalesce(pl.col(stripped("first_due_on")).str.to_date("%Y-%m-%d", strict=False),
                    opened.dt.offset_by("1mo")).alias("_first_due_on"),
        pl.col(stripped("balances_as_of")).str.to_date("%Y-%m-%d", strict=False).alias("_as_of"),
        pl.coalesce(pl.col(stripped("schedule_method")), pl.lit("equal-installment")).alias("_method"),
    ]  # fmt: skip
    frame = checks.money_minor_columns(
        frame.with_columns(typed),
        {
            "_principal": "principal",
            "_income": "monthly_income",
            **{f"_{b}_parsed": f"{b}_balance" for b in BALANCES},
        },
        "_exp",
    )
    frame = frame.with_columns(
        pl.col(f"_{b}_parsed")
        .fill_null(pl.when(pl.col(f"{b}_balance").is_null()).then(0))
        .alias(f"_{b}_balance")
        for b in BALANCES
    ).drop([f"_{b}_parsed" for b in BALANCES])
    frame = checks.cn_national_id_problems(
        frame, "national_id", latest_birth="_opened_on", out="_national_id_problem"
    )
    is_cn = pl.coalesce(
        pl.col(stripped("jurisdiction")).str.to_uppercase(),
        pl.col(stripped("country")).str.to_uppercase(),
        pl.lit("CN"),
    ).str.starts_with("CN")
    # Each money text beside its typed column: where the text is present, the typed value is null
    # exactly when checks.money_minor found more decimals than the currency has.
    money_cols = {"principal": "_principal", "monthly_income": "_income",
                  **{f"{b}_balance": f"_{b}_balance" for b in BALANCES}}  # fmt: skip
    cross = [
        problem("product", pl.col("product").is_not_null() & pl.col("_product_currency").is_null(),
                pl.lit("unknown product '") + product + pl.lit("'; see `arrears product list`")),
        problem("currency", pl.col("_product_currency").is_not_null()
                & (pl.col("currency") != pl.col("_product_currency")),
                pl.lit("is ") + pl.col("currency") + pl.lit(" but product ") + product
                + pl.lit(" is in ") + pl.col("_product_currency")),
        problem("currency", pl.col("currency").is_not_null() & pl.col("_exp").is_null(),
                pl.lit("unknown currency '") + pl.col("currency") + pl.lit("'")),
        *[problem(m, pl.col(m).is_not_null() & pl.col("_exp").is_not_null()
                  & pl.col(stripped(m)).str.replace_all(",", "").str.contains(checks.MONEY_PATTERN)
                  & pl.col(minor).is_null(),
                  pl.lit("has more decimal places than ") + pl.col("currency") + pl.lit(" allows"))
          for m, minor in money_cols.items()],
        problem("principal", pl.col("_principal") == 0, "must be greater than zero"),
        problem("annual_rate", pl.col("_rate_num") > pl.col("_rate_den") * 10, "must be between 0 and 10"),
        problem("term_months", (pl.col("_term") < 1) | (pl.col("_term") > 600), "must be between 1 and 600"),
        problem("first_due_on", pl.col("_first_due_on") <= pl.col("_opened_on"), "must be after opened_on"),
        problem("balances_as_of", pl.col("_as_of") < pl.col("_opened_on"), "is before opened_on"),
        problem("principal_balance", pl.col("_principal_balance") > pl.col("_principal"),
                "is more than the principal lent"),
        problem("national_id", is_cn & pl.col("national_id").is_not_null(), pl.col("_national_id_problem")),
        problem("email", pl.col("email").is_not_null()
                & ~pl.col(stripped("email")).str.contains(_EMAIL),
                pl.lit("'") + pl.col("email") + pl.lit("' is not an email address")),
        problem("account_id", pl.col("_first_row") != pl.col(ROW),
                pl.lit("repeats row ") + pl.col("_first_row").cast(pl.String)
                + pl.lit("; only the first row of an account_id is imported")),
    ]  # fmt: skip
    frame = collect_problems(
        frame, [*column_problems(ACCOUNT_COLUMNS, frame.columns, use_stripped=True), *cross]
    )
    frame = frame.drop([stripped(c.name) for c in ACCOUNT_COLUMNS] + ["_national_id_problem", "_first_row"])
    phones = {}
    for name in ("mobile_phone", "home_phone", "work_phone", "emergency_contact_phone"):
        values, found = _phone_e164(frame, name)
        phones[name] = values
        frame = frame.with_columns(
            pl.when(found.is_not_null()).then(pl.col(PROBLEMS).list.concat(pl.concat_list(found)))
            .otherwise(pl.col(PROBLEMS)).alias(PROBLEMS)
        )  # fmt: skip
    return frame.with_columns([phones[n].alias(f"_{n}") for n in phones])


def _reconcile(frame: pl.DataFrame, explicit: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Build schedules for valid rows and check the balances against them.

    Returns the frame with new problems and the schedule items (one row per instalment).
    """
    ok = frame.filter(pl.col(PROBLEMS).list.len() == 0)
    by_terms = ok.filter(pl.col("due_schedule").is_null())
    generated = schedule_frame(
        by_terms.select(
            pl.col(ROW).alias("key"),
            pl.col("_principal").alias("principal_minor"),
            pl.col("_rate_num").alias("rate_num"),
            pl.col("_rate_den").alias("rate_den"),
            pl.col("_term").alias("term"),
            pl.col("_method").alias("method"),
            parse_date("first_due_on").alias("first_due_on"),
            pl.col("_opened_on").alias("start_on"),
            pl.col("_rounding").alias("rounding"),
        )
    ).rename({"key": ROW})
    items = pl.concat([generated.select(explicit.columns), explicit], how="vertical")
    as_of = ok.select(ROW, "_as_of", "_principal", "_principal_balance", "_interest_balance")
    totals = (
        items.join(as_of, on=ROW)
        .group_by(ROW)
        .agg(
            pl.col("principal_minor").sum().alias("_sched_principal"),
            pl.col("principal_minor")
            .filter(pl.col("due_on") > pl.col("_as_of"))
            .sum()
            .alias("_future_principal"),
            (pl.col("principal_minor") + pl.col("interest_minor"))
            .filter(pl.col("due_on") <= pl.col("_as_of"))
            .sum()
            .alias("_due_total"),
        )
    )
    frame = frame.join(totals, on=ROW, how="left")
    overdue = pl.col("_principal_balance") - pl.col("_future_principal") + pl.col("_interest_balance")
    recon = [
        problem("due_schedule", pl.col("due_schedule").is_not_null() & (pl.col("_sched_principal") != pl.col("_principal")),
                pl.lit("principal of the items sums to ") + pl.col("_sched_principal").cast(pl.String)
                + pl.lit(" minor units, not the principal")),
        problem("principal_balance", pl.col("_principal_balance") < pl.col("_future_principal"),
                pl.lit("is below the principal not yet due by the schedule; send the rescheduled due_schedule")),
        problem("interest_balance", (pl.col("_principal_balance") >= pl.col("_future_principal"))
                & (overdue > pl.col("_due_total")),
                pl.lit("overdue principal plus interest_balance is more than the schedule has made due "
                       "by balances_as_of")),
    ]  # fmt: skip
    frame = frame.with_columns(pl.col(PROBLEMS).list.concat(pl.concat_list(recon).list.drop_nulls()))
    return frame, items


@dataclass(frozen=True)
class _Rows:
    """The rows a batch adds, as the tables take them, but for the ids (which the writer reserves).

    ``debtors`` and ``accounts`` carry ``external_id``; persons and contact points name their debtor by
    external id (``_debtor``), accounts theirs by ``_debtor``, opening entries their account by ``_account``.
    """

    debtors: pl.DataFrame
    persons: pl.DataFrame
    contacts: pl.DataFrame
    accounts: pl.DataFrame
    openings: pl.DataFrame


@dataclass(frozen=True)
class _Prepared:
    """One batch made ready for writing: its valid rows (typed, with schedule and row hashes) and,
    on a first load, the rows it adds already built (see :func:`_prepare`)."""

    good: pl.DataFrame
    rows_read: int
    rows_rejected: int
    built: _Rows | None = None


def _prepare(
    batches: Iterator[Batch],
    products: dict[str, Product],
    sink: RejectSink,
    *,
    first_load: bool = False,
    now: dt.datetime | None = None,
) -> Iterator[_Prepared]:
    """Validation, schedules and reconciliation of each batch; rejects go to ``sink``.

    Pure work on the batch (no database): it runs one batch ahead of the writes, on another thread.
    On a ``first_load`` (no debtors and no accounts stored yet) every valid row is new but for debtors
    met earlier in the file, so the rows to insert — personal data sealed — are built here too, and
    the writer only reserves ids and writes.
    """
    seen_accounts: dict[str, int] = {}
    seen_debtors: set[str] = set()
    for batch in batches:
        sink.add_many(batch.problems)
        frame = _validate(batch.frame, products, seen_accounts)
        explicit, schedule_problems = _explicit_schedules(frame.filter(pl.col(PROBLEMS).list.len() == 0))
        if schedule_problems:
            bad = pl.DataFrame(
                {ROW: list(schedule_problems), "_extra": list(schedule_problems.values())},
                schema={ROW: pl.Int64, "_extra": pl.String},
            )
            frame = frame.join(bad, on=ROW, how="left").with_columns(
                pl.when(pl.col("_extra").is_not_null())
                .then(pl.col(PROBLEMS).list.concat(pl.concat_list("_extra")))
                .otherwise(pl.col(PROBLEMS))
                .alias(PROBLEMS)
            )
        frame, items = _reconcile(frame, explicit)
        rejected = frame.filter(pl.col(PROBLEMS).list.len() > 0)
        sink.add_frame(rejected.select(ROW, PROBLEMS))
        good = frame.filter(pl.col(PROBLEMS).list.len() == 0).with_columns(
            pl.col("account_id").str.strip_chars(), pl.col("debtor_id").str.strip_chars()
        )
        good = good.join(pack_schedules(items, key=ROW, column="_schedule"), on=ROW, how="left")
        built = None
        if first_load:
            assert now is not None
            built = _first_load_rows(good, seen_debtors, now=now)
            seen_debtors.update(built.debtors.get_column("external_id").to_list())
        yield _Prepared(
            good=good,
            rows_read=batch.frame.height + len(batch.problems),
            rows_rejected=rejected.height + len(batch.problems),
            built=built,
        )


def _first_load_rows(good: pl.DataFrame, seen: set[str], *, now: dt.datetime) -> _Rows:
    """The rows a batch of a first load adds: debtors not met before in the file, all its accounts."""
    firsts = good.filter(pl.col("debtor_id").is_first_distinct() & ~pl.col("debtor_id").is_in(list(seen)))
    persons, contacts = _contact_rows(firsts, now=now)
    return _Rows(
        debtors=_debtor_columns(firsts, now=now),
        persons=persons,
        contacts=contacts,
        accounts=_account_columns(good, now=now).with_columns(good.get_column("debtor_id").alias("_debtor")),
        openings=_opening_rows(good, account=pl.col("account_id").alias("_account"), now=now),
    )


def import_accounts(
    *,
    engine: Engine,
    path: Path,
    actor: str,
    now: dt.datetime,
    batch_rows: int = 20_000,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import an accounts file (see docs/data-formats.md). Returns counts and where rejects went.

    Two stages overlap: while one batch is written, the next is read, validated and scheduled on a
    second thread (Polars and SQLite both release the GIL for their heavy work). Only this thread
    touches the database connection, and the whole file stays one transaction.
    """
    batches = quick_start(read_batches(path, required=REQUIRED, batch_rows=batch_rows))
    report = ImportReport(kind="accounts", source=str(path))
    sink = RejectSink(path)
    seen_debtors: dict[str, int] = {}
    debtor_keys: list[pl.DataFrame] = []  # a first load's debtors written so far
    with UnitOfWork(engine) as uow:
        bulk.tune_for_bulk(uow.connection)
        ensure_builtin_products(uow.session, now=now)
        products = product_catalogue(uow.session)
        # Tables empty before this import hold only rows it wrote, all known to it: no lookups there.
        started_empty = {t for t in ("debtors", "accounts") if bulk.is_empty(uow.connection, t)}
        first_load = started_empty == {"debtors", "accounts"}
        with (
            bulk.deferred_indexes(uow.connection, _LOADED_TABLES),
            read_ahead(_prepare(batches, products, sink, first_load=first_load, now=now)) as prepared,
        ):
            for item in prepared:
                report.rows_read += item.rows_read
                report.rows_rejected += item.rows_rejected
                if item.built is not None:
                    _write_built(uow.connection, item.built, report, debtor_keys)
                else:
                    _write(uow, item.good, report, seen_debtors, now=now, started_empty=started_empty)
                if progress is not None:
                    progress(item.rows_read)
        report.rejects_path = sink.finish()
        run = tables.ImportRun(
            kind="accounts", source=str(path), actor=actor, started_at=now, finished_at=now,
            rows_read=report.rows_read, rows_inserted=report.rows_inserted, rows_updated=report.rows_updated,
            rows_unchanged=report.rows_unchanged, rows_rejected=report.rows_rejected,
            rejects_path=str(report.rejects_path) if report.rejects_path else None,
        )  # fmt: skip
        uow.session.add(run)
        uow.session.flush()
        report.run_id = run.id
        record_event(
            uow.session, actor=actor, action="portfolio.accounts_imported", subject_type="import_run",
            subject_id=str(run.id), at=now, details=report.counts(),
        )  # fmt: skip
        uow.commit()
    sink.publish()
    return report


def _existing(
    conn: object,
    table: type[tables.Account] | type[tables.Debtor],
    ids: list[str],
    started_empty: set[str] | frozenset[str] = frozenset(),
) -> pl.DataFrame:
    """Stored id and row hash of each external id in ``ids`` that ``table`` holds.

    A table in ``started_empty`` had no rows when the import began: whatever it holds now came from
    earlier batches of this file, whose keys the caller has already set aside, so nothing is looked up.
    """
    from sqlalchemy import Connection

    assert isinstance(conn, Connection)
    rows: list[tuple[str, int, str]] = []
    name = str(table.__tablename__)
    if ids and (name in started_empty or bulk.is_empty(conn, name)):
        ids = []  # a first import into an empty table: nothing to look up
    # Plain driver SQL: compiling an expanding IN of thousands of values costs more than the lookup.
    if conn.dialect.name == "postgresql":
        query = f"SELECT external_id, id, row_hash FROM {name} WHERE external_id = ANY(%(ids)s)"
        for start in range(0, len(ids), 50_000):
            rows += conn.exec_driver_sql(query, {"ids": ids[start : start + 50_000]}).all()
    else:
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT external_id, id, row_hash FROM {name} WHERE external_id IN ({marks})"
            rows += conn.exec_driver_sql(query, tuple(chunk)).all()
    return pl.DataFrame(rows, schema={"external_id": pl.String, "id": pl.Int64, "stored_hash": pl.String},
                        orient="row")  # fmt: skip


def _write(
    uow: UnitOfWork,
    good: pl.DataFrame,
    report: ImportReport,
    seen_debtors: dict[str, int],
    *,
    now: dt.datetime,
    started_empty: set[str] | frozenset[str] = frozenset(),
) -> None:
    if good.height == 0:
        return
    conn = uow.connection
    debtor_ids = _write_debtors(conn, good, seen_debtors, now=now, started_empty=started_empty)
    good = good.join(
        debtor_ids, left_on="debtor_id", right_on="external_id", how="left", maintain_order="left"
    )
    existing = _existing(conn, tables.Account, good["account_id"].to_list(), started_empty)
    good = good.join(
        existing, left_on="account_id", right_on="external_id", how="left", maintain_order="left"
    )
    new = good.filter(pl.col("id").is_null())
    changed = good.filter(pl.col("id").is_not_null() & (pl.col("stored_hash") != pl.col("_account_hash")))
    report.rows_unchanged += good.height - new.height - changed.height
    report.rows_inserted += new.height
    report.rows_updated += changed.height

    if new.height:
        new = _with_ids(conn, "accounts", new)
        bulk.insert_frame(conn, "accounts", _with_keys(new, _account_columns(new, now=now)))
        openings = _opening_rows(new, account=pl.col("id").alias("account_id"), now=now)
        bulk.insert_frame(conn, "ledger_entries", _with_ids(conn, "ledger_entries", openings))
    if changed.height:
        bulk.update_rows(
            conn,
            tables.Account.__table__,  # type: ignore[arg-type]
            "id",
            _with_keys(changed, _account_columns(changed, now=now)).drop(
                "external_id", "created_at", "version"
            ),
        )
        bulk.insert_frame(conn, "ledger_entries", _sync_entries(changed, conn, now=now))


def _write_built(conn: Any, rows: _Rows, report: ImportReport, debtor_keys: list[pl.DataFrame]) -> None:
    """Write a batch of a first load, built ahead by :func:`_prepare`: reserve ids, join them in, insert.

    ``debtor_keys`` collects ``_debtor`` (external id) → ``debtor_id`` of the debtors written so far.
    """
    debtors = _with_ids(conn, "debtors", rows.debtors)
    bulk.insert_frame(conn, "debtors", debtors)
    new_keys = debtors.select(pl.col("external_id").alias("_debtor"), pl.col("id").alias("debtor_id"))
    _insert_contacts(conn, rows.persons, rows.contacts, new_keys)
    debtor_keys.append(new_keys)
    accounts = _with_ids(conn, "accounts", rows.accounts)
    accounts = accounts.join(pl.concat(debtor_keys), on="_debtor", how="left", maintain_order="left")
    bulk.insert_frame(conn, "accounts", accounts.drop("_debtor"))
    report.rows_inserted += accounts.height
    openings = rows.openings.join(
        accounts.select(pl.col("external_id").alias("_account"), pl.col("id").alias("account_id")),
        on="_account",
        maintain_order="left",
    )
    bulk.insert_frame(conn, "ledger_entries", _with_ids(conn, "ledger_entries", openings.drop("_account")))


def _with_ids(conn: Any, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``id``: new primary keys of ``table``, one per row, in row order."""
    return frame.with_columns(bulk.allocate_ids(conn, table, frame.height).alias("id"))


def _with_keys(frame: pl.DataFrame, columns: pl.DataFrame) -> pl.DataFrame:
    """``columns`` (the table's other columns) with the row's ``id`` and its debtor's stored id first."""
    return frame.select("id", pl.col("debtor_pk").alias("debtor_id")).hstack(columns)


def _account_columns(frame: pl.DataFrame, *, now: dt.datetime) -> pl.DataFrame:
    """The accounts columns of import rows, but for ``id`` and ``debtor_id``."""
    return frame.select(
        pl.col("account_id").alias("external_id"),
        pl.col("product").str.strip_chars().alias("product_code"),
        pl.col("currency"),
        pl.col("_principal").alias("principal_minor"),
        pl.col("annual_rate").str.strip_chars().alias("annual_rate"),
        pl.col("_term").alias("term_months"),
        pl.when(pl.col("due_schedule").is_null()).then(pl.col("_method")).otherwise(pl.lit("explicit"))
        .alias("schedule_method"),
        pl.col("_opened_on").alias("opened_on"),
        pl.col("_first_due_on").alias("first_due_on"),
        pl.col("_schedule").alias("schedule"),
        pl.col("_as_of").alias("charged_through_on"),
        pl.lit("open").alias("status"),
        pl.col("_account_hash").alias("row_hash"),
        pl.lit(now).alias("created_at"),
        pl.lit(now).alias("updated_at"),
        pl.lit(1).alias("version"),
    )  # fmt: skip


def _entry_rows(frame: pl.DataFrame, amounts: dict[str, pl.Expr], *, account: pl.Expr, kind: str, key: pl.Expr,
                now: dt.datetime, memo: str) -> pl.DataFrame:  # fmt: skip
    """Ledger entries (all but ``id``) with a non-zero amount; ``account`` names each entry's account."""
    out = frame.select(
        account,
        key.alias("key"),
        pl.lit(kind).alias("kind"),
        pl.col("_as_of").alias("effective_on"),
        pl.lit(now).alias("posted_at"),
        *[amounts[b].alias(f"{b}_minor") for b in BALANCES],
        pl.lit(None, dtype=pl.String).alias("reverses_key"),
        pl.lit(memo).alias("memo"),
    )
    return out.filter(pl.any_horizontal([pl.col(f"{b}_minor") != 0 for b in BALANCES]))


def _opening_rows(frame: pl.DataFrame, *, account: pl.Expr, now: dt.datetime) -> pl.DataFrame:
    """Opening entries of new accounts: the balances of each row as they stand on balances_as_of."""
    amounts = {b: pl.col(f"_{b}_balance") for b in BALANCES}
    return _entry_rows(frame, amounts, account=account, kind="opening", key=pl.lit("opening"), now=now,
                       memo="balances taken over at import")  # fmt: skip


def _sync_entries(frame: pl.DataFrame, conn: object, *, now: dt.datetime) -> pl.DataFrame:
    """Adjustments that bring each changed account's ledger to the balances in the new row."""
    from sqlalchemy import Connection, func

    assert isinstance(conn, Connection)
    ids = frame["id"].to_list()
    e = tables.LedgerEntry
    rows: list[tuple[int, ...]] = []
    for start in range(0, len(ids), 5000):
        rows += conn.execute(
            select(e.account_id, *[func.sum(getattr(e, f"{b}_minor")) for b in BALANCES])
            .where(e.account_id.in_(ids[start : start + 5000]))
            .group_by(e.account_id)
        ).all()
    current = pl.DataFrame(
        rows, schema={"id": pl.Int64, **{f"_cur_{b}": pl.Int64 for b in BALANCES}}, orient="row"
    )
    frame = frame.join(current, on="id", how="left", maintain_order="left")
    amounts = {b: pl.col(f"_{b}_balance") - pl.col(f"_cur_{b}").fill_null(0) for b in BALANCES}
    entries = _entry_rows(
        frame,
        amounts,
        account=pl.col("id").alias("account_id"),
        kind="adjustment",
        key=pl.lit("sync:") + pl.col("_account_hash"),
        now=now,
        memo="balances restated by the loan system",
    )
    return _with_ids(conn, "ledger_entries", entries)


def _write_debtors(
    conn: object,
    good: pl.DataFrame,
    seen: dict[str, int],
    *,
    now: dt.datetime,
    started_empty: set[str] | frozenset[str] = frozenset(),
) -> pl.DataFrame:
    """Insert new debtors (first row of each in the file wins), update changed ones; returns ids."""
    from sqlalchemy import Connection

    assert isinstance(conn, Connection)
    firsts = good.filter(pl.col("debtor_id").is_first_distinct())
    known = firsts.filter(pl.col("debtor_id").is_in(list(seen)))
    fresh = firsts.filter(~pl.col("debtor_id").is_in(list(seen)))
    existing = _existing(conn, tables.Debtor, fresh["debtor_id"].to_list(), started_empty)
    fresh = fresh.join(
        existing, left_on="debtor_id", right_on="external_id", how="left", maintain_order="left"
    )
    new = fresh.filter(pl.col("id").is_null())
    changed = fresh.filter(pl.col("id").is_not_null() & (pl.col("stored_hash") != pl.col("_debtor_hash")))
    if new.height:
        new = _with_ids(conn, "debtors", new)
        bulk.insert_frame(conn, "debtors", new.select("id").hstack(_debtor_columns(new, now=now)))
        persons, contacts = _contact_rows(new, now=now)
        _insert_contacts(conn, persons, contacts, _debtor_keys(new))
    if changed.height:
        bulk.update_rows(
            conn,
            tables.Debtor.__table__,  # type: ignore[arg-type]
            "id",
            changed.select("id")
            .hstack(_debtor_columns(changed, now=now))
            .drop("external_id", "created_at", "version"),
        )
        persons, contacts = _contact_rows(changed, now=now)
        _insert_contacts(conn, persons, contacts, _debtor_keys(changed), only_new=True)
    ids = pl.concat(
        [
            fresh.select(pl.col("debtor_id").alias("external_id"), pl.col("id").alias("debtor_pk")).filter(
                pl.col("debtor_pk").is_not_null()
            ),
            new.select(pl.col("debtor_id").alias("external_id"), pl.col("id").alias("debtor_pk")),
            known.select(pl.col("debtor_id").alias("external_id")).join(
                pl.DataFrame(
                    {"external_id": list(seen), "debtor_pk": list(seen.values())},
                    schema={"external_id": pl.String, "debtor_pk": pl.Int64},
                ),
                on="external_id",
                maintain_order="left",
            ),
        ]
    ).unique(subset="external_id", keep="first", maintain_order=True)
    seen.update(dict(ids.iter_rows()))
    return ids


def _debtor_keys(debtors: pl.DataFrame) -> pl.DataFrame:
    """``_debtor`` (external id) → ``debtor_id`` (stored id) of import rows that have their ``id``."""
    return debtors.select(pl.col("debtor_id").alias("_debtor"), pl.col("id").alias("debtor_id"))


def _sealed(kind: PersonalKind, column: str) -> pl.Expr:
    return pl.col(column).map_batches(lambda s: personal.seal_column(kind, s), return_dtype=pl.String)


def _debtor_columns(frame: pl.DataFrame, *, now: dt.datetime) -> pl.DataFrame:
    """The debtors columns of import rows (personal fields sealed), but for ``id``."""
    country = pl.col("country").str.strip_chars().str.to_uppercase()
    jurisdiction = pl.coalesce(
        pl.col("jurisdiction").str.strip_chars().str.to_uppercase(), country, pl.lit("CN")
    )
    national_id = pl.col("national_id").str.strip_chars().str.to_uppercase()
    return frame.with_columns(national_id.alias("national_id")).select(
        pl.col("debtor_id").alias("external_id"),
        jurisdiction.alias("jurisdiction"),
        pl.col("timezone").str.strip_chars().alias("timezone"),
        pl.coalesce(pl.col("language"), pl.when(jurisdiction.str.starts_with("CN")).then(pl.lit("zh"))
                    .otherwise(pl.lit("en"))).alias("language"),
        _sealed(PersonalKind.NAME, "debtor_name").alias("name"),
        _sealed(PersonalKind.NATIONAL_ID, "national_id").alias("national_id"),
        pl.col("national_id").map_batches(lambda s: personal.lookup_key_column(PersonalKind.NATIONAL_ID, s),
                                          return_dtype=pl.String).alias("national_id_lookup"),
        _sealed(PersonalKind.EMPLOYER, "employer").alias("employer"),
        _sealed(PersonalKind.INCOME, "monthly_income").alias("monthly_income"),
        country.alias("address_country"),
        pl.col("region").str.strip_chars().alias("address_region"),
        pl.col("city").str.strip_chars().alias("address_city"),
        pl.col("_debtor_hash").alias("row_hash"),
        pl.lit(now).alias("created_at"),
        pl.lit(now).alias("updated_at"),
        pl.lit(1).alias("version"),
    )  # fmt: skip


_CONTACTS = (
    ("_mobile_phone", "phone", "mobile", PersonalKind.PHONE),
    ("_home_phone", "phone", "home", PersonalKind.PHONE),
    ("_work_phone", "phone", "work", PersonalKind.PHONE),
    ("email", "email", "other", PersonalKind.EMAIL),
    ("address", "address", "home", PersonalKind.ADDRESS),
)


def _contact_rows(debtors: pl.DataFrame, *, now: dt.datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Emergency contacts (persons) and contact points of import rows, sealed, but for ids.

    Both name their debtor by external id (``_debtor``); a contact point of the emergency contact has
    ``_of_person`` set. Contact points keep the order of ``_CONTACTS`` within each source.
    """
    parts = [
        debtors.filter(pl.col(source).is_not_null()).select(
            pl.col("debtor_id").alias("_debtor"),
            pl.lit(False).alias("_of_person"),
            pl.lit(kind).alias("kind"),
            pl.lit(place).alias("place"),
            pl.col(source).str.strip_chars().alias("_value"),
            pl.lit(str(pk)).alias("_pkind"),
        )
        for source, kind, place, pk in _CONTACTS
    ]
    with_person = debtors.filter(pl.col("emergency_contact_name").is_not_null())
    persons = with_person.select(
        pl.col("debtor_id").alias("_debtor"),
        pl.lit("emergency_contact").alias("role"),
        pl.col("emergency_contact_relation").alias("relation"),
        _sealed(PersonalKind.NAME, "emergency_contact_name").alias("name"),
        pl.lit(now).alias("created_at"),
    )
    parts.append(
        with_person.filter(pl.col("_emergency_contact_phone").is_not_null()).select(
            pl.col("debtor_id").alias("_debtor"),
            pl.lit(True).alias("_of_person"),
            pl.lit("phone").alias("kind"),
            pl.lit("mobile").alias("place"),
            pl.col("_emergency_contact_phone").alias("_value"),
            pl.lit(str(PersonalKind.PHONE)).alias("_pkind"),
        )
    )
    points = pl.concat(parts).with_row_index("_order")
    sealed = [
        group.with_columns(
            personal.seal_column(PersonalKind(str(pk)), group["_value"]).alias("value"),
            personal.lookup_key_column(PersonalKind(str(pk)), group["_value"]).alias("lookup"),
        )
        for (pk,), group in points.group_by("_pkind")
    ]
    if sealed:
        points = pl.concat(sealed).sort("_order")
    else:
        points = points.with_columns(
            pl.lit(None, dtype=pl.String).alias("value"), pl.lit(None, dtype=pl.String).alias("lookup")
        )
    columns = ["_debtor", "_of_person", "kind", "place", "value", "lookup"]
    return persons, points.select(*columns, pl.lit(now).alias("created_at"))


def _insert_contacts(
    conn: Any,
    persons: pl.DataFrame,
    points: pl.DataFrame,
    debtor_keys: pl.DataFrame,
    *,
    only_new: bool = False,
) -> None:
    """Insert persons and contact points (from :func:`_contact_rows`) of debtors with stored ids.

    ``debtor_keys`` maps ``_debtor`` to ``debtor_id``. With ``only_new``, an emergency contact is added
    only to a debtor who has none yet, and a contact point only where the debtor has no point with the
    same lookup key.
    """
    persons = persons.join(debtor_keys, on="_debtor", maintain_order="left")
    if only_new and persons.height:
        on_file = {
            r[0]
            for r in conn.execute(
                select(tables.Person.debtor_id).where(
                    tables.Person.debtor_id.in_(persons["debtor_id"].to_list())
                )
            )
        }
        persons = persons.filter(~pl.col("debtor_id").is_in(list(on_file)))
    persons = _with_ids(conn, "persons", persons)
    bulk.insert_frame(
        conn, "persons", persons.select("id", "debtor_id", "role", "relation", "name", "created_at")
    )
    person_of = persons.select("_debtor", pl.col("id").alias("person_id"))
    points = (
        points.join(debtor_keys, on="_debtor", maintain_order="left")
        .join(person_of, on="_debtor", how="left", maintain_order="left")
        .filter(~pl.col("_of_person") | pl.col("person_id").is_not_null())
        .with_columns(pl.when(pl.col("_of_person")).then(pl.col("person_id")).alias("person_id"))
    )
    if only_new and points.height:
        have = pl.DataFrame(
            conn.execute(
                select(tables.ContactPoint.debtor_id, tables.ContactPoint.lookup).where(
                    tables.ContactPoint.debtor_id.in_(debtor_keys["debtor_id"].to_list())
                )
            ).all(),
            schema={"debtor_id": pl.Int64, "lookup": pl.String},
            orient="row",
        )
        points = points.join(have, on=["debtor_id", "lookup"], how="anti", maintain_order="left")
    points = _with_ids(conn, "contact_points", points)
    bulk.insert_frame(
        conn,
        "contact_points",
        points.select("id", "debtor_id", "person_id", "kind", "place", "value", "lookup", "created_at"),
    )
