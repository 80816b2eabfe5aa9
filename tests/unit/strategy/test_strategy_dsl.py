"""Strategy files: every problem reported with its segment and line; valid samples load."""

from __future__ import annotations

from pathlib import Path

import pytest

import arrears
from arrears.errors import FileFormatError
from arrears.strategy.dsl import Severity, Tone, check_strategy, load_strategy

SAMPLES = Path(arrears.__file__).parent / "data" / "strategies"

GOOD = """\
id: t
templates:
  - {id: sms1, channel: sms}
  - {id: call1, channel: call}
paths:
  - id: soft
    steps:
      - {day: 0, channel: sms, template: sms1, tone: reminder, priority: 5}
  - id: hard
    steps:
      - {day: 0, channel: call, template: call1, tone: firm, priority: 2}
segments:
  - id: early
    when: "dpd between 1 and 30"
    experiment:
      id: e1
      variants:
        - {id: champion, percent: 70, path: soft}
        - {id: challenger, percent: 25.5, path: hard}
        - {id: control, percent: 4.5, control: true}
  - id: late
    when: "dpd > 30"
    path: hard
"""

BAD = """\
id: t
templates:
  - {id: sms1, channel: sms}
  - {id: sms1, channel: pigeon}
paths:
  - id: soft
    steps:
      - {day: 0, channel: fax, template: nope, tone: shouty, priority: 5}
segments:
  - id: a
    when: "dpd between 1 and"
    path: soft
  - id: a
    when: "colour = 'red'"
    path: soft
  - id: c
    when: "bucket > 3"
    experiment:
      id: e1
      variants:
        - {id: x, percent: 60, path: soft}
        - {id: y, percent: 30, path: missing}
"""


def test_good_strategy_loads_with_experiment() -> None:
    report = check_strategy(GOOD)
    assert report.is_valid, [p.render() for p in report.problems]
    strategy = report.strategy
    assert strategy is not None
    assert [s.id for s in strategy.segments] == ["early", "late"]
    experiment = strategy.segments[0].experiment
    assert experiment is not None
    assert [(v.id, str(v.percent), v.path, v.is_control) for v in experiment.variants] == [
        ("champion", "70", "soft", False),
        ("challenger", "25.5", "hard", False),
        ("control", "4.5", None, True),
    ]
    assert strategy.paths["hard"].steps[0].tone is Tone.FIRM


def test_bad_strategy_reports_every_problem_with_line_and_segment() -> None:
    report = check_strategy(BAD, source="bad.yaml")
    assert report.strategy is None
    found = {(p.code, p.line, p.segment) for p in report.errors}
    assert ("duplicate_id", 4, None) in found  # template sms1 twice (and its channel is unknown)
    assert ("unknown_channel", 4, None) in found
    assert ("unknown_channel", 8, None) in found
    assert ("unknown_tone", 8, None) in found
    assert ("unknown_template", 8, None) in found
    assert ("unparsable", 11, "a") in found
    assert ("duplicate_id", 13, "a") in found
    assert ("unknown_feature", 14, "a") in found
    assert ("type_mismatch", 17, "c") in found
    assert ("unknown_path", 22, "c") in found
    assert ("percent_sum", 20, "c") in found
    rendered = [p.render() for p in report.errors]
    assert any(r.startswith("bad.yaml:11: error [unparsable] segments[0].when (segment a)") for r in rendered)


def test_unreachable_segment_is_a_warning_not_an_error() -> None:
    text = GOOD.replace('when: "dpd > 30"', 'when: "dpd between 5 and 20"')
    report = check_strategy(text)
    assert report.is_valid
    assert [(p.code, p.segment, p.severity) for p in report.warnings] == [
        ("unreachable", "late", Severity.WARNING)
    ]


def test_overlap_is_warned() -> None:
    text = GOOD.replace('when: "dpd > 30"', 'when: "dpd > 20"')
    warnings = check_strategy(text).warnings
    assert [(p.code, p.segment) for p in warnings] == [("overlap", "late")]


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("percent: 4.5, control: true", "percent: 4.5, control: true, path: soft", "control_with_path"),
        ("percent: 70,", "percent: 0,", "bad_percent"),
        ("priority: 5}", "priority: 12}", "bad_number"),
        ("day: 0, channel: sms", "day: -1, channel: sms", "bad_number"),
        ("template: call1", "template: sms1", "template_channel"),
        ("    path: hard\n", "    path: hard\n    colour: red\n", "unknown_key"),
    ],
)
def test_each_check(old: str, new: str, code: str) -> None:
    report = check_strategy(GOOD.replace(old, new, 1))
    assert code in {p.code for p in report.errors}


def test_syntax_error_is_a_file_format_error_with_line() -> None:
    with pytest.raises(FileFormatError, match=r"^x.yaml:\d+: not valid YAML: [^\n]+$"):
        check_strategy("id: t\nsegments:\n  - [unclosed\n", source="x.yaml")


@pytest.mark.parametrize("name", ["cn-consumer.yaml", "us-card.toml"])
def test_samples_are_valid_and_bilingual(name: str) -> None:
    report = load_strategy(SAMPLES / name)
    assert report.is_valid, [p.render() for p in report.errors]
    strategy = report.strategy
    assert strategy is not None
    assert len(strategy.names) == 2
    assert all(len(s.names) == 2 for s in strategy.segments)


def test_toml_problem_points_at_segment_table_line() -> None:
    text = (
        (SAMPLES / "us-card.toml")
        .read_text(encoding="utf-8")
        .replace('when = "dispute"', 'when = "dispute >"')
    )
    report = check_strategy(text, fmt="toml")
    errors = [p for p in report.errors if p.code == "unparsable"]
    assert len(errors) == 1
    lines = text.splitlines()
    assert errors[0].line is not None and lines[errors[0].line - 1] == "[[segments]]"
    assert errors[0].segment == "disputed"
