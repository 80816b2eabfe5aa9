"""The batch form for the daily cycle: many proposed contacts against one history table.

Cases (debtor, persons, debts) are validated once, in one call; the history and proposal tables
are checked column-wise with Polars (enums, time zones, references). Plain rows (the debtor as
recipient, no flags, no disputed debt, no text, no consent events, and only rules that
:mod:`arrears.domain.compliance.vector` computes over columns) are judged by whole-column
operations; every other row is judged by the same engine as a single check, on already-validated
data. Both paths give the same decision as :func:`arrears.compliance.check` for every row (a
tested property).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import polars as pl
import pydantic

from arrears.domain.compliance.context import debtor_zones
from arrears.domain.compliance.engine import evaluate
from arrears.domain.compliance.enums import Actor, CallOutcome, Channel, Direction
from arrears.domain.compliance.models import (
    _KIND_FOR_CHANNEL,
    Debt,
    Debtor,
    Flags,
    HistoryEvent,
    Person,
    Proposed,
    Request,
)
from arrears.domain.compliance.packs import PackSet, RuleSpec, default_pack_ids, load_packs
from arrears.domain.compliance.vector import judge_plain, plain_specs
from arrears.domain.compliance.zones import DayWindow, day_window, zone
from arrears.errors import ValidationError

__all__ = ["HISTORY_COLUMNS", "PROPOSED_COLUMNS", "check_batch"]

HISTORY_COLUMNS = ("debtor_id", "at", "channel", "direction", "person", "contact_point", "debts", "outcome")
PROPOSED_COLUMNS = ("debtor_id", "channel")
_UTC = dt.UTC
_UTC_DT = pl.Datetime("us", "UTC")
_OPTIONAL_PROPOSED: dict[str, pl.DataType] = {
    "person": pl.String(),
    "contact_point": pl.String(),
    "debts": pl.List(pl.String()),
    "content": pl.String(),
    "ai_voice": pl.Boolean(),
    "recording": pl.Boolean(),
    "collector_name": pl.String(),
}


class _Case(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", frozen=True)

    debtor: Debtor
    persons: tuple[Person, ...] = ()
    debts: tuple[Debt, ...] = ()


_CASES = pydantic.TypeAdapter(list[_Case])
_DEFAULT_FLAGS = Flags()
# Flags the whole-column path computes: the deceased bar and the debtor's inconvenient times.
_SIMPLE_FLAGS = {"deceased": False, "inconvenient_times": ()}


def _require(frame: pl.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"{name}: missing column {missing[0]!r}", field=f"{name}.{missing[0]}")


def _check_enum(frame: pl.DataFrame, column: str, allowed: Sequence[str], name: str) -> None:
    bad = frame.with_row_index("_i").filter(
        ~pl.col(column).is_in(list(allowed)) & pl.col(column).is_not_null()
    )
    if bad.height:
        row = bad["_i"][0]
        raise ValidationError(
            f"{name}[{row}].{column}: must be one of {', '.join(allowed)}", field=f"{name}[{row}].{column}"
        )


def _normalise_history(history: pl.DataFrame) -> pl.DataFrame:
    _require(history, HISTORY_COLUMNS, "history")
    at_type = history.schema["at"]
    if not isinstance(at_type, pl.Datetime) or at_type.time_zone is None:
        raise ValidationError("history.at: must be a timezone-aware datetime column", field="history.at")
    _check_enum(history, "channel", [c.value for c in Channel], "history")
    _check_enum(history, "direction", [d.value for d in Direction], "history")
    _check_enum(history, "outcome", [o.value for o in CallOutcome], "history")
    defaults = {"ai_voice": pl.lit(False), "consent_given_for": pl.lit(None, dtype=_UTC_DT)}
    extra = [expr.alias(name) for name, expr in defaults.items() if name not in history.columns]
    if "consent_given_for" in history.columns:
        extra.append(pl.col("consent_given_for").cast(_UTC_DT))
    return history.with_columns(
        *extra,
        pl.col("at").dt.convert_time_zone("UTC"),
        pl.col("debts").cast(pl.List(pl.String)).fill_null(pl.lit([], dtype=pl.List(pl.String))),
    ).sort("at", maintain_order=True)


@lru_cache(maxsize=1024)
def _is_zone(name: str) -> bool:
    try:
        zone(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


def _strip_zones(case: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, tuple[str, ...]] | None]:
    """Takes the optional precomputed ``zones`` off the debtor's contact points."""
    debtor = case.get("debtor")
    if not isinstance(debtor, Mapping):
        return case, None
    points = debtor.get("contact_points") or ()
    if not any(isinstance(p, Mapping) and "zones" in p for p in points):
        return case, None
    known: dict[str, tuple[str, ...]] = {}
    cleaned = []
    for point in points:
        if isinstance(point, Mapping) and "zones" in point:
            given = point["zones"]
            if not isinstance(given, list | tuple) or not all(isinstance(z, str) for z in given):
                raise ValidationError(
                    "contact_points[].zones: must be a list of IANA zone names", field="zones"
                )
            for name in given:
                if not _is_zone(name):
                    raise ValidationError(f"contact_points[].zones: unknown IANA time zone {name!r}")
            known[str(point.get("id"))] = tuple(given)
            point = {k: v for k, v in point.items() if k != "zones"}
        cleaned.append(point)
    return {**case, "debtor": {**debtor, "contact_points": cleaned}}, known


def _validate_cases(
    cases: Sequence[Mapping[str, Any]],
) -> tuple[list[_Case], list[dict[str, tuple[str, ...]] | None]]:
    stripped = [_strip_zones(case) for case in cases]
    try:
        models = _CASES.validate_python([c for c, _ in stripped])
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc", ())
        index = loc[0] if loc else 0
        where = ".".join(str(part) for part in loc[1:])
        raise ValidationError(
            f"cases[{index}].{where}: {first.get('msg', 'invalid value')}", field=f"cases[{index}]"
        ) from None
    seen: set[str] = set()
    for index, case in enumerate(models):
        if case.debtor.id in seen:
            raise ValidationError(
                f"cases[{index}].debtor.id: duplicate debtor {case.debtor.id!r}", field="cases"
            )
        seen.add(case.debtor.id)
    return models, [known for _, known in stripped]


def _normalise_proposed(proposed: pl.DataFrame) -> pl.DataFrame:
    _require(proposed, PROPOSED_COLUMNS, "proposed")
    _check_enum(proposed, "channel", [c.value for c in Channel], "proposed")
    missing = [
        pl.lit(None, dtype=t).alias(n) for n, t in _OPTIONAL_PROPOSED.items() if n not in proposed.columns
    ]
    return proposed.with_columns(*missing).with_row_index("_row")


def _fail_row(frame: pl.DataFrame, message: str, column: str) -> None:
    if frame.height:
        row = frame.row(0, named=True)
        raise ValidationError(
            f"proposed[{row['_row']}].{column}: {message.format(**row)}",
            field=f"proposed[{row['_row']}].{column}",
        )


def _check_references(
    rows: pl.DataFrame, people: pl.DataFrame, points: pl.DataFrame, debts: pl.DataFrame
) -> None:
    """The single check's reference rules (person, contact point and its kind, debts), column-wise."""
    who = rows.select("_row", "debtor_id", "channel", "contact_point", "person_id")
    _fail_row(
        who.join(people, on=["debtor_id", "person_id"], how="anti").sort("_row"),
        "no person with id {person_id!r} on file",
        "person",
    )
    named = who.filter(pl.col("contact_point").is_not_null()).join(
        points, on=["debtor_id", "person_id", "contact_point"], how="left"
    )
    _fail_row(
        named.filter(pl.col("kind").is_null()).sort("_row"),
        "{person_id!r} has no contact point {contact_point!r}",
        "contact_point",
    )
    expected = {c.value: k.value for c, k in _KIND_FOR_CHANNEL.items()}
    wrong = named.with_columns(
        pl.col("channel").replace_strict(expected, return_dtype=pl.String).alias("need")
    )
    _fail_row(
        wrong.filter(pl.col("kind") != pl.col("need")).sort("_row"),
        "a {channel} needs a {need} contact point, {contact_point!r} is {kind}",
        "contact_point",
    )
    asked = rows.select("_row", "debtor_id", pl.col("debts").alias("debt")).explode("debt").drop_nulls("debt")
    _fail_row(
        asked.join(debts, on=["debtor_id", "debt"], how="anti").sort("_row"),
        "no debt with id {debt!r}",
        "debts",
    )


def check_batch(
    *,
    now: dt.datetime,
    actor: Actor | str,
    cases: Sequence[Mapping[str, Any]],
    history: pl.DataFrame,
    proposed: pl.DataFrame,
    packs: tuple[str, ...] | None = None,
    pack_set: PackSet | None = None,
) -> pl.DataFrame:
    """Judge every row of ``proposed``; returns it with the decision columns added.

    ``cases`` holds one mapping per debtor: ``{"debtor": {...}, "persons": [...], "debts": [...]}``
    (other keys are ignored). A debtor's phone contact point may carry ``zones``: the zones
    ``zones_for_phone(value, region)`` gives for it, resolved once when the number was stored,
    so the batch need not parse the number again. ``history`` has one row per event (columns of
    :data:`HISTORY_COLUMNS`, ``debts`` a list of ids; optional ``ai_voice`` and
    ``consent_given_for``); events later than ``now`` are ignored. ``proposed`` needs
    ``debtor_id`` and ``channel`` and may carry ``person``, ``contact_point``, ``debts``,
    ``content``, ``ai_voice``, ``recording`` and ``collector_name``.

    Added columns: ``outcome``, ``next_allowed_at``, ``rules`` (fired rule ids in evaluation
    order), ``rule_outcomes`` (parallel to ``rules``) and ``packs`` (the packs judged by), ready
    for :func:`arrears.compliance.record_decisions`.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValidationError("now: must be timezone-aware", field="now")
    now = now.astimezone(_UTC)
    try:
        who = Actor(actor)
    except ValueError:
        allowed = ", ".join(a.value for a in Actor)
        raise ValidationError(f"actor: must be one of {allowed}", field="actor") from None
    packset = pack_set or load_packs()
    models, known_zones = _validate_cases(cases)

    # One pass over the cases: zones, packs, whether the debtor is plain, and reference tables.
    by_id: dict[str, _Case] = {}
    info: dict[str, list[Any]] = {
        k: [] for k in ("debtor_id", "primary", "zkey", "pkey", "plain", "deceased", "quiet", "case_debts")
    }
    zone_sets: dict[str, tuple[str, ...]] = {}
    quiet_sets: dict[str, DayWindow] = {}
    pack_order: dict[str, tuple[str, ...]] = {}
    people: dict[str, list[str]] = {"debtor_id": [], "person_id": [], "role": []}
    point_rows: dict[str, list[str]] = {
        "debtor_id": [], "person_id": [], "contact_point": [], "kind": [], "place": []
    }  # fmt: skip
    debt_rows: dict[str, list[str]] = {"debtor_id": [], "debt": []}
    for case, known in zip(models, known_zones, strict=True):
        debtor = case.debtor
        by_id[debtor.id] = case
        zones, primary, _region = debtor_zones(debtor, known)
        zkey = "\x1f".join(zones)
        zone_sets[zkey] = zones
        ids = packs if packs else default_pack_ids(debtor.jurisdiction)
        pkey = "\x1f".join(ids)
        if pkey not in pack_order:
            pack_order[pkey] = tuple(p.id for p in packset.select(ids))
        info["debtor_id"].append(debtor.id)
        info["primary"].append(primary)
        info["zkey"].append(zkey)
        info["pkey"].append(pkey)
        # A deceased debtor with no other flag stays plain: the ``deceased`` bar is computed over
        # columns and no other rule reads that flag for the debtor as recipient.
        # So does one whose only other flag is a list of inconvenient times (a local window).
        flags = debtor.flags
        simple = flags.is_default() or flags.model_copy(update=_SIMPLE_FLAGS) == _DEFAULT_FLAGS
        info["plain"].append(simple and all(d.dispute is None for d in case.debts))
        info["deceased"].append(flags.deceased)
        quiet_key = None
        if flags.inconvenient_times:
            quiet_key = ";".join(f"{r.start}-{r.end}" for r in flags.inconvenient_times)
            quiet_sets[quiet_key] = day_window(
                ((dt.time(0), dt.time(0)),), tuple((r.start, r.end) for r in flags.inconvenient_times)
            )
        info["quiet"].append(quiet_key)
        info["case_debts"].append([d.id for d in case.debts] or ["*"])
        for owner, role, contact_points in ((debtor.id, "debtor", debtor.contact_points),
                                            *((p.id, p.role.value, p.contact_points) for p in case.persons)):  # fmt: skip
            people["debtor_id"].append(debtor.id)
            people["person_id"].append(owner)
            people["role"].append(role)
            for cp in contact_points:
                point_rows["debtor_id"].append(debtor.id)
                point_rows["person_id"].append(owner)
                point_rows["contact_point"].append(cp.id)
                point_rows["kind"].append(cp.kind.value)
                point_rows["place"].append(cp.place.value)
        for debt in case.debts:
            debt_rows["debtor_id"].append(debtor.id)
            debt_rows["debt"].append(debt.id)
    debtors = pl.DataFrame(
        info,
        schema={"debtor_id": pl.String, "primary": pl.String, "zkey": pl.String, "pkey": pl.String,
                "plain": pl.Boolean, "deceased": pl.Boolean, "quiet": pl.String,
                "case_debts": pl.List(pl.String)},
    )  # fmt: skip
    today_of = {name: now.astimezone(zone(name)).date() for name in set(info["primary"])}
    debtors = debtors.with_columns(
        pl.col("primary").replace_strict(today_of, return_dtype=pl.Date).alias("today")
    )

    frame = _normalise_history(history).filter(pl.col("at") <= now)
    frame = frame.join(debtors.select("debtor_id", "primary"), on="debtor_id", how="inner").with_columns(
        pl.coalesce("person", "debtor_id").alias("_person")
    )

    rows = _normalise_proposed(proposed)
    unknown = rows.filter(~pl.col("debtor_id").is_in(debtors["debtor_id"].implode()))
    if unknown.height:
        raise ValidationError(
            f"proposed[{unknown['_row'][0]}].debtor_id: no case for debtor {unknown['debtor_id'][0]!r}",
            field="proposed.debtor_id",
        )
    rows = rows.with_columns(pl.coalesce("person", "debtor_id").alias("person_id"))
    people_frame = pl.DataFrame(people, schema={k: pl.String for k in people})
    points_frame = pl.DataFrame(point_rows, schema={k: pl.String for k in point_rows})
    _check_references(
        rows,
        people_frame.select("debtor_id", "person_id"),
        points_frame.select("debtor_id", "person_id", "contact_point", "kind"),
        pl.DataFrame(debt_rows, schema={"debtor_id": pl.String, "debt": pl.String}),
    )
    # The debtor's own workplace points: a proposal or event naming one is "at work" (MA, WA).
    work_points = points_frame.filter(
        (pl.col("person_id") == pl.col("debtor_id")) & (pl.col("place") == "work")
    ).select("debtor_id", "contact_point", pl.lit(True).alias("at_work"))
    spouses = people_frame.filter(pl.col("role") == "spouse").select(
        "debtor_id", pl.col("person_id").alias("_person"), pl.lit(True).alias("is_spouse")
    )

    # Which rows are plain, and by which rule set each is judged.
    consenting = (
        frame.filter(pl.col("consent_given_for").is_not_null() & (pl.col("_person") == pl.col("debtor_id")))
        .select("debtor_id")
        .unique()
    )
    rows = (
        rows.join(debtors, on="debtor_id", how="left")
        .join(work_points, on=["debtor_id", "contact_point"], how="left")
        .with_columns(
            (pl.col("at_work").fill_null(False) & (pl.col("person_id") == pl.col("debtor_id"))).alias(
                "at_work"
            ),
            pl.when(pl.col("debts").list.len() > 0)
            .then(pl.col("debts"))
            .otherwise(pl.col("case_debts"))
            .alias("debt_ids"),
            (
                pl.col("plain")
                & (pl.col("person_id") == pl.col("debtor_id"))
                & pl.col("content").is_null()
                & pl.col("recording").ne_missing(False)
                & ~pl.col("debtor_id").is_in(consenting["debtor_id"].implode())
            ).alias("plain"),
        )
    )
    combos = rows.filter("plain").select("pkey", "channel", "today").unique()
    groups: dict[tuple[int, ...], tuple[RuleSpec, ...]] = {}
    combo_group: dict[str, list[Any]] = {"pkey": [], "channel": [], "today": [], "group": []}
    for pkey, channel, today in combos.iter_rows():
        selected = packset.select(tuple(pkey.split("\x1f")))
        specs = plain_specs(selected, who, Channel(channel), today)
        key = (-1,) if specs is None else tuple(id(s) for s in specs)
        if specs is not None:
            groups[key] = specs
        combo_group["pkey"].append(pkey)
        combo_group["channel"].append(channel)
        combo_group["today"].append(today)
        combo_group["group"].append(list(groups).index(key) if specs is not None else -1)
    rows = rows.join(
        pl.DataFrame(
            combo_group, schema={"pkey": pl.String, "channel": pl.String, "today": pl.Date, "group": pl.Int32}
        ),
        on=["pkey", "channel", "today"],
        how="left",
    ).with_columns(pl.when(pl.col("plain")).then(pl.col("group")).otherwise(-1).fill_null(-1).alias("group"))

    results: list[pl.DataFrame] = []
    if groups:
        plain_debtors = rows.filter(pl.col("group") >= 0).select("debtor_id").unique()
        case_events = (
            frame.join(plain_debtors, on="debtor_id", how="semi")
            .join(work_points, on=["debtor_id", "contact_point"], how="left")
            .join(spouses, on=["debtor_id", "_person"], how="left")
            .with_columns(
                (pl.col("_person") == pl.col("debtor_id")).alias("is_own"),
                pl.col("is_spouse").fill_null(False),
                pl.col("at_work").fill_null(False),
            )
        )
        # Local days in the primary zone: one conversion per zone, over that zone's events.
        parts = [
            part.with_columns(pl.col("at").dt.convert_time_zone(str(name)).dt.date().alias("local_day"))
            for (name,), part in case_events.partition_by("primary", as_dict=True).items()
        ]
        columns = ("debtor_id", "at", "channel", "direction", "outcome", "contact_point", "debts",
                   "local_day", "is_own", "is_spouse", "at_work")  # fmt: skip
        case_slim = (
            pl.concat(parts).select(columns)
            if parts
            else pl.DataFrame(
                schema={
                    "debtor_id": pl.String,
                    "at": _UTC_DT,
                    "channel": pl.String,
                    "direction": pl.String,
                    "outcome": pl.String,
                    "contact_point": pl.String,
                    "debts": pl.List(pl.String),
                    "local_day": pl.Date,
                    "is_own": pl.Boolean,
                    "is_spouse": pl.Boolean,
                    "at_work": pl.Boolean,
                }
            )
        )
        for index, specs in enumerate(groups.values()):
            subset = rows.filter(pl.col("group") == index)
            results.append(
                judge_plain(
                    now=now,
                    rows=subset,
                    case_events=case_slim,
                    specs=specs,
                    zone_sets=zone_sets,
                    quiet_sets=quiet_sets,
                )
            )
    plain = (
        pl.concat(results)
        if results
        else pl.DataFrame(
            schema={
                "_row": pl.UInt32,
                "outcome": pl.String,
                "next_allowed_at": _UTC_DT,
                "rules": pl.List(pl.String),
                "rule_outcomes": pl.List(pl.String),
                "_engine": pl.Boolean,
            }
        )
    )
    done = plain.filter(~pl.col("_engine")).drop("_engine")
    engine_rows = rows.join(done.select("_row"), on="_row", how="anti")
    decided = _judge_with_engine(now, who, packs, packset, by_id, frame, engine_rows)
    merged = pl.concat([done, decided]).sort("_row")
    packs_of = rows.select("_row", pl.col("pkey").replace_strict(
        {k: list(v) for k, v in pack_order.items()}, return_dtype=pl.List(pl.String)).alias("packs")
    ).sort("_row")  # fmt: skip
    return proposed.with_columns(
        merged["outcome"],
        merged["next_allowed_at"],
        merged["rules"],
        merged["rule_outcomes"],
        packs_of["packs"],
    )


def _judge_with_engine(
    now: dt.datetime,
    who: Actor,
    packs: tuple[str, ...] | None,
    packset: PackSet,
    by_id: Mapping[str, _Case],
    frame: pl.DataFrame,
    rows: pl.DataFrame,
) -> pl.DataFrame:
    """Judge rows one by one with the engine (identical proposals of one debtor judged once)."""
    events: dict[str, list[HistoryEvent]] = {}
    wanted = frame.join(rows.select("debtor_id").unique(), on="debtor_id", how="semi")
    for row in wanted.iter_rows(named=True):
        events.setdefault(row["debtor_id"], []).append(
            HistoryEvent.model_construct(
                at=row["at"],
                channel=Channel(row["channel"]),
                direction=Direction(row["direction"]),
                person=row["person"],
                contact_point=row["contact_point"],
                debts=tuple(row["debts"] or ()),
                outcome=CallOutcome(row["outcome"]),
                ai_voice=bool(row["ai_voice"]),
                consent_given_for=row["consent_given_for"],
            )
        )
    out: dict[str, list[Any]] = {
        k: [] for k in ("_row", "outcome", "next_allowed_at", "rules", "rule_outcomes")
    }
    cache: dict[tuple[Any, ...], tuple[str, dt.datetime | None, list[str], list[str]]] = {}
    for row in rows.iter_rows(named=True):
        case = by_id[row["debtor_id"]]
        plan = Proposed.model_construct(
            channel=Channel(row["channel"]),
            person=row["person"],
            contact_point=row["contact_point"],
            debts=tuple(row["debts"] or ()),
            content=row["content"],
            ai_voice=bool(row["ai_voice"] or False),
            recording=row["recording"],
            collector_name=row["collector_name"],
        )
        key = (row["debtor_id"], plan.channel, plan.person, plan.contact_point, plan.debts, plan.content,
               plan.ai_voice, plan.recording, plan.collector_name)  # fmt: skip
        if key not in cache:
            request = Request.model_construct(
                now=now,
                actor=who,
                packs=packs,
                debtor=case.debtor,
                persons=case.persons,
                debts=case.debts,
                history=tuple(events.get(row["debtor_id"], ())),
                proposed=plan,
            )
            decision = evaluate(request, packset)
            cache[key] = (
                decision.outcome.value,
                decision.next_allowed_at,
                list(decision.rule_ids),
                [r.outcome.value for r in decision.rules],
            )
        outcome, nxt, ids, outcomes = cache[key]
        out["_row"].append(row["_row"])
        out["outcome"].append(outcome)
        out["next_allowed_at"].append(nxt)
        out["rules"].append(ids)
        out["rule_outcomes"].append(outcomes)
    return pl.DataFrame(
        out,
        schema={"_row": pl.UInt32, "outcome": pl.String, "next_allowed_at": _UTC_DT,
                "rules": pl.List(pl.String), "rule_outcomes": pl.List(pl.String)},
    )  # fmt: skip
