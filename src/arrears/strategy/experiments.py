"""Champion / challenger / control assignment.

An account's arm of an experiment is fixed by a hash of the account id and the experiment id: the
same account lands in the same arm every day and in every process, without reading anything. The
hash is SplitMix64 (a published 64-bit mixer) over ``account_id XOR key(experiment)``, where the key
is the first 8 bytes of SHA-256 of the experiment id; its value modulo 10,000 is the account's slot,
and the arms own consecutive slot ranges in file order (a 12.5 % arm owns 1,250 slots). Assignments
are also recorded (:mod:`arrears.strategy.service`), and a recorded arm is kept when a later version
of the strategy changes the percentages, so an account never switches arms mid-experiment.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from arrears.strategy.dsl import Experiment, Strategy

__all__ = ["SLOTS", "assign_variants", "experiment_key", "slots", "variant_bounds"]

SLOTS = 10_000

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def experiment_key(experiment_id: str) -> int:
    """A 64-bit key for an experiment id (first 8 bytes of its SHA-256, big-endian)."""
    return int.from_bytes(hashlib.sha256(experiment_id.encode("utf-8")).digest()[:8], "big")


def slots(account_ids: pl.Series | np.ndarray, experiment_id: str) -> np.ndarray:
    """The slot (0 … 9,999) of each account in ``experiment_id``; whole-array integer arithmetic."""
    values = np.asarray(account_ids, dtype=np.int64).view(np.uint64)
    z = values ^ np.uint64(experiment_key(experiment_id))
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(SLOTS)).astype(np.int32)


def variant_bounds(experiment: Experiment) -> list[tuple[str, int, int]]:
    """(variant id, first slot, slot after the last) for each arm, in file order."""
    bounds, start = [], 0
    for variant in experiment.variants:
        width = int(variant.percent * SLOTS / 100)
        bounds.append((variant.id, start, start + width))
        start += width
    return bounds


def assign_variants(
    frame: pl.DataFrame, strategy: Strategy, recorded: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Add ``experiment``, ``variant``, ``is_control`` and ``path`` to a segmented frame.

    ``frame`` needs ``account_id`` and ``segment``. ``recorded`` (account_id, experiment_id,
    variant_id) holds earlier assignments; they win over the hash while the variant still exists.
    Accounts in a segment without an experiment get the segment's path; a control arm gets no path.
    """
    ids = frame.get_column("account_id")
    experiment_col = pl.lit(None, dtype=pl.String)
    variant_col = pl.lit(None, dtype=pl.String)
    slot_columns: dict[str, pl.Series] = {}
    segment_path = {s.id: s.path for s in strategy.segments if s.path is not None}
    with_exp = [s for s in strategy.segments if s.experiment is not None]
    for seg in with_exp:
        exp = seg.experiment
        assert exp is not None
        slot_name = f"_slot_{len(slot_columns)}"
        slot_columns[slot_name] = pl.Series(slot_name, slots(ids, exp.id))
        in_seg = pl.col("segment") == seg.id
        experiment_col = pl.when(in_seg).then(pl.lit(exp.id)).otherwise(experiment_col)
        chosen = pl.lit(None, dtype=pl.String)
        for vid, low, high in reversed(variant_bounds(exp)):
            chosen = (
                pl.when(pl.col(slot_name).is_between(low, high, closed="left"))
                .then(pl.lit(vid))
                .otherwise(chosen)
            )
        variant_col = pl.when(in_seg).then(chosen).otherwise(variant_col)
    out = frame.with_columns(*slot_columns.values()) if slot_columns else frame
    out = out.with_columns(experiment_col.alias("experiment"), variant_col.alias("variant"))
    if recorded is not None and recorded.height and with_exp:
        known = pl.DataFrame(
            [(s.experiment.id, v.id) for s in with_exp if s.experiment for v in s.experiment.variants],
            schema={"experiment": pl.String, "_recorded": pl.String},
            orient="row",
        )
        earlier = recorded.select(
            pl.col("account_id").cast(pl.Int64),
            pl.col("experiment_id").alias("experiment"),
            pl.col("variant_id").alias("_recorded"),
        ).join(known, on=["experiment", "_recorded"], how="semi")
        out = (
            out.join(earlier, on=["account_id", "experiment"], how="left")
            .with_columns(pl.coalesce("_recorded", "variant").alias("variant"))
            .drop("_recorded")
        )
    control = {
        (s.experiment.id, v.id)
        for s in with_exp
        if s.experiment
        for v in s.experiment.variants
        if v.is_control
    }
    variant_path = {
        (s.experiment.id, v.id): v.path for s in with_exp if s.experiment for v in s.experiment.variants
    }
    is_control = pl.lit(False)
    path = pl.col("segment").replace_strict(segment_path, default=None, return_dtype=pl.String)
    for (eid, vid), vpath in variant_path.items():
        hit = (pl.col("experiment") == eid) & (pl.col("variant") == vid)
        if (eid, vid) in control:
            is_control = pl.when(hit).then(pl.lit(True)).otherwise(is_control)
        path = pl.when(hit).then(pl.lit(vpath, dtype=pl.String)).otherwise(path)
    return out.with_columns(is_control.fill_null(False).alias("is_control"), path.alias("path")).drop(
        list(slot_columns)
    )
