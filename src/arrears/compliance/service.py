"""Use cases of the compliance capability: read a request, check it, fingerprint it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pydantic

from arrears.domain.compliance.engine import evaluate
from arrears.domain.compliance.models import Decision, Request
from arrears.domain.compliance.packs import PackSet, load_packs
from arrears.errors import FileFormatError, ValidationError

__all__ = ["check", "fingerprint", "parse_request", "read_request_text"]


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _problem(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "enum":
        expected = str(ctx.get("expected", "")).replace(" or ", ", ").replace("'", "")
        return f"must be one of {expected}"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind in {"timezone_aware", "datetime_parsing", "datetime_from_date_parsing", "datetime_type"}:
        return "must be an ISO-8601 instant with a UTC offset, e.g. 2026-06-10T12:30:00Z"
    if kind in {"date_parsing", "date_from_datetime_parsing", "date_type"}:
        return "must be a date as YYYY-MM-DD"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def parse_request(data: Request | Mapping[str, Any]) -> Request:
    """Validate a request body; errors name the field path and the problem."""
    if isinstance(data, Request):
        return data
    try:
        return Request.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = _path(first.get("loc", ()))
        problem = _problem(first)
        # Cross-field problems raised by the model validator already start with their path.
        message = problem if not path else f"{path}: {problem}"
        details = [{"field": _path(e.get("loc", ())), "problem": _problem(e)} for e in exc.errors()]
        raise ValidationError(message, field=path, problem=problem, errors=details) from None


def read_request_text(text: str, source: str = "request") -> Request:
    """Parse JSON text into a request; a file that is not JSON is reported with its line and column."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            source=source,
            line=exc.lineno,
            column=exc.colno,
        ) from None
    if not isinstance(data, dict):
        raise ValidationError(f"{source}: a request must be a JSON object", source=source)
    return parse_request(data)


def check(request: Request | Mapping[str, Any], *, packs: PackSet | None = None) -> Decision:
    """Judge one proposed contact: allow, delay (with ``next_allowed_at``), block or review."""
    return evaluate(parse_request(request), packs or load_packs())


def fingerprint(request: Request | Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the validated inputs (instants in UTC, keys sorted)."""
    model = parse_request(request)
    canonical = json.dumps(
        model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
