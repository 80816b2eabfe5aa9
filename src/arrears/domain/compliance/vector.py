"""The vectorised part of the batch form: whole-column frequency counts and local windows.

A proposal is judged here only when every rule that applies to it is either one this module
computes over columns (Reg F 7-in-7 and cool-down counted in calendar days, the call-pattern
review, local windows, the CN daily caps) or one that cannot fire for a *plain* row: the debtor
as recipient, no flags, no disputed debt, no text, recording not refused and no consent events.
Everything else goes to the per-row engine (:func:`plain_specs` answers ``None``). The batch and
the single check agreeing is a tested property (tests/unit/compliance/test_batch_equivalence.py).

Why the settling step is simpler here than in the engine: for a plain row every frequency rule
that fires at ``now`` fires exactly until its own ``until`` (there are no future events, so its
count can only fall), and one that does not fire at ``now`` never fires later. The earliest
instant every temporal rule passes is therefore the first instant at or after the latest
``until`` that is open in every local window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache

import polars as pl

from arrears.domain.compliance.enums import CONNECTED_OUTCOMES, PHONE_CHANNELS, Actor, Channel, Outcome, Role
from arrears.domain.compliance.packs import Pack, RuleSpec
from arrears.domain.compliance.rules import _COMMUNICATED, _MA_COUNTED, _UNANSWERED, _hhmm
from arrears.domain.compliance.zones import DayWindow, day_window, next_open, start_of_day, zone

__all__ = ["SAFE_CHECKS", "VECTOR_CHECKS", "judge_plain", "plain_specs", "settle_windows", "window_next"]

# Checks that pass, or give only an obligation, for a plain row (see the module docstring):
# each reads a flag, a debt's dispute, the text, a third party or ``recording`` only.
SAFE_CHECKS = frozenset(
    {
        "bankruptcy", "written_cease", "attorney", "dispute", "breathing_space", "opt_out",
        "statute_barred_asserted", "employer_prohibits", "third_party_disclosure", "identity_verified",
        "content_prohibited", "content_required", "limited_content_voicemail", "time_barred_suit",
        "overshadowing", "artificial_voice_consent", "cn_contact_gate",
        "third_party_refused", "us_location_contact", "recording_required",
    }
)  # fmt: skip
VECTOR_CHECKS = frozenset(
    {
        "regf_frequency",
        "regf_cooldown",
        "regf_pattern",
        "time_window",
        "cn_effective_conversations",
        "cn_unanswered",
        "ma_calls",
        "wa_communications",
        "account_cap",
        "deceased",
        "inconvenient_times",
    }
)

_UTC_DT = pl.Datetime("us", "UTC")
_SEVERITY = {o.value: o.severity for o in Outcome}
_BY_SEVERITY = {o.severity: o.value for o in Outcome}
_CONNECTED = sorted(o.value for o in CONNECTED_OUTCOMES)
_PHONE = sorted(c.value for c in PHONE_CHANNELS)
_MISSES = sorted(o.value for o in _UNANSWERED)
_MA_OUTCOMES = sorted(o.value for o in _MA_COUNTED)
_MA_CHANNELS = sorted(c.value for c in (Channel.CALL, Channel.SMS, Channel.VOICEMAIL_MESSAGE))
_COMMUNICATED_OUTCOMES = sorted(o.value for o in _COMMUNICATED)


def _vectorisable(spec: RuleSpec) -> bool:
    if spec.check in SAFE_CHECKS:
        return True
    if spec.check not in VECTOR_CHECKS:
        return False
    if spec.check in {"regf_frequency", "regf_cooldown"}:
        return str(spec.params.get("window_mode", "calendar_days")) == "calendar_days"
    return True


def plain_specs(
    packs: Sequence[Pack], actor: Actor, channel: Channel, today: dt.date
) -> tuple[RuleSpec, ...] | None:
    """The applicable rules this module computes for a plain debtor row, in evaluation order.

    ``None`` when an applicable rule is neither computed here nor unable to fire (the row then
    goes to the engine).
    """
    out: list[RuleSpec] = []
    for pack in packs:
        for spec in pack.rules:
            if not spec.applies(actor, channel, Role.DEBTOR, today):
                continue
            if not _vectorisable(spec):
                return None
            if spec.check in VECTOR_CHECKS:
                out.append(spec)
    return tuple(out)


@lru_cache(maxsize=8192)
def window_next(t: dt.datetime, zones: tuple[str, ...], start: str, end: str) -> dt.datetime | None:
    """The engine's ``time_window`` for a plain row: first instant at or after ``t`` open everywhere."""
    return next_open(t, zones, day_window(((_hhmm(start), _hhmm(end)),)))


@lru_cache(maxsize=8192)
def _quiet_next(t: dt.datetime, zones: tuple[str, ...], quiet: DayWindow) -> dt.datetime | None:
    return next_open(t, zones, quiet)


def _window_zones(spec: RuleSpec, zones: tuple[str, ...]) -> tuple[str, ...]:
    fixed = spec.params.get("zone")
    return (str(fixed),) if fixed else zones


def settle_windows(
    start: dt.datetime,
    windows: Sequence[RuleSpec],
    zones: tuple[str, ...],
    quiet: DayWindow | None = None,
) -> dt.datetime | None:
    """The first instant at or after ``start`` open in every window, or None (the engine decides).

    Mirrors the engine's settling loop (same order, same iteration limit); ``None`` when a
    window has no open instant within its horizon or the loop does not settle, and the row is
    then judged by the engine, which names the rule that got stuck. ``quiet`` is the debtor's
    open day outside the times they said are inconvenient (evaluated after the windows, in every
    plausible zone, as the engine's ``inconvenient_times``).
    """
    t = start
    for _ in range(64):
        moved = False
        for spec in windows:
            nxt = window_next(
                t, _window_zones(spec, zones), str(spec.params["start"]), str(spec.params["end"])
            )
            if nxt is None:
                return None
            if nxt != t:
                t, moved = nxt, True
        if quiet is not None:
            nxt = _quiet_next(t, zones, quiet)
            if nxt is None:
                return None
            if nxt != t:
                t, moved = nxt, True
        if not moved:
            return t
    return None


def _starts_of_days(hit: pl.DataFrame) -> pl.DataFrame:
    """Adds ``until``: ``start_of_day(free_day)`` in the row's primary zone, once per distinct pair."""
    pairs = hit.select("primary", "free_day").unique()
    table = pl.DataFrame(
        {
            "primary": pairs["primary"],
            "free_day": pairs["free_day"],
            "until": [start_of_day(day, zone(name)) for name, day in pairs.iter_rows()],
        },
        schema={"primary": pl.String, "free_day": pl.Date, "until": _UTC_DT},
    )
    return hit.join(table, on=["primary", "free_day"], how="left")


def _cap_hits(counted: pl.DataFrame, keys: Sequence[str], cap: int, days: int) -> pl.DataFrame:
    """Keys whose counted events reach ``cap`` in the ``days`` calendar days ending today.

    Mirrors the engine's ``_cap_until``: the cap-th latest local day plus the window is the first
    free day, and ``until`` is its start in the primary zone. ``counted`` needs ``keys``,
    ``primary``, ``today`` and ``local_day``.
    """
    # One sort of the whole frame, not one per group: a group keeps the frame's row order.
    hit = (
        counted.filter(pl.col("local_day") > pl.col("today") - pl.duration(days=days))
        .sort("local_day", descending=True)
        .group_by(*keys, "primary")
        .agg(pl.col("local_day").get(cap - 1, null_on_oob=True).alias("nth"))
        .filter(pl.col("nth").is_not_null())
        .with_columns((pl.col("nth") + pl.duration(days=days)).alias("free_day"))
    )
    return _starts_of_days(hit)


def _covering(pairs: pl.DataFrame, case_events: pl.DataFrame) -> pl.DataFrame:
    """Each (debtor, debt) pair with every event that concerns the debt, once per event.

    An event naming no debt concerns every debt, and every event concerns the account as a whole
    (``*``), as the engine's ``covers``. Three equi-joins instead of one join filtered on the
    list of debts: no list column is copied per pair.
    """
    events = case_events.with_row_index("_event")
    named = events.filter(pl.col("debts").list.len() > 0)
    whole = pairs.filter(pl.col("debt") == "*")
    debts = pairs.filter(pl.col("debt") != "*")
    by_debt = named.with_columns(pl.col("debts").list.unique().alias("debt")).explode("debt").drop("debts")
    parts = [
        debts.join(by_debt, on=["debtor_id", "debt"], how="inner"),
        debts.join(events.filter(pl.col("debts").list.len() == 0).drop("debts"), on="debtor_id", how="inner"),
        whole.join(events.drop("debts"), on="debtor_id", how="inner"),
    ]
    return pl.concat(parts, how="diagonal").drop("_event")


def judge_plain(
    *,
    now: dt.datetime,
    rows: pl.DataFrame,
    case_events: pl.DataFrame,
    specs: tuple[RuleSpec, ...],
    zone_sets: Mapping[str, tuple[str, ...]],
    quiet_sets: Mapping[str, DayWindow] | None = None,
) -> pl.DataFrame:
    """Judge plain rows column-wise; every row is judged by the same ``specs``.

    ``rows``: ``_row`` (u32), ``debtor_id``, ``channel``, ``primary`` (zone name), ``zkey`` (key
    of the debtor's plausible zones in ``zone_sets``), ``today`` (date of ``now`` in the primary
    zone), ``contact_point``, ``at_work`` (the proposed point is a workplace one), ``deceased``,
    ``quiet`` (key in ``quiet_sets`` of the open day left by the debtor's inconvenient times, null
    when none) and ``debt_ids`` (the debts the proposal concerns, ``["*"]`` for the account).
    ``case_events``: every person's history of the case (``debtor_id``, ``at``, ``channel``,
    ``direction``, ``outcome``, ``contact_point``, ``debts``, ``local_day`` in the primary zone,
    ``is_own`` for the debtor's own events, ``is_spouse`` for a spouse's, ``at_work`` when the
    event's point is one of the debtor's workplace points). Returns ``_row``, ``outcome``,
    ``next_allowed_at``, ``rules``, ``rule_outcomes`` and ``_engine`` (true where the engine must
    judge the row after all).
    """
    quiet_sets = quiet_sets or {}
    base = rows.select(
        "_row", "debtor_id", "primary", "zkey", "today", "contact_point", "at_work", "deceased", "quiet"
    )
    exploded = rows.select(
        "_row", "debtor_id", "channel", "at_work", pl.col("debt_ids").alias("debt")
    ).explode("debt")
    debtor_info = base.select("debtor_id", "primary", "today").unique("debtor_id")
    pairs = exploded.select("debtor_id", "debt").unique().join(debtor_info, on="debtor_id")
    covering = _covering(pairs, case_events)
    own_covering = covering.filter("is_own")
    events = case_events.filter("is_own")
    debtor_days = base.select("debtor_id", "today").unique("debtor_id")
    connected = events.filter(
        (pl.col("direction") == "outbound")
        & pl.col("channel").is_in(_PHONE)
        & pl.col("outcome").is_in(_CONNECTED)
    )
    per_rule: list[pl.DataFrame] = []
    for order, spec in enumerate(specs):
        p = spec.params
        fired: pl.DataFrame
        if spec.check in {"regf_frequency", "regf_cooldown"}:
            days = int(p["window_days"])
            if spec.check == "regf_frequency":
                # 12 CFR 1006.14(b)(2)(i)(A): connected outbound calls about the debt, counted by
                # calendar day in the primary zone; the cap-th latest day plus the window frees it.
                cap = int(p["max_calls"])
                counted = own_covering.filter(
                    (pl.col("direction") == "outbound")
                    & pl.col("channel").is_in(_PHONE)
                    & pl.col("outcome").is_in(_CONNECTED)
                )
                hit = _cap_hits(counted, ("debtor_id", "debt"), cap, days)
            else:
                # 12 CFR 1006.14(b)(2)(i)(B): the conversation date is day 1 of the window.
                hit = (
                    own_covering.filter((pl.col("channel") == "call") & (pl.col("outcome") == "conversation"))
                    .group_by("debtor_id", "debt", "primary")
                    .agg(pl.col("local_day").max().alias("last_day"))
                    .with_columns((pl.col("last_day") + pl.duration(days=days)).alias("free_day"))
                )
                hit = _starts_of_days(hit).filter(pl.col("until") > now)
            fired = (
                exploded.join(hit.select("debtor_id", "debt", "until"), on=["debtor_id", "debt"], how="inner")
                .group_by("_row")
                .agg(pl.col("until").max())
                .with_columns(pl.lit(spec.effect.value).alias("outcome"))
            )
        elif spec.check == "regf_pattern":
            # Comment 14(b)(2)(i)-2: a burst of calls, or many calls across debts, goes to review.
            window = int(p.get("window_days", 7))
            agg = (
                connected.join(debtor_days, on="debtor_id")
                .group_by("debtor_id")
                .agg(
                    pl.col("at").max().alias("last_at"),
                    (pl.col("local_day") >= pl.col("today") - pl.duration(days=window - 1))
                    .sum()
                    .alias("recent"),
                )
            )
            gap, limit = p.get("min_gap_minutes"), p.get("aggregate_calls")
            cond = pl.lit(False)
            if gap:
                cond = cond | (pl.lit(now, dtype=_UTC_DT) - pl.col("last_at") < pl.duration(minutes=int(gap)))
            if limit:
                cond = cond | (pl.col("recent") + 1 > int(limit))
            hits = agg.filter(cond).select("debtor_id")
            fired = base.join(hits, on="debtor_id", how="semi").select(
                "_row", pl.lit(None, dtype=_UTC_DT).alias("until"), pl.lit(spec.effect.value).alias("outcome")
            )
        elif spec.check in {"cn_effective_conversations", "cn_unanswered"}:
            tz_name = str(p.get("zone", "Asia/Shanghai"))
            cap = int(p["max_per_day"])
            day = now.astimezone(zone(tz_name)).date()
            until = start_of_day(day + dt.timedelta(days=1), zone(tz_name))
            on_day = pl.col("at").dt.convert_time_zone(tz_name).dt.date() == day
            if spec.check == "cn_effective_conversations":
                # GB/T 45251—2025: collector-initiated effective conversations with the debtor today.
                counts = (
                    events.filter(
                        (pl.col("direction") == "outbound")
                        & (pl.col("channel") == "call")
                        & (pl.col("outcome") == "conversation")
                        & on_day
                    )
                    .group_by("debtor_id")
                    .len()
                    .filter(pl.col("len") >= cap)
                )
                fired = base.join(counts, on="debtor_id", how="semi").select("_row")
            else:
                # CBA 2026: unanswered attempts to one number today, whoever they were meant for.
                counts = (
                    case_events.filter(
                        (pl.col("direction") == "outbound")
                        & pl.col("channel").is_in(_PHONE)
                        & pl.col("outcome").is_in(_MISSES)
                        & pl.col("contact_point").is_not_null()
                        & on_day
                    )
                    .group_by("debtor_id", "contact_point")
                    .len()
                    .filter(pl.col("len") >= cap)
                )
                fired = base.join(counts, on=["debtor_id", "contact_point"], how="semi").select("_row")
            fired = fired.with_columns(
                pl.lit(until, dtype=_UTC_DT).alias("until"), pl.lit(spec.effect.value).alias("outcome")
            )
        elif spec.check == "ma_calls":
            # 940 CMR 7.04(1)(f), 209 CMR 18.16(1)(f): per debt, calls and texts that could leave a
            # message, personal numbers and other (workplace) numbers counted apart.
            counted = own_covering.filter(
                (pl.col("direction") == "outbound")
                & pl.col("channel").is_in(_MA_CHANNELS)
                & pl.col("outcome").is_in(_MA_OUTCOMES)
            )
            buckets = []
            for work, cap_key, days_key in (
                (False, "personal_max", "personal_days"),
                (True, "other_max", "other_days"),
            ):
                bucket = _cap_hits(
                    counted.filter(pl.col("at_work") == work),
                    ("debtor_id", "debt"),
                    int(p[cap_key]),
                    int(p[days_key]),
                )
                buckets.append(bucket.select("debtor_id", "debt", "until", pl.lit(work).alias("at_work")))
            fired = (
                exploded.join(pl.concat(buckets), on=["debtor_id", "debt", "at_work"], how="inner")
                .group_by("_row")
                .agg(pl.col("until").max())
                .with_columns(pl.lit(spec.effect.value).alias("outcome"))
            )
        elif spec.check == "account_cap":
            # Per-account caps (D.C. Code 28-3814): outbound contacts over the listed channels, per debt.
            channels = sorted(str(c) for c in p["channels"])
            counted = covering.filter((pl.col("direction") == "outbound") & pl.col("channel").is_in(channels))
            hit = _cap_hits(counted, ("debtor_id", "debt"), int(p["max_contacts"]), int(p["window_days"]))
            fired = (
                exploded.filter(pl.col("channel").is_in(channels))
                .join(hit.select("debtor_id", "debt", "until"), on=["debtor_id", "debt"], how="inner")
                .group_by("_row")
                .agg(pl.col("until").max())
                .with_columns(pl.lit(spec.effect.value).alias("outcome"))
            )
        elif spec.check == "wa_communications":
            # RCW 19.16.250: communications with the debtor or a spouse, any debt; at a workplace
            # point the workplace cap applies too. The rule fires until the later of the two ends
            # (the weekly cap is checked first, the workplace cap once it passes).
            counted = case_events.join(debtor_info, on="debtor_id", how="inner").filter(
                (pl.col("is_own") | pl.col("is_spouse"))
                & (pl.col("direction") == "outbound")
                & pl.col("outcome").is_in(_COMMUNICATED_OUTCOMES)
            )
            days = int(p["window_days"])
            weekly = _cap_hits(counted, ("debtor_id",), int(p["max_per_week"]), days)
            at_work = _cap_hits(counted.filter("at_work"), ("debtor_id",), int(p["max_work_per_week"]), days)
            fired = (
                pl.concat(
                    [
                        base.join(weekly.select("debtor_id", "until"), on="debtor_id", how="inner"),
                        base.filter("at_work").join(
                            at_work.select("debtor_id", "until"), on="debtor_id", how="inner"
                        ),
                    ]
                )
                .group_by("_row")
                .agg(pl.col("until").max())
                .with_columns(pl.lit(spec.effect.value).alias("outcome"))
            )
        elif spec.check == "deceased":
            fired = base.filter("deceased").select(
                "_row", pl.lit(None, dtype=_UTC_DT).alias("until"), pl.lit(spec.effect.value).alias("outcome")
            )
        elif spec.check == "inconvenient_times":
            # 15 USC 1692c(a)(1): times the debtor said are inconvenient, in every plausible zone;
            # once per distinct (zone set, stated times).
            stated: dict[tuple[str, str], tuple[dt.datetime | None, str]] = {}
            for key, quiet in (
                base.filter(pl.col("quiet").is_not_null()).select("zkey", "quiet").unique().iter_rows()
            ):
                nxt = _quiet_next(now, zone_sets[key], quiet_sets[quiet])
                if nxt != now:
                    stated[(key, quiet)] = (nxt, Outcome.REVIEW.value if nxt is None else spec.effect.value)
            table = pl.DataFrame(
                {
                    "zkey": [k[0] for k in stated],
                    "quiet": [k[1] for k in stated],
                    "until": [v[0] for v in stated.values()],
                    "outcome": [v[1] for v in stated.values()],
                },
                schema={"zkey": pl.String, "quiet": pl.String, "until": _UTC_DT, "outcome": pl.String},
            )
            fired = base.join(table, on=["zkey", "quiet"], how="inner").select("_row", "until", "outcome")
        elif spec.check == "time_window":
            # Open in every plausible zone (Official Interpretation 6(b)(1)(i)); once per zone set.
            found: dict[str, tuple[dt.datetime | None, str]] = {}
            for key in base["zkey"].unique().to_list():
                zones = _window_zones(spec, zone_sets[key])
                nxt = window_next(now, zones, str(p["start"]), str(p["end"]))
                if nxt != now:
                    found[key] = (nxt, Outcome.REVIEW.value if nxt is None else spec.effect.value)
            table = pl.DataFrame(
                {
                    "zkey": list(found),
                    "until": [v[0] for v in found.values()],
                    "outcome": [v[1] for v in found.values()],
                },
                schema={"zkey": pl.String, "until": _UTC_DT, "outcome": pl.String},
            )
            fired = base.join(table, on="zkey", how="inner").select("_row", "until", "outcome")
        else:  # pragma: no cover - plain_specs admits only the checks above
            raise AssertionError(spec.check)
        per_rule.append(
            fired.select(
                pl.col("_row").cast(pl.UInt32),
                pl.col("until").cast(_UTC_DT),
                pl.col("outcome").cast(pl.String),
                pl.lit(order, dtype=pl.Int32).alias("order"),
                pl.lit(spec.id).alias("id"),
            )
        )
    allrules = (
        pl.concat(per_rule)
        if per_rule
        else pl.DataFrame(
            schema={
                "_row": pl.UInt32,
                "until": _UTC_DT,
                "outcome": pl.String,
                "order": pl.Int32,
                "id": pl.String,
            }
        )
    )
    # As in the engine: a delay with no instant after now at which it ends is a review.
    allrules = allrules.with_columns(
        pl.when((pl.col("outcome") == "delay") & (pl.col("until").is_null() | (pl.col("until") <= now)))
        .then(pl.lit("review"))
        .otherwise(pl.col("outcome"))
        .alias("outcome")
    ).with_columns(
        pl.col("outcome").replace_strict(_SEVERITY, return_dtype=pl.Int8).alias("sev"),
        pl.when(pl.col("outcome") == "delay").then(pl.col("until")).alias("until"),
    )
    summary = (
        allrules.sort("_row", "order")
        .group_by("_row")
        .agg(
            pl.col("id").alias("rules"),
            pl.col("outcome").alias("rule_outcomes"),
            pl.col("sev").max().alias("sev"),
            pl.col("until").max().alias("start"),
        )
    )
    out = (
        base.select("_row", "zkey", "quiet")
        .join(summary, on="_row", how="left")
        .with_columns(
            pl.col("rules").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("rule_outcomes").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("sev").fill_null(0),
        )
        .with_columns(pl.col("sev").replace_strict(_BY_SEVERITY, return_dtype=pl.String).alias("outcome"))
    )
    windows = [s for s in specs if s.check == "time_window"]
    quiet_applies = any(s.check == "inconvenient_times" for s in specs)
    delayed = out.filter(pl.col("outcome") == "delay").select("zkey", "quiet", "start").unique()
    settled = {
        (key, quiet, start): settle_windows(
            start, windows, zone_sets[key], quiet_sets[quiet] if quiet_applies and quiet is not None else None
        )
        for key, quiet, start in delayed.iter_rows()
    }
    table = pl.DataFrame(
        {
            "zkey": [k[0] for k in settled],
            "quiet": [k[1] for k in settled],
            "start": [k[2] for k in settled],
            "next_allowed_at": list(settled.values()),
        },
        schema={"zkey": pl.String, "quiet": pl.String, "start": _UTC_DT, "next_allowed_at": _UTC_DT},
    )
    out = out.join(table, on=["zkey", "quiet", "start"], how="left", nulls_equal=True).with_columns(
        pl.when(pl.col("outcome") == "delay").then(pl.col("next_allowed_at")).alias("next_allowed_at"),
    )
    out = out.with_columns(
        ((pl.col("outcome") == "delay") & pl.col("next_allowed_at").is_null()).alias("_engine")
    )
    return out.select("_row", "outcome", "next_allowed_at", "rules", "rule_outcomes", "_engine")
