"""Compliance capability: every proposed contact and message checked against the debtor's rules.

``check(request)`` takes a request (a mapping or :class:`Request`) and returns a :class:`Decision`;
``check_batch`` judges a day's proposed contacts against one history table; ``check_content``
vets a text on its own (templates); ``fingerprint`` identifies the inputs of a decision for audit.
"""

from arrears.compliance.batch import check_batch
from arrears.compliance.service import check, fingerprint, parse_request, read_request_text
from arrears.compliance.text import check_content
from arrears.domain.compliance import Decision, FiredRule, Obligation, Outcome, Request

__all__ = [
    "Decision",
    "FiredRule",
    "Obligation",
    "Outcome",
    "Request",
    "check",
    "check_batch",
    "check_content",
    "fingerprint",
    "parse_request",
    "read_request_text",
]
