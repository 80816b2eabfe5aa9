"""Signed tree heads: an Ed25519 signature over (tree size, root hash, timestamp).

The signed bytes are the ``TreeHeadSignature`` structure of RFC 6962 §3.5, so the signature means
exactly what a Certificate Transparency log's does::

    version (1 byte, v1 = 0) || signature_type (1 byte, tree_hash = 1)
    || timestamp (uint64, milliseconds since the epoch) || tree_size (uint64) || root hash (32 bytes)

The key id is the hex SHA-256 of the DER ``SubjectPublicKeyInfo`` of the public key, like an RFC 6962
§3.2 log id. A tree head exported with :func:`export_tree_head` is a small JSON document an outside
party (a regulator, an auditor, the lender) can keep: later, a consistency proof from its tree size to
the current one shows the log was only ever appended to.

Keys are never stored in the database: they come from a PEM file or an environment variable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from arrears.audit.merkle import HASH_SIZE
from arrears.errors import ConfigurationError, ValidationError

__all__ = [
    "DEFAULT_SIGNING_KEY_ENV",
    "DOCUMENT_FORMAT",
    "KEY_FILE_ENV",
    "SignedTreeHead",
    "export_public_key",
    "export_tree_head",
    "generate_signing_key",
    "key_id",
    "load_configured_signing_key",
    "load_public_key",
    "load_signing_key",
    "load_signing_key_from_env",
    "parse_tree_head",
    "private_key_to_pem",
    "sign_tree_head",
    "tree_head_signature_input",
    "verify_tree_head",
]

DEFAULT_SIGNING_KEY_ENV: Final = "ARREARS_AUDIT_SIGNING_KEY"
"""Environment variable that holds the PEM text of the tree-head signing key."""

DOCUMENT_FORMAT: Final = "arrears-signed-tree-head/1"
"""Value of the ``format`` field of an exported tree head."""

_VERSION_V1: Final = 0  # RFC 6962 §3.2: enum { v1(0) } Version
_SIGNATURE_TYPE_TREE_HASH: Final = 1  # RFC 6962 §3.2: enum { certificate_timestamp(0), tree_hash(1) }
_SIGNATURE_SIZE: Final = 64
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _to_millis(value: datetime) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError("a tree head timestamp must carry a time zone", field="timestamp")
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _from_millis(millis: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=millis)


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key id of a public key: hex SHA-256 of its DER SubjectPublicKeyInfo (RFC 6962 §3.2 log id)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def tree_head_signature_input(*, tree_size: int, root_hash: bytes, timestamp: datetime) -> bytes:
    """The bytes that are signed: RFC 6962 §3.5 ``TreeHeadSignature`` (timestamp in milliseconds)."""
    if not 0 <= tree_size < 2**64:
        raise ValidationError(f"tree size {tree_size} is out of range", field="tree_size")
    if len(root_hash) != HASH_SIZE:
        raise ValidationError(f"a root hash is {HASH_SIZE} bytes, not {len(root_hash)}", field="root_hash")
    millis = _to_millis(timestamp)
    if not 0 <= millis < 2**64:
        raise ValidationError("a tree head timestamp must be after 1970", field="timestamp")
    return struct.pack(">BBQQ", _VERSION_V1, _SIGNATURE_TYPE_TREE_HASH, millis, tree_size) + root_hash


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A tree head and its Ed25519 signature. ``timestamp`` is aware UTC, whole milliseconds."""

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    signature: bytes
    key_id: str

    def signature_input(self) -> bytes:
        """The bytes the signature covers."""
        return tree_head_signature_input(
            tree_size=self.tree_size, root_hash=self.root_hash, timestamp=self.timestamp
        )

    def to_document(self, public_key: Ed25519PublicKey | None = None) -> dict[str, Any]:
        """The tree head as a JSON-ready document; with ``public_key``, the key's PEM is included."""
        document: dict[str, Any] = {
            "format": DOCUMENT_FORMAT,
            "hash_algorithm": "sha256",
            "signature_algorithm": "ed25519",
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": _format_time(self.timestamp),
            "timestamp_ms": _to_millis(self.timestamp),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        if public_key is not None:
            document["public_key"] = export_public_key(public_key).decode("ascii")
        return document


def sign_tree_head(
    private_key: Ed25519PrivateKey, *, tree_size: int, root_hash: bytes, timestamp: datetime
) -> SignedTreeHead:
    """Sign a tree head. ``timestamp`` (aware) is truncated to whole milliseconds, as RFC 6962 counts."""
    millis = _to_millis(timestamp)
    at = _from_millis(millis)
    message = tree_head_signature_input(tree_size=tree_size, root_hash=root_hash, timestamp=at)
    return SignedTreeHead(
        tree_size=tree_size,
        root_hash=bytes(root_hash),
        timestamp=at,
        signature=private_key.sign(message),
        key_id=key_id(private_key.public_key()),
    )


def verify_tree_head(
    head: SignedTreeHead, public_keys: Ed25519PublicKey | Mapping[str, Ed25519PublicKey]
) -> bool:
    """Whether ``head`` carries a valid signature by the key it names.

    ``public_keys`` is one trusted key or trusted keys by key id (several, after a key rotation). A head
    that names a key not among them, or whose key id does not match the key, does not verify.
    """
    if isinstance(public_keys, Ed25519PublicKey):
        public_keys = {key_id(public_keys): public_keys}
    key = public_keys.get(head.key_id)
    if key is None or key_id(key) != head.key_id or len(head.signature) != _SIGNATURE_SIZE:
        return False
    try:
        key.verify(head.signature, head.signature_input())
    except (InvalidSignature, ValidationError):
        return False
    return True


def export_tree_head(head: SignedTreeHead, public_key: Ed25519PublicKey | None = None) -> str:
    """The tree head as a pretty-printed JSON document, for an outside party to keep."""
    return json.dumps(head.to_document(public_key), indent=2, sort_keys=True) + "\n"


def _field(document: Mapping[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValidationError(f"a tree head document needs {name!r} as a {kind.__name__}", field=name)
    return value


def parse_tree_head(document: str | bytes | Mapping[str, Any]) -> SignedTreeHead:
    """Read back a tree head document written by :func:`export_tree_head`.

    Raises :class:`ValidationError` naming the field when the document is malformed. Parsing does not
    verify the signature: call :func:`verify_tree_head` with a key you trust (not the one in the document).
    """
    if isinstance(document, str | bytes):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise ValidationError(f"a tree head document is not JSON: {exc}", field="document") from exc
    if not isinstance(document, Mapping):
        raise ValidationError("a tree head document is a JSON object", field="document")
    if document.get("format") != DOCUMENT_FORMAT:
        raise ValidationError(f"a tree head document has format {DOCUMENT_FORMAT!r}", field="format")
    tree_size = _field(document, "tree_size", int)
    millis = _field(document, "timestamp_ms", int)
    head_key_id = _field(document, "key_id", str)
    try:
        root = bytes.fromhex(_field(document, "root_hash", str))
    except ValueError as exc:
        raise ValidationError("root_hash is not hexadecimal", field="root_hash") from exc
    try:
        signature = base64.b64decode(_field(document, "signature", str), validate=True)
    except binascii.Error as exc:
        raise ValidationError("signature is not base64", field="signature") from exc
    if len(root) != HASH_SIZE:
        raise ValidationError(f"root_hash is {HASH_SIZE} bytes", field="root_hash")
    if not 0 <= tree_size < 2**64:
        raise ValidationError("tree_size is out of range", field="tree_size")
    if not 0 <= millis < 2**63:
        raise ValidationError("timestamp_ms is out of range", field="timestamp_ms")
    return SignedTreeHead(
        tree_size=tree_size,
        root_hash=root,
        timestamp=_from_millis(millis),
        signature=signature,
        key_id=head_key_id,
    )


def generate_signing_key() -> Ed25519PrivateKey:
    """A new Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def private_key_to_pem(private_key: Ed25519PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM, for a key file (mode 0600) or an environment variable."""
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def export_public_key(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """The public half as SubjectPublicKeyInfo PEM, to hand to whoever verifies tree heads."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _load_private_pem(pem: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"the audit signing key in {source} is not an unencrypted PEM private key", source=source
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"the audit signing key in {source} is not an Ed25519 key", source=source)
    return key


def load_signing_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Load the signing key from a PEM file; a missing or unusable file is a :class:`ConfigurationError`."""
    file = Path(path)
    try:
        pem = file.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the audit signing key file {file}: {exc.strerror}", source=str(file)
        ) from exc
    return _load_private_pem(pem, str(file))


def load_signing_key_from_env(
    name: str = DEFAULT_SIGNING_KEY_ENV, *, environ: Mapping[str, str] | None = None
) -> Ed25519PrivateKey:
    """Load the signing key from the PEM text in an environment variable.

    A literal ``\\n`` in the value is read as a line break, so the PEM can sit on one line of an env file.
    """
    env = os.environ if environ is None else environ
    text = env.get(name)
    if not text:
        raise ConfigurationError(f"set {name} to the PEM text of the audit signing key", variable=name)
    return _load_private_pem(text.replace("\\n", "\n").encode("ascii", "replace"), f"${name}")


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    """A trusted public key from its PEM text; anything else is a :class:`ConfigurationError`."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("the tree head public key is not PEM", source="public_key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError("the tree head public key is not an Ed25519 key", source="public_key")
    return key


KEY_FILE_ENV: Final = "ARREARS_AUDIT_SIGNING_KEY_FILE"
"""Environment variable naming a PEM key file (used when ``ARREARS_AUDIT_SIGNING_KEY`` is not set)."""


def load_configured_signing_key(
    *, key_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Ed25519PrivateKey:
    """The deployment's signing key: ``ARREARS_AUDIT_SIGNING_KEY`` (PEM text, or ``@path``), else
    ``key_file``, else the file named by ``ARREARS_AUDIT_SIGNING_KEY_FILE``.

    With none of them set this is a :class:`ConfigurationError` that says how to make and set a key.
    """
    env = os.environ if environ is None else environ
    value = env.get(DEFAULT_SIGNING_KEY_ENV, "").strip()
    if value.startswith("@"):
        return load_signing_key(value[1:])
    if value:
        return load_signing_key_from_env(environ=env)
    path = key_file or env.get(KEY_FILE_ENV, "").strip()
    if path:
        return load_signing_key(path)
    raise ConfigurationError(
        f"no audit signing key is configured: set {DEFAULT_SIGNING_KEY_ENV} to the key's PEM text or "
        f"@/path/to/key.pem, or {KEY_FILE_ENV} to the key file (make one with `arrears audit keygen FILE`)",
        variable=DEFAULT_SIGNING_KEY_ENV,
    )
