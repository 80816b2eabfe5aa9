"""Builders for compliance requests (plain dicts, as the CLI and API receive them)."""

from __future__ import annotations

from typing import Any

import pytest


def make_request(
    *,
    now: str,
    actor: str = "third_party_collector",
    jurisdiction: str = "US-IL",
    timezone: str | None = None,
    address: dict[str, Any] | None = None,
    contact_points: list[dict[str, Any]] | None = None,
    flags: dict[str, Any] | None = None,
    persons: list[dict[str, Any]] | None = None,
    debts: list[dict[str, Any]] | None = None,
    history: list[dict[str, Any]] | None = None,
    proposed: dict[str, Any] | None = None,
    packs: list[str] | None = None,
) -> dict[str, Any]:
    debtor: dict[str, Any] = {
        "id": "d1",
        "jurisdiction": jurisdiction,
        "contact_points": contact_points
        if contact_points is not None
        else [{"id": "m1", "kind": "phone", "value": "+13125551234", "place": "mobile"}],
        "flags": flags or {},
    }
    if timezone:
        debtor["timezone"] = timezone
    if address:
        debtor["address"] = address
    body: dict[str, Any] = {
        "now": now,
        "actor": actor,
        "debtor": debtor,
        "persons": persons or [],
        "debts": debts if debts is not None else [{"id": "A"}],
        "history": history or [],
        "proposed": proposed or {"channel": "call", "contact_point": "m1", "debts": ["A"]},
    }
    if packs is not None:
        body["packs"] = packs
    return body


def call(at: str, outcome: str = "no_answer", **extra: Any) -> dict[str, Any]:
    event = {"at": at, "channel": "call", "direction": "outbound", "contact_point": "m1", "debts": ["A"]}
    event["outcome"] = outcome
    event.update(extra)
    return event


@pytest.fixture
def req():
    return make_request


@pytest.fixture
def ev():
    return call
