"""Audit: a tamper-evident log of who did what, as an RFC 6962 Merkle tree with signed tree heads.

The pure building blocks live here: :mod:`arrears.audit.merkle` (tree hashes and proofs),
:mod:`arrears.audit.canonical` (the exact bytes an event is hashed as) and
:mod:`arrears.audit.tree_head` (Ed25519-signed tree heads an outside party can keep).
"""
