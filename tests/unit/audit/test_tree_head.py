"""Signed tree heads: RFC 6962 §3.5 signature input, Ed25519 sign/verify, export, key loading."""

from __future__ import annotations

import hashlib
import json
import struct
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from arrears.audit.merkle import root_hash
from arrears.audit.tree_head import (
    DOCUMENT_FORMAT,
    SignedTreeHead,
    export_public_key,
    export_tree_head,
    generate_signing_key,
    key_id,
    load_public_key,
    load_signing_key,
    load_signing_key_from_env,
    parse_tree_head,
    private_key_to_pem,
    sign_tree_head,
    tree_head_signature_input,
    verify_tree_head,
)
from arrears.errors import ConfigurationError, ValidationError

# RFC 8032 §7.1 TEST 1 secret key: a fixed key makes signatures reproducible (Ed25519 is deterministic).
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
ROOT = root_hash([b"a", b"b", b"c"])
AT = datetime(2024, 5, 1, 8, 0, 0, 123_456, tzinfo=UTC)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)


def test_signature_input_is_the_rfc6962_tree_head_structure() -> None:
    at = datetime(2024, 5, 1, 8, 0, 0, 123_000, tzinfo=UTC)
    millis = 1_714_550_400_123
    assert tree_head_signature_input(tree_size=3, root_hash=ROOT, timestamp=at) == (
        b"\x00\x01" + struct.pack(">Q", millis) + struct.pack(">Q", 3) + ROOT
    )


def test_key_id_is_sha256_of_the_public_key_info(key: Ed25519PrivateKey) -> None:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key_id(key.public_key()) == hashlib.sha256(der).hexdigest()
    # RFC 8032 TEST 1 public key, wrapped in the fixed 12-byte Ed25519 SPKI header.
    assert der.hex() == "302a300506032b6570032100" + (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )


def test_sign_and_verify(key: Ed25519PrivateKey) -> None:
    head = sign_tree_head(key, tree_size=3, root_hash=ROOT, timestamp=AT)
    assert head.tree_size == 3
    assert head.root_hash == ROOT
    assert head.timestamp == datetime(2024, 5, 1, 8, 0, 0, 123_000, tzinfo=UTC)  # whole milliseconds
    assert head.key_id == key_id(key.public_key())
    assert len(head.signature) == 64
    key.public_key().verify(head.signature, head.signature_input())  # raises if wrong
    assert verify_tree_head(head, key.public_key())
    assert verify_tree_head(head, {head.key_id: key.public_key()})


def test_signing_converts_other_zones_to_the_same_instant(key: Ed25519PrivateKey) -> None:
    local = AT.astimezone(timezone(timedelta(hours=8)))
    assert sign_tree_head(key, tree_size=3, root_hash=ROOT, timestamp=local) == sign_tree_head(
        key, tree_size=3, root_hash=ROOT, timestamp=AT
    )


def test_tampered_heads_do_not_verify(key: Ed25519PrivateKey) -> None:
    head = sign_tree_head(key, tree_size=3, root_hash=ROOT, timestamp=AT)
    other = generate_signing_key()
    flipped = bytes([head.signature[0] ^ 1]) + head.signature[1:]
    tampered = [
        SignedTreeHead(4, head.root_hash, head.timestamp, head.signature, head.key_id),
        SignedTreeHead(3, root_hash([b"a"]), head.timestamp, head.signature, head.key_id),
        SignedTreeHead(
            3, head.root_hash, head.timestamp + timedelta(milliseconds=1), head.signature, head.key_id
        ),
        SignedTreeHead(3, head.root_hash, head.timestamp, flipped, head.key_id),
        SignedTreeHead(3, head.root_hash, head.timestamp, head.signature[:10], head.key_id),
        SignedTreeHead(3, b"short", head.timestamp, head.signature, head.key_id),
    ]
    assert [verify_tree_head(t, key.public_key()) for t in tampered] == [False] * len(tampered)
    # The right signature checked against another key, or a key filed under the wrong id.
    assert not verify_tree_head(head, other.public_key())
    assert not verify_tree_head(head, {head.key_id: other.public_key()})


def test_export_and_parse_round_trip(key: Ed25519PrivateKey) -> None:
    head = sign_tree_head(key, tree_size=3, root_hash=ROOT, timestamp=AT)
    text = export_tree_head(head, key.public_key())
    document = json.loads(text)
    assert document["format"] == DOCUMENT_FORMAT
    assert document["tree_size"] == 3
    assert document["root_hash"] == ROOT.hex()
    assert document["timestamp"] == "2024-05-01T08:00:00.123Z"
    assert document["timestamp_ms"] == 1_714_550_400_123
    assert document["key_id"] == head.key_id
    assert document["public_key"] == export_public_key(key).decode()
    parsed = parse_tree_head(text)
    assert parsed == head
    assert verify_tree_head(parsed, load_public_key(document["public_key"]))
    assert "public_key" not in json.loads(export_tree_head(head))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": "other"}, "format"),
        ({"tree_size": "3"}, "tree_size"),
        ({"tree_size": -1}, "tree_size"),
        ({"root_hash": "zz"}, "root_hash"),
        ({"root_hash": "00"}, "root_hash"),
        ({"signature": "***"}, "signature"),
        ({"timestamp_ms": True}, "timestamp_ms"),
        ({"key_id": None}, "key_id"),
    ],
)
def test_malformed_documents_name_the_field(
    key: Ed25519PrivateKey, change: dict[str, object], field: str
) -> None:
    document = sign_tree_head(key, tree_size=3, root_hash=ROOT, timestamp=AT).to_document()
    document.update(change)
    with pytest.raises(ValidationError) as caught:
        parse_tree_head(document)
    assert caught.value.fields["field"] == field


def test_unparsable_documents() -> None:
    with pytest.raises(ValidationError, match="not JSON"):
        parse_tree_head("{")
    with pytest.raises(ValidationError, match="JSON object"):
        parse_tree_head("[]")


def test_bad_inputs_to_signing(key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValidationError, match="time zone"):
        sign_tree_head(key, tree_size=1, root_hash=ROOT, timestamp=datetime(2024, 1, 1))
    with pytest.raises(ValidationError, match="32 bytes"):
        sign_tree_head(key, tree_size=1, root_hash=b"x", timestamp=AT)
    with pytest.raises(ValidationError, match="out of range"):
        sign_tree_head(key, tree_size=-1, root_hash=ROOT, timestamp=AT)


def test_key_from_pem_file_and_env(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    pem = private_key_to_pem(key)
    path = tmp_path / "audit.pem"
    path.write_bytes(pem)
    loaded = load_signing_key(path)
    assert key_id(loaded.public_key()) == key_id(key.public_key())
    from_env = load_signing_key_from_env(environ={"ARREARS_AUDIT_SIGNING_KEY": pem.decode()})
    assert key_id(from_env.public_key()) == key_id(key.public_key())
    one_line = pem.decode().replace("\n", "\\n")
    custom = load_signing_key_from_env("MY_KEY", environ={"MY_KEY": one_line})
    assert key_id(custom.public_key()) == key_id(key.public_key())


def test_unusable_keys_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_signing_key(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM"):
        load_signing_key(tmp_path / "junk.pem")
    ec_pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "ec.pem").write_bytes(ec_pem)
    with pytest.raises(ConfigurationError, match="not an Ed25519 key"):
        load_signing_key(tmp_path / "ec.pem")
    with pytest.raises(ConfigurationError, match="set ARREARS_AUDIT_SIGNING_KEY"):
        load_signing_key_from_env(environ={})
    with pytest.raises(ConfigurationError, match="not PEM"):
        load_public_key("nope")
