"""The import file formats, as data: every column with its type, whether it is required, and meaning.

``docs/data-formats.md`` is generated from these tables (``python -m arrears.portfolio.schema``) and a
test keeps the committed page equal to the generated one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ACCOUNT_COLUMNS", "PAYMENT_COLUMNS", "ColumnSpec", "ColumnType", "render_markdown"]


class ColumnType(StrEnum):
    TEXT = "text"
    ID = "identifier"
    MONEY = "money"
    RATE = "decimal rate"
    INTEGER = "integer"
    DATE = "date"
    ENUM = "one of"
    JSON = "JSON"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: ColumnType
    required: bool
    meaning: str
    example: str
    choices: tuple[str, ...] = ()
    default: str | None = None
    max_length: int | None = None
    # A regular expression the trimmed value must match, and what the message says when it does not.
    pattern: str | None = None
    pattern_reason: str = ""


SCHEDULE_METHODS = ("equal-installment", "equal-principal", "interest-only", "bullet")
LANGUAGES = ("zh", "en")
RELATIONS = ("spouse", "parent", "child", "sibling", "relative", "friend", "colleague", "other")

ACCOUNT_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "account_id",
        ColumnType.ID,
        True,
        "The loan system's account number; the import key.",
        "LN-2026-000123",
        max_length=64,
    ),
    ColumnSpec(
        "debtor_id",
        ColumnType.ID,
        True,
        "The loan system's customer number; rows with the same debtor_id share one debtor.",
        "C-000045",
        max_length=64,
    ),
    ColumnSpec(
        "debtor_name",
        ColumnType.TEXT,
        True,
        "Full legal name of the debtor (personal data).",
        "张伟",
        max_length=200,
    ),
    ColumnSpec(
        "product",
        ColumnType.ID,
        True,
        "Product code (see `arrears product list`); sets currency, rounding, interest and waterfall.",
        "cn-consumer-loan",
        max_length=64,
    ),
    ColumnSpec(
        "currency", ColumnType.TEXT, False, "ISO 4217 code; must equal the product's currency.", "CNY"
    ),
    ColumnSpec("principal", ColumnType.MONEY, True, "Original principal lent.", "120000.00"),
    ColumnSpec(
        "annual_rate",
        ColumnType.RATE,
        True,
        "Contractual annual interest rate as a fraction (0.0435 = 4.35 %), 0 to 10.",
        "0.0435",
    ),
    ColumnSpec("term_months", ColumnType.INTEGER, True, "Number of monthly instalments, 1 to 600.", "36"),
    ColumnSpec(
        "schedule_method",
        ColumnType.ENUM,
        False,
        "How the contractual schedule is built from the terms.",
        "equal-installment",
        choices=SCHEDULE_METHODS,
        default="equal-installment",
    ),
    ColumnSpec(
        "opened_on", ColumnType.DATE, True, "Date the loan was drawn down (YYYY-MM-DD).", "2025-03-15"
    ),
    ColumnSpec(
        "first_due_on",
        ColumnType.DATE,
        False,
        "First instalment due date; default one month after opened_on.",
        "2025-04-15",
    ),
    ColumnSpec(
        "due_schedule",
        ColumnType.JSON,
        False,
        "The contractual schedule when it is not the standard one: a JSON array of "
        '{"due_on", "principal", "interest"}; overrides the terms. Principal must sum to principal.',
        '[{"due_on":"2025-04-15","principal":"1000.00","interest":"50.00"}]',
    ),
    ColumnSpec(
        "balances_as_of",
        ColumnType.DATE,
        True,
        "Date at which the balances below are stated by the loan system.",
        "2026-11-27",
    ),
    ColumnSpec(
        "principal_balance", ColumnType.MONEY, True, "Outstanding principal, due and not yet due.", "85321.10"
    ),
    ColumnSpec(
        "interest_balance",
        ColumnType.MONEY,
        False,
        "Contractual interest fallen due and unpaid (not accrued-but-not-due interest).",
        "1203.55",
        default="0",
    ),
    ColumnSpec(
        "penalty_balance", ColumnType.MONEY, False, "Unpaid penalty interest (罚息).", "88.20", default="0"
    ),
    ColumnSpec(
        "compound_balance", ColumnType.MONEY, False, "Unpaid compound interest (复利).", "3.10", default="0"
    ),
    ColumnSpec(
        "fee_balance", ColumnType.MONEY, False, "Unpaid fees (late fees and the like).", "50.00", default="0"
    ),
    ColumnSpec(
        "cost_balance", ColumnType.MONEY, False, "Unpaid legal and collection costs.", "0", default="0"
    ),
    ColumnSpec(
        "national_id",
        ColumnType.TEXT,
        False,
        "National ID number; a Chinese 18-digit 身份证号 is checked (check digit, birth date).",
        "11010519491231002X",
        max_length=32,
    ),
    ColumnSpec(
        "mobile_phone",
        ColumnType.TEXT,
        False,
        "Debtor's mobile number; Chinese numbers may omit +86.",
        "13800138000",
        max_length=32,
    ),
    ColumnSpec(
        "home_phone", ColumnType.TEXT, False, "Debtor's home number.", "+86 10 6552 9988", max_length=32
    ),
    ColumnSpec("work_phone", ColumnType.TEXT, False, "Debtor's work number.", "021-62345678", max_length=32),
    ColumnSpec(
        "email", ColumnType.TEXT, False, "Debtor's email address.", "zhang.wei@example.com", max_length=254
    ),
    ColumnSpec(
        "address",
        ColumnType.TEXT,
        False,
        "Postal address, one line.",
        "北京市朝阳区建国路88号",
        max_length=500,
    ),
    ColumnSpec("city", ColumnType.TEXT, False, "City of the address.", "北京", max_length=64),
    ColumnSpec(
        "region",
        ColumnType.TEXT,
        False,
        "Province or state (ISO 3166-2 code where there is one).",
        "CN-BJ",
        max_length=64,
    ),
    ColumnSpec(
        "country",
        ColumnType.TEXT,
        False,
        "ISO 3166-1 alpha-2 country of the address (two letters, either case).",
        "CN",
        pattern=r"^[A-Za-z]{2}$",
        pattern_reason="is not a two-letter ISO 3166-1 code",
    ),
    ColumnSpec(
        "jurisdiction",
        ColumnType.TEXT,
        False,
        "Whose collection rules apply (CN, US-NY, US-MA, GB-ENG, ...); default from country.",
        "CN",
        max_length=16,
    ),
    ColumnSpec(
        "timezone",
        ColumnType.TEXT,
        False,
        "IANA time zone of the debtor if known.",
        "Asia/Shanghai",
        max_length=64,
    ),
    ColumnSpec(
        "language", ColumnType.ENUM, False, "Language for letters and messages.", "zh", choices=LANGUAGES
    ),
    ColumnSpec(
        "employer",
        ColumnType.TEXT,
        False,
        "Employer name (personal data).",
        "某某科技有限公司",
        max_length=200,
    ),
    ColumnSpec(
        "monthly_income", ColumnType.MONEY, False, "Stated monthly income (personal data).", "15000.00"
    ),
    ColumnSpec(
        "emergency_contact_name",
        ColumnType.TEXT,
        False,
        "An emergency contact (紧急联系人).",
        "李娜",
        max_length=200,
    ),
    ColumnSpec(
        "emergency_contact_relation",
        ColumnType.ENUM,
        False,
        "The contact's relation to the debtor.",
        "spouse",
        choices=RELATIONS,
    ),
    ColumnSpec(
        "emergency_contact_phone",
        ColumnType.TEXT,
        False,
        "The contact's phone number.",
        "13900139000",
        max_length=32,
    ),
)

PAYMENT_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "payment_id",
        ColumnType.ID,
        True,
        "The payment's id in the paying system; the import key (a payment is posted once).",
        "PAY-778812",
        max_length=64,
    ),
    ColumnSpec(
        "account_id",
        ColumnType.ID,
        True,
        "The account paid; must already be imported.",
        "LN-2026-000123",
        max_length=64,
    ),
    ColumnSpec("amount", ColumnType.MONEY, True, "Amount received, greater than zero.", "1500.00"),
    ColumnSpec("currency", ColumnType.TEXT, False, "ISO 4217; must equal the account's currency.", "CNY"),
    ColumnSpec("received_on", ColumnType.DATE, True, "Value date of the payment.", "2026-11-20"),
    ColumnSpec(
        "channel",
        ColumnType.TEXT,
        False,
        "How it was paid (bank transfer, card, wechat, ...).",
        "bank_transfer",
        max_length=32,
    ),
    ColumnSpec(
        "reference",
        ColumnType.TEXT,
        False,
        "Free reference from the payer or bank.",
        "TX88123",
        max_length=128,
    ),
    ColumnSpec(
        "reverses_payment_id",
        ColumnType.ID,
        False,
        "Set on a bounce: the payment_id this row reverses (amount must equal the original).",
        "PAY-778812",
        max_length=64,
    ),
)


def _describe_type(spec: ColumnSpec) -> str:
    if spec.type is ColumnType.ENUM:
        return "one of " + ", ".join(f"`{c}`" for c in spec.choices)
    if spec.type is ColumnType.MONEY:
        return "money (decimal text, no more decimals than the currency has)"
    return spec.type.value


def render_markdown() -> str:
    """The data-formats page."""
    out = [
        "# Import data formats",
        "",
        "`arrears import accounts FILE` and `arrears import payments FILE` read CSV (UTF-8, with or without",
        "a byte-order mark; `.csv` or `.csv.gz`), Parquet (`.parquet`) and JSON Lines (`.jsonl`). Column",
        "names are the same in every format. Empty cells are missing values, and so are cells of only",
        'whitespace and quoted empty strings (`""`): a required column rejects the row, an optional one',
        "takes its default. Money is decimal text (`1234.56`, never a binary float) of at most 15 digits",
        "before the point; dates are ISO `YYYY-MM-DD` from 1900-01-01 to 2199-12-31. Amounts, rates,",
        "whole numbers, dates, ID numbers and phone numbers use ASCII digits `0-9`: other digits, such as",
        "full-width `０-９`, are refused with the reason, never converted. Row numbers in messages count",
        "data records from 1 (a CSV header is not a row).",
        "",
        "The import key appears once per file: a later row with the same `account_id` (or `payment_id`)",
        "is rejected as a repeat of the first, whether the first row was imported or rejected and wherever",
        "the two rows fall in the file.",
        "",
        "Every row is checked. Rows that fail are written with their row number, field and reason to",
        "`<input>.rejects.csv` beside the input, and every good row is still imported. Exit status: 0 when",
        "every row was taken, 3 when some were rejected, 2 when the file cannot be used at all (missing,",
        "unknown format, missing required column).",
        "",
        "Importing is idempotent by the import key: the same file twice adds nothing; a changed row",
        "updates the record (for an account whose balances changed, an adjustment entry brings the ledger",
        "to the new balances; the ledger itself is never edited).",
        "",
    ]
    for title, columns in (("Accounts", ACCOUNT_COLUMNS), ("Payments", PAYMENT_COLUMNS)):
        out += [
            f"## {title}",
            "",
            "| column | type | required | meaning | example |",
            "|---|---|---|---|---|",
        ]
        for c in columns:
            req = "yes" if c.required else (f"no (default `{c.default}`)" if c.default else "no")
            example = c.example.replace("|", "\\|")
            out.append(f"| `{c.name}` | {_describe_type(c)} | {req} | {c.meaning} | `{example}` |")
        out.append("")
    out += [
        "## How balances, the schedule and days past due fit together",
        "",
        "The contractual schedule comes from the terms (`principal`, `annual_rate`, `term_months`,",
        "`schedule_method`, `first_due_on`, rounded by the product's rule) or from `due_schedule`. The",
        "balances are the loan system's, as of `balances_as_of`. From both, arrears derives how much of what",
        "has fallen due is still unpaid: overdue principal = `principal_balance` − principal not yet due;",
        "overdue = overdue principal + `interest_balance`. The oldest instalment not covered by what was",
        "paid gives the days past due (contractual method). A row whose balances cannot be reconciled with",
        "its schedule (more principal outstanding than lent, less than is still to fall due, more unpaid",
        "than has fallen due) is rejected with the reason.",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
