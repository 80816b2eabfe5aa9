"""Synthetic overdue portfolios for the demo and the benchmarks.

Chinese debtors with plausible names, valid 18-digit resident ID numbers (GB 11643 check digit),
mobile numbers and addresses; CNY consumer loans whose balances agree with their schedules: each
account has paid its first k instalments and owes the rest, so its days past due follow from the
schedule. Seeded and vectorised, so a million rows take seconds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from arrears.domain.schedule_frame import schedule_frame

__all__ = ["generate_accounts", "generate_payments", "write"]

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌鹏辉宇浩凯婷雪琳晨欣怡")
REGIONS = [
    ("110105", "北京", "CN-BJ", "北京市朝阳区"),
    ("310104", "上海", "CN-SH", "上海市徐汇区"),
    ("440305", "深圳", "CN-GD", "广东省深圳市南山区"),
    ("440106", "广州", "CN-GD", "广东省广州市天河区"),
    ("330106", "杭州", "CN-ZJ", "浙江省杭州市西湖区"),
    ("510107", "成都", "CN-SC", "四川省成都市武侯区"),
    ("420106", "武汉", "CN-HB", "湖北省武汉市武昌区"),
    ("320106", "南京", "CN-JS", "江苏省南京市鼓楼区"),
]
STREETS = ["建国路", "中山路", "人民路", "解放路", "长江路", "和平街", "科技园路", "滨江大道"]
MOBILE_PREFIXES = ["130", "131", "135", "136", "138", "139", "150", "151", "158", "177", "186", "188", "199"]
RELATIONS = ["spouse", "parent", "sibling", "friend", "colleague"]
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.array(list("10X98765432"))


def _pick(rng: np.random.Generator, values: list[str], n: int) -> np.ndarray:
    return np.array(values)[rng.integers(0, len(values), n)]


def _national_ids(rng: np.random.Generator, regions: np.ndarray, n: int) -> np.ndarray:
    births = np.datetime64("1962-01-01") + rng.integers(0, 365 * 40, n).astype("timedelta64[D]")
    birth_text = np.datetime_as_string(births, unit="D")
    birth_digits = np.char.replace(birth_text, "-", "")
    seq = np.char.zfill(rng.integers(0, 1000, n).astype(str), 3)
    first17 = np.char.add(np.char.add(regions, birth_digits), seq)
    digits = np.array([list(s) for s in first17], dtype=np.int64) if n else np.zeros((0, 17), dtype=np.int64)
    check = _CHECK[(digits * _WEIGHTS).sum(axis=1) % 11] if n else np.array([], dtype=str)
    return np.char.add(first17, check)


def generate_accounts(
    n: int, *, as_of: dt.date, seed: int = 7, product: str = "cn-consumer-loan"
) -> pl.DataFrame:
    """``n`` overdue (and a few current) accounts in the import format, balances stated at ``as_of``."""
    rng = np.random.default_rng(seed)
    debtors = max(1, int(n * 0.9))
    debtor_of = np.where(rng.random(n) < 0.9, np.arange(n) % debtors, rng.integers(0, debtors, n))
    region_idx = rng.integers(0, len(REGIONS), debtors)
    region_code = np.array([r[0] for r in REGIONS])[region_idx]
    names = np.char.add(np.char.add(_pick(rng, SURNAMES, debtors), _pick(rng, GIVEN, debtors)),
                        np.where(rng.random(debtors) < 0.6, _pick(rng, GIVEN, debtors), ""))  # fmt: skip
    ids = _national_ids(rng, region_code, debtors)
    mobiles = np.char.add(
        _pick(rng, MOBILE_PREFIXES, debtors), np.char.zfill(rng.integers(0, 10**8, debtors).astype(str), 8)
    )
    contact_mobiles = np.char.add(_pick(rng, MOBILE_PREFIXES, debtors),
                                  np.char.zfill(rng.integers(0, 10**8, debtors).astype(str), 8))  # fmt: skip
    term = rng.choice(np.array([6, 12, 12, 24, 36]), n)
    principal_yuan = rng.choice(np.array([3000, 5000, 8000, 10000, 20000, 30000, 50000, 80000, 100000]), n)
    principal = principal_yuan * 100 + rng.integers(0, 100, n) * 100
    rate_bp = rng.choice(np.array([720, 980, 1200, 1500, 1800, 2400]), n)  # annual rate in basis points
    # Instalments fallen due by as_of: between 1 and the term; paid: fewer, so the rest is overdue.
    due_count = np.minimum(term, rng.integers(1, 18, n))
    overdue_count = np.where(rng.random(n) < 0.07, 0, np.minimum(due_count, rng.geometric(0.45, n)))
    # First due date such that `due_count` instalments fell due by as_of.
    day = rng.integers(1, 29, n)
    first_due = []
    for k, d in zip(due_count.tolist(), day.tolist(), strict=True):
        # The k-th instalment is the last one due on or before as_of.
        month_index = as_of.year * 12 + as_of.month - 1 - (0 if d <= as_of.day else 1) - (k - 1)
        year, month0 = divmod(month_index, 12)
        first_due.append(dt.date(year, month0 + 1, d))
    first_due_arr = np.array(first_due, dtype="datetime64[D]")
    opened = (first_due_arr - np.timedelta64(30, "D")).astype("datetime64[D]")
    loans = pl.DataFrame(
        {
            "key": np.arange(n),
            "principal_minor": principal.astype(np.int64),
            "rate_num": rate_bp.astype(np.int64),
            "rate_den": np.full(n, 10_000, dtype=np.int64),
            "term": term.astype(np.int32),
            "method": np.where(rng.random(n) < 0.85, "equal-installment", "equal-principal"),
            "first_due_on": first_due_arr,
            "start_on": opened,
            "rounding": np.full(n, "half-up"),
        }
    )
    items = schedule_frame(loans)
    paid_count = pl.DataFrame({"key": np.arange(n), "_paid": (due_count - overdue_count).astype(np.int32)})
    sums = (
        items.join(paid_count, on="key")
        .group_by("key")
        .agg(
            pl.col("principal_minor")
            .filter(pl.col("number") <= pl.col("_paid"))
            .sum()
            .alias("paid_principal"),
            pl.col("interest_minor")
            .filter((pl.col("number") > pl.col("_paid")) & (pl.col("due_on") <= as_of))
            .sum()
            .alias("due_interest"),
            pl.col("principal_minor")
            .filter((pl.col("number") > pl.col("_paid")) & (pl.col("due_on") <= as_of))
            .sum()
            .alias("overdue_principal"),
        )
        .sort("key")
    )
    paid_principal = sums["paid_principal"].to_numpy()
    due_interest = sums["due_interest"].to_numpy()
    overdue_principal = sums["overdue_principal"].to_numpy()
    dpd_guess = np.where(overdue_count > 0, 30 * overdue_count, 0)
    penalty = (overdue_principal * rate_bp * 1.5 / 10_000 / 360 * dpd_guess * 0.5).astype(np.int64)
    fee = np.where(overdue_count > 0, 5000, 0)

    def money(minor: np.ndarray) -> pl.Expr:
        s = pl.Series(minor.astype(np.int64))
        return pl.format("{}.{}", s // 100, (s % 100).cast(pl.String).str.zfill(2))

    d = debtor_of
    frame = pl.DataFrame(
        {
            "account_id": [f"LN{seed:02d}{i:08d}" for i in range(n)],
            "debtor_id": [f"CU{seed:02d}{j:08d}" for j in d.tolist()],
            "debtor_name": names[d],
            "product": np.full(n, product),
            "currency": np.full(n, "CNY"),
            "principal": pl.select(money(principal)).to_series(),
            "annual_rate": [f"{b / 10_000:.4f}" for b in rate_bp.tolist()],
            "term_months": term.astype(str),
            "schedule_method": loans["method"],
            "opened_on": np.datetime_as_string(opened, unit="D"),
            "first_due_on": np.datetime_as_string(first_due_arr, unit="D"),
            "balances_as_of": np.full(n, as_of.isoformat()),
            "principal_balance": pl.select(money(principal - paid_principal)).to_series(),
            "interest_balance": pl.select(money(due_interest)).to_series(),
            "penalty_balance": pl.select(money(penalty)).to_series(),
            "fee_balance": pl.select(money(fee)).to_series(),
            "national_id": ids[d],
            "mobile_phone": mobiles[d],
            "email": [f"user{j}@example.com" for j in d.tolist()],
            "address": np.char.add(
                np.char.add(np.array([r[3] for r in REGIONS])[region_idx][d], _pick(rng, STREETS, n)),
                np.char.add(rng.integers(1, 300, n).astype(str), "号"),
            ),
            "city": np.array([r[1] for r in REGIONS])[region_idx][d],
            "region": np.array([r[2] for r in REGIONS])[region_idx][d],
            "country": np.full(n, "CN"),
            "language": np.full(n, "zh"),
            "emergency_contact_name": np.char.add(_pick(rng, SURNAMES, debtors), _pick(rng, GIVEN, debtors))[
                d
            ],
            "emergency_contact_relation": _pick(rng, RELATIONS, debtors)[d],
            "emergency_contact_phone": contact_mobiles[d],
        }
    )
    return frame


def generate_payments(
    accounts: pl.DataFrame, *, share: float, as_of: dt.date, seed: int = 11
) -> pl.DataFrame:
    """Payments in the week after ``as_of`` for a share of the accounts: arrears plus something more."""
    rng = np.random.default_rng(seed)
    chosen = accounts.filter(pl.Series(rng.random(accounts.height) < share))
    amounts = chosen.select(
        (pl.col("interest_balance").cast(pl.Float64) + pl.col("fee_balance").cast(pl.Float64)
         + pl.col("penalty_balance").cast(pl.Float64)).alias("arrears"),
    )["arrears"].to_numpy()  # fmt: skip
    extra = rng.choice(np.array([100, 500, 1000, 2000]), chosen.height)
    cents = np.round((amounts + extra) * 100).astype(np.int64)
    days_after = rng.integers(1, 8, chosen.height)
    received = (np.datetime64(as_of.isoformat()) + days_after.astype("timedelta64[D]")).astype(
        "datetime64[D]"
    )
    return pl.DataFrame(
        {
            "payment_id": [f"PY{seed:02d}{i:08d}" for i in range(chosen.height)],
            "account_id": chosen["account_id"],
            "amount": [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()],
            "currency": np.full(chosen.height, "CNY"),
            "received_on": np.datetime_as_string(received, unit="D"),
            "channel": _pick(rng, ["bank_transfer", "alipay", "wechat_pay", "debit_card"], chosen.height),
        }
    )


def write(frame: pl.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV, Parquet or JSON Lines by the suffix of ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    elif path.suffix == ".jsonl":
        frame.write_ndjson(path)
    else:
        frame.write_csv(path)
    return path
