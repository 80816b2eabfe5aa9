"""Strategy files: reading (YAML or TOML), checking every part, and the checked model.

A strategy is data (STYLE 9): ordered segments with conditions over account features, treatment
paths of dated steps, message templates, and champion/challenger experiments. :func:`check_strategy`
never stops at the first problem: it returns every :class:`Problem` with its segment, its position
(``segments[2].experiment.variants[1]``) and, where the file format allows, its line. Errors make the
strategy unusable; warnings (overlapping or unreachable segments, unused paths) do not.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from arrears.domain.compliance.enums import Channel
from arrears.errors import FileFormatError
from arrears.strategy.conditions import CompiledCondition, ConditionError, compile_condition, probe_frame

__all__ = [
    "EscalationRule",
    "Experiment",
    "Problem",
    "Segment",
    "Severity",
    "Step",
    "Strategy",
    "StrategyReport",
    "Template",
    "Tone",
    "TreatmentPath",
    "Variant",
    "check_strategy",
    "load_strategy",
    "read_strategy_text",
]

CATCH_ALL = "true"


class Tone(StrEnum):
    """How a message or call speaks, from gentlest to sternest."""

    REMINDER = "reminder"
    EMPATHETIC = "empathetic"
    FIRM = "firm"
    FINAL_NOTICE = "final_notice"
    LEGAL_DEMAND = "legal_demand"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding: what is wrong, where (segment id, position path, line) and how bad."""

    severity: Severity
    code: str
    message: str
    position: str
    segment: str | None = None
    line: int | None = None
    file: str | None = None

    def render(self) -> str:
        """``file:line: severity [code] position (segment x): message``."""
        where = f"{self.file or '<strategy>'}:{self.line}" if self.line else (self.file or "<strategy>")
        seg = f" (segment {self.segment})" if self.segment else ""
        return f"{where}: {self.severity} [{self.code}] {self.position}{seg}: {self.message}"


@dataclass(frozen=True)
class Template:
    id: str
    channel: Channel
    language: str | None = None


@dataclass(frozen=True)
class Step:
    """One dated step of a path: on day ``day`` after segment entry, contact on ``channel``."""

    day: int
    channel: Channel
    template: str
    tone: Tone
    priority: int


@dataclass(frozen=True)
class EscalationRule:
    """Escalate to ``to`` (a case stage or team) when ``when`` holds or ``after_days`` in the segment pass."""

    to: str
    when: CompiledCondition | None = None
    after_days: int | None = None


@dataclass(frozen=True)
class TreatmentPath:
    id: str
    steps: tuple[Step, ...]
    exit: CompiledCondition | None = None
    escalations: tuple[EscalationRule, ...] = ()


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment; a control arm is held out of treatment (no path)."""

    id: str
    percent: Decimal
    path: str | None
    is_control: bool = False


@dataclass(frozen=True)
class Experiment:
    id: str
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class Segment:
    """A segment: accounts meeting ``condition`` that no earlier segment took, and how they are treated."""

    id: str
    names: Mapping[str, str]
    condition: CompiledCondition
    path: str | None = None
    experiment: Experiment | None = None


@dataclass(frozen=True)
class Strategy:
    """A checked strategy, ready to segment and treat accounts."""

    id: str
    names: Mapping[str, str]
    segments: tuple[Segment, ...]
    paths: Mapping[str, TreatmentPath]
    templates: Mapping[str, Template]
    source: str = ""
    format: str = "yaml"

    @property
    def digest(self) -> str:
        """SHA-256 of the source text: two publications of the same text are the same version."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()


@dataclass
class StrategyReport:
    """The outcome of checking a file: the strategy (None when there are errors) and every problem."""

    strategy: Strategy | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def is_valid(self) -> bool:
        return not self.errors


# --- reading ---------------------------------------------------------------------------------------


# libyaml's parser when PyYAML was built with it (the same documents, several times faster).
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml_read(text: str, loader_class: Any = _SafeLoader) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """The document and its lines (:func:`_yaml_lines`), from one parse."""
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        return loader.construct_document(root), _yaml_lines(root)
    finally:
        loader.dispose()


def _yaml_lines(root: yaml.Node) -> dict[tuple[Any, ...], int]:
    """Line (1-based) of every mapping value and sequence item, keyed by its path."""
    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, str(key.value))
                walk(value, child)
                lines[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    walk(root, ())
    return lines


def _toml_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Lines of ``[[segments]]``/``[[paths]]``/``[[templates]]`` tables (TOML keeps no positions)."""
    lines: dict[tuple[Any, ...], int] = {}
    counters: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("[[") and stripped.endswith("]]"):
            name = stripped[2:-2].strip()
            top = name.split(".")[0]
            if "." not in name:
                index = counters.get(top, 0)
                counters[top] = index + 1
                lines[(top, index)] = number
    return lines


def read_strategy_text(
    text: str, *, fmt: str, source: str = "<strategy>"
) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse the raw document; a syntax error is a :class:`FileFormatError` naming the line."""
    try:
        if fmt == "toml":
            return tomllib.loads(text), _toml_lines(text)
        try:
            return _yaml_read(text)
        except yaml.YAMLError:
            # Read again by the pure-Python parser, so that the error names the problem in the
            # same words whichever parser PyYAML was built with.
            return _yaml_read(text, yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FileFormatError(f"{source}{line}: not valid YAML: {problem}", file=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise FileFormatError(f"{source}: not valid TOML: {exc}", file=source) from None


def load_strategy(path: Path) -> StrategyReport:
    """Read and check the strategy file at ``path`` (``.yaml``/``.yml`` or ``.toml``)."""
    if not path.is_file():
        raise FileFormatError(f"no strategy file at {path}", file=str(path))
    fmt = "toml" if path.suffix.lower() == ".toml" else "yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FileFormatError(f"{path} is not UTF-8 text", file=str(path)) from None
    return check_strategy(text, fmt=fmt, source=str(path))


# --- checking --------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, lines: dict[tuple[Any, ...], int], source: str) -> None:
        self.lines = lines
        self.source = source
        self.problems: list[Problem] = []
        self.seen_paths: set[str] = set()

    def line(self, path: tuple[Any, ...]) -> int | None:
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return None

    def add(
        self,
        code: str,
        message: str,
        path: tuple[Any, ...],
        *,
        segment: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        position = "".join(
            f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path)
        )
        self.problems.append(
            Problem(severity, code, message, position or "(file)", segment, self.line(path), self.source)
        )

    def condition(self, raw: Any, path: tuple[Any, ...], segment: str | None) -> CompiledCondition | None:
        if not isinstance(raw, str | bool):
            self.add("bad_condition", "a condition must be text such as 'dpd > 30'", path, segment=segment)
            return None
        text = CATCH_ALL if raw is True else ("false" if raw is False else raw)
        try:
            return compile_condition(text)
        except ConditionError as exc:
            self.add(exc.kind, exc.message, path, segment=segment)
            return None

    def text(self, value: Any, path: tuple[Any, ...], segment: str | None, what: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.add("missing", f"{what} is required (non-empty text)", path, segment=segment)
            return None
        return value.strip()

    def integer(
        self, value: Any, path: tuple[Any, ...], segment: str | None, low: int, high: int
    ) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.add(
                "bad_number",
                f"expected a whole number from {low} to {high}, got {value!r}",
                path,
                segment=segment,
            )
            return None
        return value

    def names(self, value: Any, path: tuple[Any, ...], segment: str | None) -> dict[str, str]:
        if value is None:
            return {}
        if isinstance(value, str):
            return {"en": value}
        if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
            return {str(k): v for k, v in value.items()}
        self.add(
            "bad_name",
            "name is text or a map of language to text ({en: ..., zh: ...})",
            path,
            segment=segment,
        )
        return {}

    def unknown_keys(
        self, item: Mapping[str, Any], allowed: set[str], path: tuple[Any, ...], segment: str | None
    ) -> None:
        for key in item:
            if key not in allowed:
                self.add(
                    "unknown_key",
                    f"unknown key {key!r}; expected one of {', '.join(sorted(allowed))}",
                    (*path, str(key)),
                    segment=segment,
                )

    def items(self, data: Mapping[str, Any], key: str, path: tuple[Any, ...]) -> list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.add("bad_list", f"{key} must be a list", (*path, key))
            return []
        return value


def _templates(c: _Checker, data: Mapping[str, Any]) -> dict[str, Template]:
    templates: dict[str, Template] = {}
    seen: set[str] = set()
    for i, item in enumerate(c.items(data, "templates", ())):
        path: tuple[Any, ...] = ("templates", i)
        if not isinstance(item, Mapping):
            c.add("bad_item", "a template is a map with id and channel", path)
            continue
        c.unknown_keys(item, {"id", "channel", "language"}, path, None)
        tid = c.text(item.get("id"), (*path, "id"), None, "template id")
        if tid is not None and tid in seen:
            c.add("duplicate_id", f"template {tid!r} is defined twice", (*path, "id"))
            tid = None
        elif tid is not None:
            seen.add(tid)
        channel = item.get("channel")
        if channel not in set(Channel):
            c.add(
                "unknown_channel",
                f"unknown channel {channel!r}; use one of {', '.join(Channel)}",
                (*path, "channel"),
            )
            continue
        if tid is None:
            continue
        language = item.get("language")
        templates[tid] = Template(tid, Channel(channel), str(language) if language else None)
    return templates


def _paths(
    c: _Checker, data: Mapping[str, Any], templates: Mapping[str, Template]
) -> dict[str, TreatmentPath]:
    paths: dict[str, TreatmentPath] = {}
    for i, item in enumerate(c.items(data, "paths", ())):
        path: tuple[Any, ...] = ("paths", i)
        if not isinstance(item, Mapping):
            c.add("bad_item", "a path is a map with id and steps", path)
            continue
        c.unknown_keys(item, {"id", "steps", "exit", "escalate"}, path, None)
        pid = c.text(item.get("id"), (*path, "id"), None, "path id")
        steps: list[Step] = []
        raw_steps = c.items(item, "steps", path)
        if not raw_steps:
            c.add("no_steps", "a path needs at least one step", (*path, "steps"))
        ok = True
        for j, raw in enumerate(raw_steps):
            spath = (*path, "steps", j)
            if not isinstance(raw, Mapping):
                c.add("bad_item", "a step is a map (day, channel, template, tone, priority)", spath)
                ok = False
                continue
            c.unknown_keys(raw, {"day", "channel", "template", "tone", "priority"}, spath, None)
            day = c.integer(raw.get("day"), (*spath, "day"), None, 0, 3650)
            priority = c.integer(raw.get("priority", 5), (*spath, "priority"), None, 1, 9)
            channel = raw.get("channel")
            if channel not in set(Channel):
                c.add(
                    "unknown_channel",
                    f"unknown channel {channel!r}; use one of {', '.join(Channel)}",
                    (*spath, "channel"),
                )
                channel = None
            tone = raw.get("tone")
            if tone not in set(Tone):
                c.add(
                    "unknown_tone", f"unknown tone {tone!r}; use one of {', '.join(Tone)}", (*spath, "tone")
                )
                tone = None
            raw_template = raw.get("template")
            template: str | None = raw_template if isinstance(raw_template, str) else None
            if template is None or template not in templates:
                c.add(
                    "unknown_template",
                    f"unknown template {raw_template!r}; declare it under templates",
                    (*spath, "template"),
                )
            elif channel is not None and templates[template].channel != channel:
                c.add(
                    "template_channel",
                    f"template {template!r} is for {templates[template].channel}, not {channel}",
                    (*spath, "template"),
                )
                template = None
            if day is None or priority is None or channel is None or tone is None or template is None:
                ok = False
                continue
            if template not in templates:
                ok = False
                continue
            steps.append(Step(day, Channel(channel), template, Tone(tone), priority))
        exit_rule = None
        if item.get("exit") is not None:
            exit_rule = c.condition(item["exit"], (*path, "exit"), None)
            ok = ok and exit_rule is not None
        escalations: list[EscalationRule] = []
        for j, raw in enumerate(c.items(item, "escalate", path)):
            epath = (*path, "escalate", j)
            if not isinstance(raw, Mapping):
                c.add("bad_item", "an escalation is a map with to and when or after_days", epath)
                ok = False
                continue
            c.unknown_keys(raw, {"to", "when", "after_days"}, epath, None)
            to = c.text(raw.get("to"), (*epath, "to"), None, "escalation target")
            when = c.condition(raw["when"], (*epath, "when"), None) if "when" in raw else None
            after = (
                c.integer(raw["after_days"], (*epath, "after_days"), None, 1, 3650)
                if "after_days" in raw
                else None
            )
            if "when" not in raw and "after_days" not in raw:
                c.add("missing", "an escalation needs when or after_days", epath)
            if to is None or (when is None and after is None):
                ok = False
                continue
            escalations.append(EscalationRule(to=to, when=when, after_days=after))
        if pid is None:
            continue
        if pid in c.seen_paths:
            c.add("duplicate_id", f"path {pid!r} is defined twice", (*path, "id"))
            continue
        c.seen_paths.add(pid)
        if ok and steps:
            paths[pid] = TreatmentPath(
                pid, tuple(sorted(steps, key=lambda s: (s.day, s.priority))), exit_rule, tuple(escalations)
            )
    return paths


def _percent(c: _Checker, value: Any, path: tuple[Any, ...], segment: str) -> Decimal | None:
    try:
        # YAML reads 12.5 as a float; its shortest text form is the number the analyst wrote.
        number = Decimal(-1) if isinstance(value, bool) or value is None else Decimal(str(value))
    except (InvalidOperation, ValueError):
        number = Decimal(-1)
    if not number.is_finite() or number <= 0 or number > 100 or number != number.quantize(Decimal("0.01")):
        c.add(
            "bad_percent",
            f"percent must be a number above 0 and at most 100 with at most 2 decimals, got {value!r}",
            path,
            segment=segment,
        )
        return None
    return number


def _experiment(
    c: _Checker, raw: Any, path: tuple[Any, ...], segment: str, known_paths: set[str], seen: set[str]
) -> Experiment | None:
    if not isinstance(raw, Mapping):
        c.add("bad_item", "an experiment is a map with id and variants", path, segment=segment)
        return None
    c.unknown_keys(raw, {"id", "variants"}, path, segment)
    eid = c.text(raw.get("id"), (*path, "id"), segment, "experiment id")
    if eid is not None:
        if eid in seen:
            c.add("duplicate_id", f"experiment {eid!r} is used twice", (*path, "id"), segment=segment)
        seen.add(eid)
    variants: list[Variant] = []
    ids: set[str] = set()
    ok = eid is not None
    raw_variants = c.items(raw, "variants", path)
    if len(raw_variants) < 2:
        c.add(
            "few_variants", "an experiment needs at least two variants", (*path, "variants"), segment=segment
        )
        ok = False
    for j, item in enumerate(raw_variants):
        vpath = (*path, "variants", j)
        if not isinstance(item, Mapping):
            c.add(
                "bad_item",
                "a variant is a map with id, percent and path (or control: true)",
                vpath,
                segment=segment,
            )
            ok = False
            continue
        c.unknown_keys(item, {"id", "percent", "path", "control"}, vpath, segment)
        vid = c.text(item.get("id"), (*vpath, "id"), segment, "variant id")
        if vid is not None and vid in ids:
            c.add("duplicate_id", f"variant {vid!r} appears twice", (*vpath, "id"), segment=segment)
            vid = None
        if vid is not None:
            ids.add(vid)
        percent = _percent(c, item.get("percent"), (*vpath, "percent"), segment)
        is_control = item.get("control") is True
        target = item.get("path")
        if is_control and target is not None:
            c.add(
                "control_with_path",
                "a control variant is held out and takes no path",
                (*vpath, "path"),
                segment=segment,
            )
            ok = False
        if not is_control and target not in known_paths:
            c.add("unknown_path", f"unknown path {target!r}", (*vpath, "path"), segment=segment)
            ok = False
        if vid is None or percent is None:
            ok = False
            continue
        variants.append(Variant(vid, percent, None if is_control else str(target), is_control))
    if sum(1 for v in variants if v.is_control) > 1:
        c.add(
            "many_controls",
            "an experiment has at most one control variant",
            (*path, "variants"),
            segment=segment,
        )
        ok = False
    total = sum((v.percent for v in variants), Decimal(0))
    if variants and len(variants) == len(raw_variants) and total != 100:
        c.add(
            "percent_sum",
            f"variant percentages add up to {total}, not 100",
            (*path, "variants"),
            segment=segment,
        )
        ok = False
    return Experiment(str(eid), tuple(variants)) if ok else None


def _overlaps(c: _Checker, segments: list[tuple[int, Segment]]) -> None:
    """Warnings from a probe of synthetic accounts: segments that can never win, and overlaps."""
    if not segments:
        return
    probe = probe_frame([s.condition.text for _, s in segments])
    matched = probe.select([s.condition.expr.alias(str(k)) for k, (_, s) in enumerate(segments)])
    taken = pl.Series([False] * probe.height)
    for k, (index, seg) in enumerate(segments):
        mask = matched.to_series(k)
        path: tuple[Any, ...] = ("segments", index, "when")
        if not mask.any():
            c.add(
                "never_matches",
                "no probed account meets this condition; check the bounds",
                path,
                segment=seg.id,
                severity=Severity.WARNING,
            )
        elif not (mask & ~taken).any():
            c.add(
                "unreachable",
                "every account meeting this condition is taken by an earlier segment",
                path,
                segment=seg.id,
                severity=Severity.WARNING,
            )
        elif seg.condition.text != CATCH_ALL:
            shared = [
                segments[k2][1].id
                for k2 in range(k)
                if segments[k2][1].condition.text != CATCH_ALL and (mask & matched.to_series(k2)).any()
            ]
            if shared:
                c.add(
                    "overlap",
                    f"overlaps earlier segment(s) {', '.join(shared)}; an account meeting both goes to the "
                    "earlier one",
                    path,
                    segment=seg.id,
                    severity=Severity.WARNING,
                )
        taken = taken | mask


def check_strategy(text: str, *, fmt: str = "yaml", source: str = "<strategy>") -> StrategyReport:
    """Check a strategy document and return every problem; ``strategy`` is set only when it has no errors."""
    data, lines = read_strategy_text(text, fmt=fmt, source=source)
    c = _Checker(lines, source)
    if not isinstance(data, Mapping):
        c.add("bad_document", "a strategy file is a map with id, segments, paths and templates", ())
        return StrategyReport(None, c.problems)
    c.unknown_keys(data, {"id", "name", "templates", "paths", "segments"}, (), None)
    sid = c.text(data.get("id"), ("id",), None, "strategy id")
    names = c.names(data.get("name"), ("name",), None)
    templates = _templates(c, data)
    paths = _paths(c, data, templates)
    declared_paths = set(c.seen_paths)
    segments: list[tuple[int, Segment]] = []
    seen_segments: set[str] = set()
    seen_experiments: set[str] = set()
    raw_segments = c.items(data, "segments", ())
    if not raw_segments:
        c.add("no_segments", "a strategy needs at least one segment", ("segments",))
    for i, item in enumerate(raw_segments):
        path: tuple[Any, ...] = ("segments", i)
        if not isinstance(item, Mapping):
            c.add("bad_item", "a segment is a map with id, when and path or experiment", path)
            continue
        segid = c.text(item.get("id"), (*path, "id"), None, "segment id")
        label = segid or f"#{i + 1}"
        c.unknown_keys(item, {"id", "name", "when", "path", "experiment"}, path, label)
        if segid is not None:
            if segid in seen_segments:
                c.add("duplicate_id", f"segment {segid!r} is defined twice", (*path, "id"), segment=label)
                segid = None
            else:
                seen_segments.add(segid)
        seg_names = c.names(item.get("name"), (*path, "name"), label)
        condition = c.condition(item.get("when", True), (*path, "when"), label)
        experiment = None
        target = item.get("path")
        if ("path" in item) == ("experiment" in item):
            c.add("path_or_experiment", "a segment has either a path or an experiment", path, segment=label)
        elif "experiment" in item:
            experiment = _experiment(
                c, item["experiment"], (*path, "experiment"), label, declared_paths, seen_experiments
            )
        elif target not in declared_paths:
            c.add("unknown_path", f"unknown path {target!r}", (*path, "path"), segment=label)
        if segid is None or condition is None:
            continue
        segments.append(
            (i, Segment(segid, seg_names, condition, None if experiment else str(target), experiment))
        )
    used = {s.path for _, s in segments} | {
        v.path for _, s in segments if s.experiment for v in s.experiment.variants
    }
    for i, item in enumerate(c.items(data, "paths", ())):
        pid = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(pid, str) and pid in paths and pid not in used:
            c.add(
                "unused_path",
                f"path {pid!r} is not used by any segment",
                ("paths", i),
                severity=Severity.WARNING,
            )
    try:
        _overlaps(c, segments)
    except Exception as exc:  # a probe that cannot run is a warning, never a reason to refuse
        c.add(
            "probe_failed",
            f"segment overlap check could not run: {exc}",
            ("segments",),
            severity=Severity.WARNING,
        )
    c.problems.sort(key=lambda p: (p.line or 0, p.severity != Severity.ERROR))
    if any(p.severity is Severity.ERROR for p in c.problems) or sid is None:
        return StrategyReport(None, c.problems)
    strategy = Strategy(sid, names, tuple(s for _, s in segments), paths, templates, text, fmt)
    return StrategyReport(strategy, c.problems)
