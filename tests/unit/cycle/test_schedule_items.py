"""The decoded schedules the accrue step keeps are used by the positions step only for the same input."""

from __future__ import annotations

import polars as pl
import pytest

from arrears.cycle import frames
from arrears.domain.schedule_codec import pack_one


def _accounts(principal: int) -> pl.DataFrame:
    blob = pack_one({"due_on": ["2026-05-10", "2026-06-10"], "principal": [principal, 7], "interest": [3, 2]})
    return pl.DataFrame({"account_id": [4, 9], "product_code": ["p", "p"], "schedule": [blob, blob]})


@pytest.fixture(autouse=True)
def _nothing_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "_kept", None)


def test_kept_items_are_taken_once_for_the_same_input() -> None:
    kept = frames.schedule_items(_accounts(100), keep=True)
    assert kept["principal_minor"].to_list() == [100, 7, 100, 7]
    assert frames.schedule_items(_accounts(100), take=True) is kept
    assert frames._kept is None  # released once taken
    again = frames.schedule_items(_accounts(100), take=True)
    assert again is not kept
    assert again.equals(kept)


def test_a_changed_schedule_is_decoded_again() -> None:
    kept = frames.schedule_items(_accounts(100), keep=True)
    changed = frames.schedule_items(_accounts(101), take=True)
    assert changed["principal_minor"].to_list() == [101, 7, 101, 7]
    assert frames._kept is not None and frames._kept[1] is kept  # still there for its own input
    assert frames.schedule_items(_accounts(100).head(1), take=True)["account_id"].to_list() == [4, 4]
