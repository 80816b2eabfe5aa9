"""The batch form for the daily cycle: many proposed contacts against one history table.

Cases (debtor, persons, debts) in the common shape are read straight into columns
(:func:`arrears.domain.compliance.cases.read_cases`), the others validated by the models in one
call; the history and proposal tables are checked column-wise with Polars (enums, time zones,
references). Plain rows (the debtor as
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

from arrears.domain.compliance.cases import CaseColumns, CaseTable, read_case_table, read_cases
from arrears.domain.compliance.engine import evaluate
from arrears.domain.compliance.enums import Actor, CallOutcome, Channel, Direction
from arrears.domain.compliance.models import (
    _KIND_FOR_CHANNEL,
    Debt,
    Debtor,
    HistoryEvent,
    Person,
    Proposed,
    Request,
)
from arrears.domain.compliance.packs import PackSet, RuleSpec, default_pack_ids, load_packs
from arrears.domain.compliance.vector import judge_plain, plain_specs
from arrears.domain.compliance.zones import zone
from arrears.errors import ValidationError

__all__ = ["HISTORY_COLUMNS", "PROPOSED_COLUMNS", "check_batch"]

HISTORY_COLUMNS = ("debtor_id", "at", "channel", "direction", "person", "contact_point", "debts", "outcome")
PROPOSED_COLUMNS = ("debtor_id", "channel")
_UTC = dt.UTC
_UTC_DT = pl.Datetime("us", "UTC")
# What the column path reads of each event (before the keys it adds).
_EVENT_COLUMNS = ("case_index", "debtor_id", "_person", "primary", "at", "channel", "direction", "outcome",
                  "contact_point", "debts")  # fmt: skip
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


def _require(frame: pl.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"{name}: missing column {missing[0]!r}", field=f"{name}.{missing[0]}")


def _check_enum(frame: pl.DataFrame, column: str, allowed: Sequence[str], name: str) -> None:
    # The usual table is clean: one pass over the column's distinct values decides that.
    if frame[column].unique().drop_nulls().is_in(list(allowed)).all():
        return
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
    )


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
    cases: Sequence[Mapping[str, Any]], positions: Sequence[int]
) -> tuple[list[_Case], list[dict[str, tuple[str, ...]] | None]]:
    """The full validation of ``cases`` (found at ``positions`` of the batch's cases)."""
    stripped = [_strip_zones(case) for case in cases]
    try:
        models = _CASES.validate_python([c for c, _ in stripped])
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc", ())
        index = positions[loc[0]] if loc and isinstance(loc[0], int) else positions[0]
        where = ".".join(str(part) for part in loc[1:])
        raise ValidationError(
            f"cases[{index}].{where}: {first.get('msg', 'invalid value')}", field=f"cases[{index}]"
        ) from None
    return models, [known for _, known in stripped]


def _read_and_validate(cases: Sequence[Mapping[str, Any]]) -> tuple[CaseColumns, dict[int, _Case]]:
    """Columns of every case: the common shape read directly, the others through the models.

    Returns the columns and the models built for the cases that needed them, by position.
    """
    columns = read_case_table(cases) if isinstance(cases, CaseTable) else read_cases(cases)
    models: dict[int, _Case] = {}
    if columns.fallback:
        validated, known_zones = _validate_cases([cases[i] for i in columns.fallback], columns.fallback)
        for index, case, known in zip(columns.fallback, validated, known_zones, strict=True):
            columns.add_validated(index, case.debtor, case.persons, case.debts, known)
            models[index] = case
    order = pl.DataFrame(
        {"case_index": columns.case_index, "debtor_id": columns.debtor_id},
        schema={"case_index": pl.Int64, "debtor_id": pl.String},
    )
    repeated = order.sort("case_index").filter(~pl.col("debtor_id").is_first_distinct())
    if repeated.height:
        index, debtor_id = repeated.row(0)
        raise ValidationError(f"cases[{index}].debtor.id: duplicate debtor {debtor_id!r}", field="cases")
    return columns, models


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
    (other keys are ignored), or a :class:`arrears.domain.compliance.cases.CaseTable` holding the
    same as columns (read over whole columns, the numbers' zones resolved per country code). A
    debtor's phone contact point may carry ``zones``: the zones ``zones_for_phone(value, region)``
    gives for it, resolved once when the number was stored, so the batch need not parse the
    number again. ``history`` has one row per event (columns of
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
    table, models = _read_and_validate(cases)

    # Packs per distinct jurisdiction; everything else per debtor comes as columns.
    pack_key: dict[str, str] = {}
    pack_order: dict[str, tuple[str, ...]] = {}
    for jurisdiction in set(table.jurisdiction):
        ids = packs if packs else default_pack_ids(jurisdiction)
        pkey = pack_key[jurisdiction] = "\x1f".join(ids)
        if pkey not in pack_order:
            pack_order[pkey] = tuple(p.id for p in packset.select(ids))
    zone_sets, quiet_sets = table.zone_sets, table.quiet_sets
    today_of = {name: now.astimezone(zone(name)).date() for name in set(table.primary)}
    debts_frame = pl.DataFrame(
        {"debtor_id": table.debt_debtor, "debt": table.debt_id},
        schema={"debtor_id": pl.String, "debt": pl.String},
    )
    debtor_columns = {
        "debtor_id": (table.debtor_id, pl.String),
        "case_index": (table.case_index, pl.Int64),
        "primary": (table.primary, pl.String),
        "zkey": (table.zkey, pl.String),
        "jurisdiction": (table.jurisdiction, pl.String),
        "plain": (table.plain, pl.Boolean),
        "deceased": (table.deceased, pl.Boolean),
        "quiet": (table.quiet, pl.String),
    }
    debtors = (
        pl.DataFrame(
            {k: v for k, (v, _) in debtor_columns.items()},
            schema={k: t for k, (_, t) in debtor_columns.items()},
        )
        .join(
            debts_frame.group_by("debtor_id", maintain_order=True).agg(pl.col("debt").alias("case_debts")),
            on="debtor_id",
            how="left",
        )
        .with_columns(
            pl.col("jurisdiction").replace_strict(pack_key, return_dtype=pl.String).alias("pkey"),
            pl.col("primary").replace_strict(today_of, return_dtype=pl.Date).alias("today"),
            # A case without debts: the contact is about the account as a whole.
            pl.col("case_debts").fill_null(pl.lit(["*"], dtype=pl.List(pl.String))),
        )
        .drop("jurisdiction")
    )

    frame = (
        _normalise_history(history)
        .lazy()
        .filter(pl.col("at") <= now)
        .join(debtors.lazy().select("debtor_id", "case_index", "primary"), on="debtor_id", how="inner")
        .with_columns(pl.coalesce("person", "debtor_id").alias("_person"))
        .collect()
    )

    rows = _normalise_proposed(proposed)
    unknown = rows.filter(~pl.col("debtor_id").is_in(debtors["debtor_id"].implode()))
    if unknown.height:
        raise ValidationError(
            f"proposed[{unknown['_row'][0]}].debtor_id: no case for debtor {unknown['debtor_id'][0]!r}",
            field="proposed.debtor_id",
        )
    rows = rows.with_columns(pl.coalesce("person", "debtor_id").alias("person_id"))
    people_frame = pl.DataFrame(
        {"debtor_id": table.person_debtor, "person_id": table.person_id, "role": table.person_role},
        schema={"debtor_id": pl.String, "person_id": pl.String, "role": pl.String},
    )
    points_frame = pl.DataFrame(
        {"debtor_id": table.point_debtor, "person_id": table.point_person,
         "contact_point": table.point_id, "kind": table.point_kind, "place": table.point_place},
        schema={k: pl.String for k in ("debtor_id", "person_id", "contact_point", "kind", "place")},
    )  # fmt: skip
    _check_references(
        rows,
        people_frame.select("debtor_id", "person_id"),
        points_frame.select("debtor_id", "person_id", "contact_point", "kind"),
        debts_frame,
    )
    # The debtor's own workplace points: a proposal or event naming one is "at work" (MA, WA).
    work_points = points_frame.filter(
        (pl.col("person_id") == pl.col("debtor_id")) & (pl.col("place") == "work")
    ).select("debtor_id", "contact_point", pl.lit(True).alias("at_work"))
    spouses = people_frame.filter(pl.col("role") == "spouse").select(
        "debtor_id", pl.col("person_id").alias("_person"), pl.lit(True).alias("is_spouse")
    )
    # The same two keyed by the debtor's position: the history is joined on integers.
    keys = debtors.select("debtor_id", "case_index")
    work_keyed = work_points.join(keys, on="debtor_id").drop("debtor_id")
    spouses_keyed = spouses.join(keys, on="debtor_id").drop("debtor_id")

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
        plain_debtors = rows.filter(pl.col("group") >= 0).select("case_index").unique()
        case_events = (
            frame.lazy()
            .select(*_EVENT_COLUMNS)
            .join(plain_debtors.lazy(), on="case_index", how="semi")
            .join(work_keyed.lazy(), on=["case_index", "contact_point"], how="left")
            .join(spouses_keyed.lazy(), on=["case_index", "_person"], how="left")
            .with_columns(
                (pl.col("_person") == pl.col("debtor_id")).alias("is_own"),
                pl.col("is_spouse").fill_null(False),
                pl.col("at_work").fill_null(False),
            )
            .drop("_person")
            .collect()
        )
        # Local days in the primary zone: one conversion per zone, over that zone's instants only
        # (the other columns are not copied), put back in row order.
        instants = case_events.select("primary", "at").with_row_index("_i")
        parts = [
            part.select("_i", pl.col("at").dt.convert_time_zone(str(name)).dt.date().alias("local_day"))
            for (name,), part in instants.partition_by("primary", as_dict=True).items()
        ]
        if parts:
            case_events = case_events.with_columns(pl.concat(parts).sort("_i")["local_day"])
        # Debtors are keyed by their position among the cases: joins on integers, not strings.
        columns = (pl.col("case_index").alias("debtor_id"), "at", "channel", "direction", "outcome",
                   "contact_point", "debts", "local_day", "is_own", "is_spouse", "at_work")  # fmt: skip
        case_slim = (
            case_events.select(columns)
            if parts
            else pl.DataFrame(
                schema={
                    "debtor_id": pl.Int64,
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
        # Each group's events in one pass (a debtor judged in two groups has its events in both).
        debtor_groups = rows.filter(pl.col("group") >= 0).select("case_index", "group").unique()
        if debtor_groups["case_index"].is_unique().all():
            # The usual day: each debtor in one group; a lookup by position instead of a join.
            lookup = pl.Series("group", [None] * len(cases), dtype=pl.Int32).scatter(
                debtor_groups["case_index"], debtor_groups["group"]
            )
            grouped = case_slim.with_columns(lookup.gather(case_slim["debtor_id"]).alias("group"))
        else:
            grouped = case_slim.join(debtor_groups.rename({"case_index": "debtor_id"}), on="debtor_id")
        events_of = grouped.partition_by("group", as_dict=True, include_key=False)
        for index, specs in enumerate(groups.values()):
            subset = rows.filter(pl.col("group") == index).with_columns(
                pl.col("case_index").alias("debtor_id")
            )
            results.append(
                judge_plain(
                    now=now,
                    rows=subset,
                    case_events=events_of.get((index,), case_slim.clear()),
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
    decided = _judge_with_engine(now, who, packs, packset, _engine_cases(cases, models, debtors, engine_rows),
                                 frame, engine_rows)  # fmt: skip
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


def _engine_cases(
    cases: Sequence[Mapping[str, Any]], models: Mapping[int, _Case], debtors: pl.DataFrame, rows: pl.DataFrame
) -> dict[str, _Case]:
    """The models of the debtors whose rows go to the engine (validated now when read directly)."""
    wanted = debtors.join(rows.select("debtor_id").unique(), on="debtor_id", how="semi")[
        "case_index"
    ].to_list()
    missing = [i for i in wanted if i not in models]
    built = (
        dict(zip(missing, _validate_cases([cases[i] for i in missing], missing)[0], strict=True))
        if missing
        else {}
    )
    return {(case := models.get(i) or built[i]).debtor.id: case for i in wanted}


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
    # In time order (stable: events at one instant keep their order, as the single check reads them).
    wanted = frame.join(rows.select("debtor_id").unique(), on="debtor_id", how="semi").sort(
        "at", maintain_order=True
    )
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
