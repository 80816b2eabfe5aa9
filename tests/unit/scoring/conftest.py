"""Seeded synthetic credit data shared by the scoring tests."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest


def synthetic_book(n: int, seed: int) -> pl.DataFrame:
    """A small book whose default risk rises with utilisation and DPD and depends on the product.

    ``noise`` is unrelated to the outcome; ``utilisation`` has missing values whose accounts are
    riskier, so a model that ignores missingness loses signal.
    """
    rng = np.random.default_rng(seed)
    utilisation = rng.uniform(0, 1.2, n)
    dpd = rng.poisson(8, n).astype(float)
    product = rng.choice(["card", "loan", "bnpl"], n, p=[0.5, 0.3, 0.2])
    noise = rng.normal(size=n)
    missing = rng.random(n) < 0.1
    logit = -3.2 + 2.5 * utilisation + 0.2 * dpd + np.where(product == "bnpl", 0.8, 0.0) + 1.0 * missing
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    util = pl.Series("utilisation", utilisation).set(pl.Series(missing), None)
    return pl.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(n)],
            "utilisation": util,
            "dpd": dpd,
            "product": product,
            "noise": noise,
            "defaulted": np.where(y == 1, "yes", "no"),
        }
    )


@pytest.fixture(scope="session")
def book() -> pl.DataFrame:
    return synthetic_book(2000, seed=7)


@pytest.fixture(scope="session")
def book_y(book: pl.DataFrame) -> np.ndarray:
    return (book.get_column("defaulted") == "yes").to_numpy().astype(np.int8)


@pytest.fixture(scope="session")
def fresh_book() -> pl.DataFrame:
    """An independent sample from the same population, for out-of-sample checks."""
    return synthetic_book(2000, seed=99)
