"""Checking the whole audit log: every entry, its place, its chain, the state row and every tree head.

One pass over the events in leaf order, rows read in chunks: each entry's leaf hash is recomputed from
its stored bytes and compared with the stored hash; its embedded index with its place; its embedded
predecessor hash with the recomputed hash of the row before it. The recomputed leaf hashes (32 bytes
each, about 150 MB per million events with the tree built over them) give a
:class:`~arrears.audit.merkle.MerkleTree`, whose root is taken at every size a tree head signs.
A head verifies when its Ed25519 signature is good and its root is the root of that prefix of the one
recomputed leaf sequence — so heads that verify are consistent with one another by construction
(RFC 6962 §2.1.2: the older tree is a prefix of the newer).

What each tampering looks like:

* an entry edited, stored hash left alone → its leaf hash differs (``edited`` at its index);
* an entry edited and its hash recomputed → its successor's chain link differs (``edited``), or for the
  last event the state row's last leaf hash; if every later event and the state were rewritten too,
  only the signed heads can tell, and the index is then bounded by the last head that still verifies;
* an event deleted → a gap in the indexes (``missing``), or a log shorter than its state or its heads;
* an event inserted → its successors carry indexes one lower than their places (``inserted``; named
  at the place the original event should have had);
* events reordered → entries whose embedded index is not their place (``misplaced``).
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection

from arrears.audit.entry import ENTRY_VERSION, GENESIS_PREVIOUS, HEADER_SIZE
from arrears.audit.log import read_log_state
from arrears.audit.merkle import EMPTY_ROOT, MerkleTree
from arrears.audit.service import list_tree_heads, stream_rows
from arrears.audit.tree_head import SignedTreeHead, key_id, verify_tree_head

__all__ = ["Problem", "VerificationReport", "verify_log"]

_LEAF_PREFIX: Final = b"\x00"
_HEADER: Final = struct.Struct(">BQ")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that does not check out. ``index`` is the first leaf index it implicates, if any."""

    kind: str
    message: str
    index: int | None = None
    is_exact: bool = True
    """False when ``index`` only bounds the change from below (a root that no longer matches)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {"kind": self.kind, "index": self.index, "message": self.message}


@dataclass(slots=True)
class VerificationReport:
    """The outcome of :func:`verify_log`."""

    events: int = 0
    tree_size: int = 0
    root_hash: bytes = EMPTY_ROOT
    heads_checked: int = 0
    external_heads_checked: int = 0
    are_keys_trusted: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def is_intact(self) -> bool:
        """True when nothing failed."""
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        """The first bad leaf index: the smallest one a problem names exactly, else the lower bound a
        mismatching root gives, else ``None`` (a problem with heads only, such as a bad signature)."""
        exact = [p.index for p in self.problems if p.index is not None and p.is_exact]
        bounds = [p.index for p in self.problems if p.index is not None and not p.is_exact]
        if exact:
            return min(exact)
        return min(bounds) if bounds else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "intact": self.is_intact,
            "events": self.events,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "heads_checked": self.heads_checked,
            "external_heads_checked": self.external_heads_checked,
            "keys_trusted": self.are_keys_trusted,
            "first_bad_index": self.first_bad_index,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class _HeadToCheck:
    head: SignedTreeHead
    label: str
    keys: Mapping[str, Ed25519PublicKey]
    is_external: bool


class _NotInIdOrder(Exception):
    """The rows' ids are not in leaf order, so the pass must read them by leaf index instead."""


_BY_ID: Final = "SELECT seq, entry, leaf_hash FROM audit_events ORDER BY id"
_BY_SEQ: Final = "SELECT seq, entry, leaf_hash FROM audit_events ORDER BY seq"


def _walk_events(
    conn: Connection, report: VerificationReport, max_problems: int, *, by_id: bool
) -> tuple[list[bytes], bytes]:
    """The single pass over the events; returns the recomputed leaf hashes and the last of them.

    Appends give ids in leaf order, and reading by id is a sequential scan where reading by leaf
    index goes through an index (several times slower on SQLite). So the pass reads by id and, at the
    first row whose leaf index is lower than the one before, gives up (:class:`_NotInIdOrder`) to be
    run again by leaf index: the checks below always see the rows in leaf order.
    """
    problems = report.problems
    leaves: list[bytes] = []
    keep = leaves.append
    previous = GENESIS_PREVIOUS
    last_shift = (0, 0)
    position = 0
    sha256 = hashlib.sha256
    header = _HEADER.pack

    def add(problem: Problem) -> None:
        if len(problems) < max_problems:
            problems.append(problem)

    last_seq = -1
    for chunk in stream_rows(conn, _BY_ID if by_id else _BY_SEQ):
        for seq, raw_entry, stored in chunk:
            if by_id:
                if seq < last_seq:
                    raise _NotInIdOrder
                last_seq = seq
            entry = raw_entry if type(raw_entry) is bytes else bytes(raw_entry)
            leaf = sha256(_LEAF_PREFIX + entry).digest()
            if seq == position and entry.startswith(header(ENTRY_VERSION, position)) and last_shift == (0, 0):
                # The common case: the row is where it belongs; only its chain link is left to check.
                if entry[9:HEADER_SIZE] != previous:
                    add(
                        Problem(
                            "edited",
                            f"event {position - 1} is not the event {position} was chained to",
                            position - 1,
                        )
                    )
            else:
                last_shift = _check_place(add, seq, entry, position, previous, last_shift)
            if leaf != stored:
                add(Problem("edited", f"event {position} does not match its stored leaf hash", position))
            keep(leaf)
            previous = leaf
            position += 1
    report.events = position
    return leaves, previous


def _check_place(
    add: Callable[[Problem], None],
    seq: int,
    entry: bytes,
    position: int,
    previous: bytes,
    last_shift: tuple[int, int],
) -> tuple[int, int]:
    """Check a row that is not plainly in its place; returns the shift (seq, embedded index) it has.

    A change of shift is reported once where it happens, so a deletion or insertion is named at its
    index and not again at every later row.
    """
    if len(entry) < HEADER_SIZE or entry[0] != ENTRY_VERSION:
        add(Problem("malformed", f"event at index {position} is not a v1 leaf entry", position))
        embedded, link = position + last_shift[1], previous
    else:
        embedded, link = int.from_bytes(entry[1:9], "big"), entry[9:HEADER_SIZE]
    shift = (seq - position, embedded - position)
    if shift == last_shift:
        if link != previous:
            add(
                Problem(
                    "edited", f"event {position - 1} is not the event {position} was chained to", position - 1
                )
            )
    elif shift[0] > last_shift[0]:
        add(Problem("missing", f"{shift[0] - last_shift[0]} event(s) missing at index {position}", position))
    elif shift[0] < last_shift[0]:
        add(Problem("duplicate", f"leaf index {seq} is used twice", seq))
    elif embedded < position and shift[1] < last_shift[1]:
        add(
            Problem(
                "inserted",
                f"the event at index {position} is event {embedded} of the signed history: "
                f"{last_shift[1] - shift[1]} event(s) were inserted at or after index {embedded}",
                embedded,
            )
        )
    elif shift[1] != 0:
        add(Problem("misplaced", f"the event at index {position} belongs at index {embedded}", position))
    return shift


def _first_difference(size: int, ours: tuple[bytes, ...], theirs: tuple[bytes, ...]) -> int:
    """The first leaf of the first perfect subtree of the compact range where the two differ."""
    start = 0
    heights = [h for h in range(size.bit_length() - 1, -1, -1) if size >> h & 1]
    for height, mine, other in zip(heights, ours, theirs, strict=False):
        if mine != other:
            return start
        start += 1 << height
    return start


def verify_log(
    conn: Connection,
    *,
    trusted_keys: Mapping[str, Ed25519PublicKey] | Iterable[Ed25519PublicKey] | None = None,
    external_heads: Iterable[tuple[SignedTreeHead, Ed25519PublicKey | None]] = (),
    max_problems: int = 100,
) -> VerificationReport:
    """Check every event, the state row and every stored (and given) signed tree head.

    ``trusted_keys`` are the public keys tree heads must be signed with; without them each stored head
    is checked against the key stored next to it (which proves less: whoever can write the database can
    write a key too) and ``are_keys_trusted`` is false. ``external_heads`` are heads an outside party
    kept (``arrears audit export-heads``), checked the same way.
    """
    if trusted_keys is not None and not isinstance(trusted_keys, Mapping):
        trusted_keys = {key_id(k): k for k in trusted_keys}
    report = VerificationReport(are_keys_trusted=trusted_keys is not None)
    to_check: list[_HeadToCheck] = []
    stored_heads = list_tree_heads(conn)
    for stored in stored_heads:
        keys = trusted_keys if trusted_keys is not None else {stored.head.key_id: stored.public_key()}
        to_check.append(_HeadToCheck(stored.head, f"tree head {stored.id}", keys, is_external=False))
    for position, (head, embedded_key) in enumerate(external_heads):
        if trusted_keys is not None:
            keys = trusted_keys
        else:
            keys = {} if embedded_key is None else {key_id(embedded_key): embedded_key}
        to_check.append(_HeadToCheck(head, f"kept tree head {position}", keys, is_external=True))

    state = read_log_state(conn)
    try:
        leaves, last_leaf = _walk_events(conn, report, max_problems, by_id=True)
    except _NotInIdOrder:
        report.problems.clear()
        leaves, last_leaf = _walk_events(conn, report, max_problems, by_id=False)
    tree = MerkleTree.from_leaf_hashes(leaves)
    del leaves
    roots = {size: tree.root(size) for size in {h.head.tree_size for h in to_check} if size <= tree.size}
    report.tree_size = tree.size
    report.root_hash = tree.root()

    if state.tree_size > report.events:
        report.problems.append(
            Problem(
                "missing",
                f"the log records {state.tree_size} events but {report.events} are stored",
                report.events,
            )
        )
    elif state.tree_size < report.events:
        report.problems.append(
            Problem(
                "inserted",
                f"the log records {state.tree_size} events but {report.events} are stored: events from index "
                f"{state.tree_size} were added behind its back",
                state.tree_size,
            )
        )
    elif report.events and state.last_leaf_hash != last_leaf:
        report.problems.append(
            Problem(
                "edited",
                f"event {report.events - 1} differs from the log's recorded last event",
                report.events - 1,
            )
        )
    elif state.compact_range != tree.compact_range():
        index = _first_difference(state.tree_size, tree.compact_range(), state.compact_range)
        report.problems.append(
            Problem(
                "edited",
                f"the events from index {index} on differ from the log's recorded state",
                index,
                False,
            )
        )

    # Heads, smallest first: a root mismatch is bounded below by the largest head that still matched.
    last_good = 0
    for check in sorted(to_check, key=lambda c: (c.head.tree_size, c.head.timestamp)):
        head = check.head
        if check.is_external:
            report.external_heads_checked += 1
        else:
            report.heads_checked += 1
        if not verify_tree_head(head, check.keys):
            report.problems.append(
                Problem("signature", f"{check.label} (size {head.tree_size}) has a bad signature")
            )
        if head.tree_size > report.events:
            report.problems.append(
                Problem(
                    "missing",
                    f"{check.label} signs {head.tree_size} events but only {report.events} are stored",
                    report.events,
                )
            )
        elif roots.get(head.tree_size) != head.root_hash:
            report.problems.append(
                Problem(
                    "root_mismatch",
                    f"{check.label} (size {head.tree_size}) does not match the stored events; "
                    f"they differ between index {last_good} and {head.tree_size - 1}",
                    last_good,
                    is_exact=False,
                )
            )
        else:
            last_good = max(last_good, head.tree_size)
    # Heads are issued in order: a later one may not cover fewer events or carry an earlier time.
    for earlier, later in itertools.pairwise(stored_heads):
        if later.tree_size < earlier.tree_size or later.head.timestamp < earlier.head.timestamp:
            report.problems.append(
                Problem(
                    "head_order",
                    f"tree head {later.id} goes back in size or time from tree head {earlier.id}",
                )
            )
    return report
