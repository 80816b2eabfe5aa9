"""Compliance capability: every proposed contact and message checked against the debtor's rules.

``check(request)`` takes a request (a mapping or :class:`Request`) and returns a :class:`Decision`;
``check_batch`` judges a day's proposed contacts against one history table; ``check_content``
vets a text on its own (templates); ``fingerprint`` identifies the inputs of a decision for audit;
``record_decision`` / ``record_decisions`` store decisions taken for real actions and
``compliance_report`` counts them by outcome and rule.
"""

from arrears.compliance.batch import check_batch
from arrears.compliance.service import (
    ReportRow,
    check,
    compliance_report,
    fingerprint,
    parse_request,
    read_request_text,
    record_decision,
    record_decisions,
)
from arrears.compliance.text import check_content
from arrears.domain.compliance import Decision, FiredRule, Obligation, Outcome, Request

__all__ = [
    "Decision",
    "FiredRule",
    "Obligation",
    "Outcome",
    "ReportRow",
    "Request",
    "check",
    "check_batch",
    "check_content",
    "compliance_report",
    "fingerprint",
    "parse_request",
    "read_request_text",
    "record_decision",
    "record_decisions",
]
