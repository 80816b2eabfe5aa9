"""The collection case: stages, holds, contacts, confirmation, negotiation, escalation, legal, closure.

Services live in ``service`` (opening, stages, holds, views), ``contacts``, ``confirmation``,
``negotiation``, ``legal`` and ``closure``; tables in ``tables`` (migration 0005); the pure rules in
:mod:`arrears.domain.cases`. See docs/cases.md.
"""
