"""Reason codes: the factors that pulled an account's score down the most.

Both model families express an account's explanation as a penalty per feature, larger meaning the
feature pushed the account further towards the predicted event:

* scorecard: the feature's best-bin points minus the points of the account's bin;
* gradient boosting: the feature's contribution to the log-odds of the event (``pred_contrib``).

PIPL art. 24 (个人信息保护法 第二十四条) gives a person the right to an explanation of a decision made
by automated means that significantly affects their rights; reason codes are that explanation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.errors import ValidationError

__all__ = ["reason_frame", "top_reasons"]


def top_reasons(
    penalties: npt.ArrayLike, features: Sequence[str], *, top: int = 4, min_penalty: float = 1e-9
) -> list[tuple[str, ...]]:
    """For each row of ``penalties`` (rows × features), the names of the ``top`` largest penalties.

    Only penalties above ``min_penalty`` count: a feature already at its best bin, or one that
    lowered the risk, is never given as a reason. Ties keep the feature order.
    """
    matrix = np.asarray(penalties, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != len(features):
        raise ValidationError("penalties must be a rows × features matrix", features=len(features))
    if top < 1:
        raise ValidationError("top must be at least 1", top=top)
    k = min(top, matrix.shape[1])
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(matrix, order, axis=1)
    names = np.asarray(list(features), dtype=object)[order]
    out: list[tuple[str, ...]] = []
    for row_names, row_vals in zip(names, chosen > min_penalty, strict=True):
        out.append(tuple(str(n) for n, keep in zip(row_names, row_vals, strict=True) if keep))
    return out


def reason_frame(
    penalties: npt.ArrayLike, features: Sequence[str], *, top: int = 4, min_penalty: float = 1e-9
) -> pl.DataFrame:
    """The same reasons as columns ``reason_1`` … ``reason_<top>`` (null where fewer apply), vectorised."""
    matrix = np.asarray(penalties, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != len(features):
        raise ValidationError("penalties must be a rows × features matrix", features=len(features))
    if top < 1:
        raise ValidationError("top must be at least 1", top=top)
    k = min(top, matrix.shape[1])
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(matrix, order, axis=1)
    columns: dict[str, pl.Series] = {}
    names = pl.Series("names", list(features), dtype=pl.String)
    for j in range(top):
        if j < k:
            col = names.gather(order[:, j]).alias(f"reason_{j + 1}")
            col = pl.select(pl.when(pl.lit(chosen[:, j] > min_penalty)).then(col)).to_series()
        else:
            col = pl.Series(f"reason_{j + 1}", [None] * matrix.shape[0], dtype=pl.String)
        columns[f"reason_{j + 1}"] = col.alias(f"reason_{j + 1}")
    return pl.DataFrame(columns)
