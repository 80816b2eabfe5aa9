"""Merkle trees exactly as RFC 6962 §2.1 (Certificate Transparency) defines them.

For an ordered list of entries ``D[n] = {d(0), ..., d(n-1)}``::

    MTH({})      = SHA-256()                                   the empty tree
    MTH({d(0)})  = SHA-256(0x00 || d(0))                       a leaf
    MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) k = the largest power of two < n

The distinct 0x00 / 0x01 prefixes keep a leaf from ever being passed off as an inner node
(RFC 6962 §2.1, second-preimage resistance).

The recursive definition is equivalent to building the tree level by level, pairing neighbours
left to right and carrying an unpaired last node up unchanged; that is how this module computes it,
so a million entries cost two million ``hashlib`` calls and no recursion. Node ``j`` of level ``h``
with ``(j + 1) * 2**h <= n`` is the root of the perfect subtree over leaves ``[j * 2**h, (j + 1) * 2**h)``;
:class:`MerkleTree` keeps every level, so the root of any earlier size and the proofs for any
earlier size come from those perfect subtrees in O(log n).

Proofs and their verification follow RFC 6962 §2.1.1 (audit paths) and §2.1.2 (consistency
proofs); the verification algorithms are the ones RFC 9162 §2.1.3.2 and §2.1.4.2 spell out.
Verification never raises: anything malformed simply does not verify.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleAccumulator",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
    "verify_leaf_inclusion",
]

_sha256 = hashlib.sha256
_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"

HASH_SIZE: Final = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT: Final[bytes] = _sha256(b"").digest()
"""Root hash of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1)."""


def leaf_hash(entry: bytes) -> bytes:
    """The RFC 6962 leaf hash of one entry: ``SHA-256(0x00 || entry)``."""
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of an inner node: ``SHA-256(0x01 || left || right)``."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """The leaf hash of every entry, in order."""
    return [_sha256(_LEAF_PREFIX + entry).digest() for entry in entries]


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    """Pair neighbours left to right; an unpaired last node is carried up unchanged."""
    pairs = iter(level)
    upper = [_sha256(_NODE_PREFIX + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
    if len(level) % 2:
        upper.append(level[-1])
    return upper


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The tree head of a tree given by its leaf hashes (already computed with :func:`leaf_hash`)."""
    if not hashes:
        return EMPTY_ROOT
    level: Sequence[bytes] = hashes
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def root_hash(entries: Sequence[bytes]) -> bytes:
    """The Merkle tree hash ``MTH(D[n])`` of the entries (RFC 6962 §2.1)."""
    return root_from_leaf_hashes(leaf_hashes(entries))


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``): the RFC 6962 split point."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """A whole tree kept level by level, for roots and proofs at the current or any earlier size.

    Memory is about two hashes per leaf. Build it with :meth:`from_entries` or
    :meth:`from_leaf_hashes`; it is not changed afterwards.
    """

    __slots__ = ("_levels",)

    def __init__(self, levels: list[list[bytes]]) -> None:
        self._levels = levels

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> MerkleTree:
        """A tree over leaves whose hashes are already known."""
        level = list(hashes)
        levels = [level]
        while len(level) > 1:
            level = _next_level(level)
            levels.append(level)
        return cls(levels)

    @classmethod
    def from_entries(cls, entries: Iterable[bytes]) -> MerkleTree:
        """A tree over raw entries (each is hashed with :func:`leaf_hash`)."""
        return cls.from_leaf_hashes(leaf_hashes(entries))

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def leaf_hash(self, index: int) -> bytes:
        """The stored hash of leaf ``index``."""
        return self._levels[0][index]

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside 0..{self.size}")
        return size

    def _range_root(self, start: int, end: int) -> bytes:
        """``MTH(D[start:end])`` for a range the RFC's recursion produces (``start`` aligned)."""
        # The RFC split of [start, end) gives perfect subtrees of strictly decreasing size, each
        # aligned to its own size; fold them from the right.
        chunks: list[bytes] = []
        position = start
        remaining = end - start
        while remaining:
            height = remaining.bit_length() - 1
            width = 1 << height
            if position & (width - 1):
                raise AssertionError(f"range [{start}, {end}) is not aligned for the RFC 6962 split")
            chunks.append(self._levels[height][position >> height])
            position += width
            remaining -= width
        if not chunks:
            return EMPTY_ROOT
        root = chunks[-1]
        for left in reversed(chunks[:-1]):
            root = node_hash(left, root)
        return root

    def root(self, size: int | None = None) -> bytes:
        """The tree head at ``size`` leaves (default: all of them), in O(log n)."""
        return self._range_root(0, self._check_size(size))

    def compact_range(self, size: int | None = None) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees covering the first ``size`` leaves, largest first (as
        :attr:`MerkleAccumulator.compact_range`)."""
        size = self._check_size(size)
        hashes: list[bytes] = []
        position = 0
        for height in range(size.bit_length() - 1, -1, -1):
            if size >> height & 1:
                hashes.append(self._levels[height][position >> height])
                position += 1 << height
        return tuple(hashes)

    def _node(self, height: int, index: int, size: int) -> bytes:
        """Node ``index`` of level ``height`` in the tree of the first ``size`` leaves."""
        start = index << height
        if start + (1 << height) <= size:
            return self._levels[height][index]
        return self._range_root(start, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path ``PATH(index, D[size])`` of RFC 6962 §2.1.1, from the leaf upwards."""
        size = self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
        proof: list[bytes] = []
        height = 0
        width = size  # nodes on the current level of the size-`size` tree
        while width > 1:
            sibling = index ^ 1
            if sibling < width:
                proof.append(self._node(height, sibling, size))
            index >>= 1
            width = (width + 1) >> 1
            height += 1
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """``PROOF(old_size, D[new_size])`` of RFC 6962 §2.1.2.

        The proof is empty when ``old_size`` is 0 or equal to ``new_size``: there is nothing to prove.
        """
        new_size = self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"old size {old_size} is outside 0..{new_size}")
        if old_size in (0, new_size):
            return []
        # SUBPROOF(m, D[start:end], complete) unrolled: each step appends the hash that the
        # recursion would add *after* its inner result, so the list is reversed at the end.
        outer_first: list[bytes] = []
        m, start, end, complete = old_size, 0, new_size, True
        while m != end - start:
            k = _largest_power_of_two_below(end - start)
            if m <= k:
                outer_first.append(self._range_root(start + k, end))
                end = start + k
            else:
                outer_first.append(self._range_root(start, start + k))
                start += k
                m -= k
                complete = False
        if not complete:
            outer_first.append(self._range_root(start, end))
        outer_first.reverse()
        return outer_first


def inclusion_proof(entries: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of entry ``index`` in the tree of all ``entries`` (RFC 6962 §2.1.1).

    Raises ``ValueError`` when ``index`` is not an entry of the tree.
    """
    return MerkleTree.from_entries(entries).inclusion_proof(index)


def consistency_proof(entries: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the tree of the first ``old_size`` entries is a prefix of the tree of all of them.

    RFC 6962 §2.1.2. Raises ``ValueError`` when ``old_size`` is not in ``0..len(entries)``.
    """
    return MerkleTree.from_entries(entries).consistency_proof(old_size)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def root_from_inclusion_proof(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes | None:
    """The root an audit path leads to from a leaf hash, or ``None`` if the path cannot fit the tree.

    RFC 9162 §2.1.3.2 (the verification algorithm for RFC 6962 audit paths).
    """
    if not (0 <= index < tree_size) or not _is_hash(leaf) or not all(_is_hash(p) for p in proof):
        return None
    fn, sn = index, tree_size - 1
    result = leaf
    for sibling in proof:
        if sn == 0:
            return None  # the path is longer than the tree is deep
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                # A right-edge node carried up: skip the levels where it has no sibling.
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None  # the path is shorter than the tree is deep
    return result


def verify_leaf_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether an audit path proves that the leaf *hash* ``leaf`` sits at ``index`` of the tree ``root``."""
    computed = root_from_inclusion_proof(leaf, index, tree_size, proof)
    return computed is not None and _is_hash(root) and computed == root


def verify_inclusion(entry: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows that ``entry`` is entry ``index`` of the tree of ``tree_size`` with ``root``.

    Any wrong index, size, entry, root or proof element gives ``False``; it never raises.
    """
    if not isinstance(entry, bytes):
        return False
    return verify_leaf_inclusion(leaf_hash(entry), index, tree_size, proof, root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree ``old_root`` of ``old_size`` is a prefix of ``new_root``.

    RFC 9162 §2.1.4.2. The empty tree (``old_size == 0``) is a prefix of every tree; its root must
    be :data:`EMPTY_ROOT` and its proof empty. Equal sizes need equal roots and an empty proof.
    Anything malformed gives ``False``; it never raises.
    """
    if not (_is_hash(old_root) and _is_hash(new_root)) or not all(_is_hash(p) for p in proof):
        return False
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a perfect subtree of the new one: the proof omits its root.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_result = new_result = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_result = node_hash(node, old_result)
            new_result = node_hash(node, new_result)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            new_result = node_hash(new_result, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and old_result == old_root and new_result == new_root


class MerkleAccumulator:
    """An append-only tree head kept as its compact range: the roots of its perfect subtrees.

    A tree of ``n`` leaves is the concatenation of perfect subtrees, one per set bit of ``n``, largest
    first. Appending a leaf merges equal-sized neighbours (like a binary counter), and the root folds the
    at most ``log2(n) + 1`` subtree roots from the right, so both are O(log n). Storing ``size`` and
    :attr:`compact_range` is enough to resume appending later without the earlier leaves.
    """

    __slots__ = ("_hashes", "_heights", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []
        self._heights: list[int] = []

    @classmethod
    def from_compact_range(cls, size: int, hashes: Sequence[bytes]) -> MerkleAccumulator:
        """Resume from a stored ``size`` and its compact range (largest subtree first).

        Raises ``ValueError`` when the number of hashes does not match the set bits of ``size``.
        """
        if size < 0:
            raise ValueError("a tree size cannot be negative")
        heights = [h for h in range(size.bit_length() - 1, -1, -1) if size >> h & 1]
        if len(heights) != len(hashes) or not all(_is_hash(h) for h in hashes):
            raise ValueError(f"a tree of {size} leaves has a compact range of {len(heights)} hashes")
        accumulator = cls()
        accumulator._size = size
        accumulator._hashes = list(hashes)
        accumulator._heights = heights
        return accumulator

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def compact_range(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees covering the tree, largest (leftmost) first."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> None:
        """Append one leaf by its leaf hash (see :func:`leaf_hash`)."""
        if not _is_hash(leaf):
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes")
        hashes, heights = self._hashes, self._heights
        current, height = leaf, 0
        while heights and heights[-1] == height:
            current = node_hash(hashes.pop(), current)
            heights.pop()
            height += 1
        hashes.append(current)
        heights.append(height)
        self._size += 1

    def append_entry(self, entry: bytes) -> bytes:
        """Append one raw entry and return its leaf hash."""
        hashed = leaf_hash(entry)
        self.append(hashed)
        return hashed

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """The current tree head, equal to :func:`root_from_leaf_hashes` of every appended leaf."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            result = node_hash(left, result)
        return result
