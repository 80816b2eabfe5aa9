"""Benchmark: the pure hashing side of the audit log.

Measures, for N audit entries (default 1,000,000):

1. the RFC 6962 root hash of all entries;
2. a full verification as ``arrears audit verify`` performs it: recompute every leaf hash from the
   stored entries, compare with the stored leaf hashes (naming the first bad index), rebuild the tree,
   and check every stored signed tree head (Ed25519 signature and root at its size) — target ≤ 10 s;
3. appending in batches through :class:`MerkleAccumulator` (the hashing part of the ≥ 20,000 events/s
   append target; the database part is measured with the store);
4. encoding events as canonical JSON, to size the cost of re-encoding stored columns.

Run: ``.venv/bin/python benchmarks/bench_audit_merkle.py [--entries N] [--heads-every K]``
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from arrears.audit.canonical import AuditEvent
from arrears.audit.merkle import MerkleAccumulator, MerkleTree, leaf_hashes, root_hash
from arrears.audit.tree_head import SignedTreeHead, generate_signing_key, sign_tree_head, verify_tree_head

VERIFY_TARGET_SECONDS = 10.0
APPEND_TARGET_PER_SECOND = 20_000
BATCH = 1_000


def synthetic_entries(n: int) -> list[bytes]:
    """Entries shaped like canonical audit events (about 230 bytes each), built quickly."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    template = (
        '{{"action":"payment.recorded","actor":"user:{actor}","after":{{"balance_minor":{after},'
        '"stage":"promise"}},"at":"{at}","before":{{"balance_minor":{before},"stage":"early"}},'
        '"details":{{"channel":"bank_transfer"}},"subject":"case:{case}"}}'
    )
    entries = []
    for i in range(n):
        at = (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        text = template.format(
            actor=i % 97, after=500_000 - i % 1000, before=600_000 - i % 1000, at=at, case=i
        )
        entries.append(text.encode())
    return entries


def verify_log(
    entries: list[bytes],
    stored_leaf_hashes: list[bytes],
    heads: list[SignedTreeHead],
    public_key: Ed25519PublicKey,
) -> tuple[int | None, list[int]]:
    """Return (first bad entry index or None, sizes of tree heads that fail)."""
    recomputed = leaf_hashes(entries)
    first_bad = next(
        (i for i, (a, b) in enumerate(zip(recomputed, stored_leaf_hashes, strict=True)) if a != b), None
    )
    tree = MerkleTree.from_leaf_hashes(recomputed)
    bad_heads = [
        head.tree_size
        for head in heads
        if head.tree_size > tree.size
        or not verify_tree_head(head, public_key)
        or tree.root(head.tree_size) != head.root_hash
    ]
    return first_bad, bad_heads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--heads-every", type=int, default=10_000, help="a signed tree head every K entries")
    args = parser.parse_args(argv)
    n = args.entries

    t0 = time.perf_counter()
    entries = synthetic_entries(n)
    mean_size = sum(map(len, entries)) / n
    print(f"entries: {n:,} (mean {mean_size:.0f} bytes), generated in {time.perf_counter() - t0:.2f} s")

    t0 = time.perf_counter()
    root = root_hash(entries)
    root_seconds = time.perf_counter() - t0
    print(f"root hash of {n:,} entries: {root_seconds:.2f} s  ({root.hex()[:16]}…)")

    # What the store would hold: leaf hashes and signed tree heads at regular sizes.
    key = generate_signing_key()
    stored = leaf_hashes(entries)
    tree = MerkleTree.from_leaf_hashes(stored)
    issued_at = datetime(2025, 1, 1, tzinfo=UTC)
    sizes = [*range(args.heads_every, n + 1, args.heads_every)]
    if not sizes or sizes[-1] != n:
        sizes.append(n)
    heads = [sign_tree_head(key, tree_size=s, root_hash=tree.root(s), timestamp=issued_at) for s in sizes]
    del tree

    t0 = time.perf_counter()
    first_bad, bad_heads = verify_log(entries, stored, heads, key.public_key())
    verify_seconds = time.perf_counter() - t0
    ok = first_bad is None and not bad_heads
    verdict = "PASS" if ok and verify_seconds <= VERIFY_TARGET_SECONDS else "FAIL"
    print(
        f"full verification ({n:,} leaves, {len(heads)} signed tree heads): {verify_seconds:.2f} s "
        f"[target ≤ {VERIFY_TARGET_SECONDS:.0f} s: {verdict}]"
    )

    # Tampering is found and named (not timed).
    tampered_index = n // 3
    tampered = list(entries)
    tampered[tampered_index] = tampered[tampered_index].replace(b"payment", b"pAyment")
    first_bad, bad_heads = verify_log(tampered, stored, heads, key.public_key())
    print(
        f"tampered entry {tampered_index:,}: first bad index reported {first_bad:,}, "
        f"{len(bad_heads)} of {len(heads)} tree heads no longer match"
    )
    del tampered

    t0 = time.perf_counter()
    accumulator = MerkleAccumulator()
    for start in range(0, n, BATCH):
        accumulator.extend(leaf_hashes(entries[start : start + BATCH]))
        accumulator.root()  # a batch commit records the new tree head
    append_seconds = time.perf_counter() - t0
    rate = n / append_seconds
    assert accumulator.root() == root
    verdict = "PASS" if rate >= APPEND_TARGET_PER_SECOND else "FAIL"
    print(
        f"append in batches of {BATCH:,} (leaf hash + accumulator + root per batch): {rate:,.0f} events/s "
        f"[hashing share of the ≥ {APPEND_TARGET_PER_SECOND:,}/s target: {verdict}]"
    )

    sample = 50_000
    events = [
        AuditEvent(
            actor=f"user:{i % 97}",
            action="payment.recorded",
            subject=f"case:{i}",
            at=issued_at + timedelta(seconds=i),
            before={"balance_minor": 600_000, "stage": "early"},
            after={"balance_minor": 500_000, "stage": "promise", "amount": Decimal("1000.00")},
        )
        for i in range(sample)
    ]
    t0 = time.perf_counter()
    for event in events:
        event.canonical_bytes()
    encode_rate = sample / (time.perf_counter() - t0)
    print(f"canonical JSON encoding: {encode_rate:,.0f} events/s (sample of {sample:,})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
