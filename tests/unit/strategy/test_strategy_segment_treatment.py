"""Segmenting (first match wins) and the day's actions (steps by day offset, exit, escalation)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from arrears.strategy.dsl import check_strategy
from arrears.strategy.experiments import assign_variants, slots
from arrears.strategy.segment import segment_accounts
from arrears.strategy.treatment import ACTION_SCHEMA, todays_actions

TEXT = """\
id: t
templates:
  - {id: sms1, channel: sms}
  - {id: call1, channel: call}
  - {id: letter1, channel: letter}
paths:
  - id: soft
    steps:
      - {day: 0, channel: sms, template: sms1, tone: reminder, priority: 6}
      - {day: 3, channel: call, template: call1, tone: empathetic, priority: 4}
      - {day: 3, channel: sms, template: sms1, tone: reminder, priority: 7}
    exit: "paid_last_30d"
  - id: hard
    steps:
      - {day: 0, channel: letter, template: letter1, tone: final_notice, priority: 2}
    escalate:
      - {when: "promises_broken >= 2", to: legal}
      - {after_days: 30, to: agency}
segments:
  - id: disputed
    when: "dispute"
    path: hard
  - id: early
    when: "dpd between 1 and 30"
    path: soft
  - id: late
    when: "dpd > 30"
    path: hard
"""
STRATEGY = check_strategy(TEXT).strategy
assert STRATEGY is not None
AS_OF = dt.date(2026, 3, 10)


def test_first_matching_segment_wins() -> None:
    frame = pl.DataFrame(
        {"account_id": [1, 2, 3, 4], "dpd": [10, 10, 45, 0], "dispute": [False, True, False, False]}
    )
    out = segment_accounts(frame, STRATEGY)
    assert out.get_column("segment").to_list() == ["early", "disputed", "late", None]


def _plan(**columns: list[object]) -> pl.DataFrame:
    frame = pl.DataFrame(columns)
    return assign_variants(segment_accounts(frame, STRATEGY), STRATEGY)


def test_steps_fire_on_their_day_offset() -> None:
    frame = _plan(account_id=[1, 2, 3], dpd=[5, 5, 5]).with_columns(
        pl.Series("entered_on", [AS_OF, AS_OF - dt.timedelta(days=3), AS_OF - dt.timedelta(days=1)])
    )
    actions = todays_actions(frame, STRATEGY, as_of=AS_OF)
    assert actions.schema == pl.Schema(ACTION_SCHEMA)
    assert actions.select("account_id", "day", "channel", "tone", "priority").rows() == [
        (2, 3, "call", "empathetic", 4),
        (1, 0, "sms", "reminder", 6),
        (2, 3, "sms", "reminder", 7),
    ]


def test_exit_rule_stops_the_path() -> None:
    frame = _plan(account_id=[1, 2], dpd=[5, 5], paid_last_30d=[True, False]).with_columns(
        pl.lit(AS_OF).alias("entered_on")
    )
    assert todays_actions(frame, STRATEGY, as_of=AS_OF).get_column("account_id").to_list() == [2]


def test_escalation_replaces_steps_first_rule_wins() -> None:
    entered = [
        AS_OF,
        AS_OF - dt.timedelta(days=30),
        AS_OF - dt.timedelta(days=30),
        AS_OF - dt.timedelta(days=31),
    ]
    frame = _plan(account_id=[1, 2, 3, 4], dpd=[60, 60, 60, 60], promises_broken=[2, 0, 3, 0]).with_columns(
        pl.Series("entered_on", entered)
    )
    actions = todays_actions(frame, STRATEGY, as_of=AS_OF)
    assert actions.select("account_id", "kind", "escalate_to", "channel").rows() == [
        (1, "escalate", "legal", None),
        (2, "escalate", "agency", None),
        (3, "escalate", "legal", None),
    ]


def test_control_arm_and_unsegmented_get_nothing() -> None:
    text = TEXT.replace(
        "    path: soft\n",
        "    experiment: {id: x, variants: [{id: c, percent: 100, control: true}, {id: z, percent: 0.01, path: soft}]}\n",
        1,
    )
    assert check_strategy(text).strategy is None  # 100 + 0.01 is not 100: refused
    text = text.replace("percent: 100, control", "percent: 99.99, control")
    strategy = check_strategy(text).strategy
    assert strategy is not None
    frame = assign_variants(
        segment_accounts(pl.DataFrame({"account_id": [1], "dpd": [3]}), strategy), strategy
    )
    frame = frame.with_columns(pl.lit(AS_OF).alias("entered_on"))
    assert slots(np.array([1]), "x")[0] < 9999  # so account 1 is in the control arm c
    assert frame.select("variant", "is_control", "path").row(0) == ("c", True, None)
    assert todays_actions(frame, strategy, as_of=AS_OF).height == 0
