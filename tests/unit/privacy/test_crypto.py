"""Field encryption under a key ring, rotation, and blind indexes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.errors import ConfigurationError, ValidationError
from arrears.privacy.crypto import BlindIndexKind, DecryptionError, KeyRing, normalise_for_index

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))
INDEX_KEY = bytes(range(64, 96))


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing({"a": KEY_A, "b": KEY_B}, active_key_id="b", index_key=INDEX_KEY)


def test_round_trip_and_token_shape(ring: KeyRing) -> None:
    token = ring.encrypt("张三 13800000001", context="debtor.phone:1")
    version, key_id, nonce, sealed = token.split(".")
    assert (version, key_id) == ("v1", "b")
    assert len(base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))) == 12
    assert (
        len(base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4)))
        == len("张三 13800000001".encode()) + 16
    )
    assert "138" not in token
    assert ring.decrypt(token, context="debtor.phone:1") == "张三 13800000001"
    assert ring.token_key_id(token) == "b"


def test_token_is_plain_aes_256_gcm_with_the_context_as_associated_data(ring: KeyRing) -> None:
    token = ring.encrypt("secret", context="debtor.name:9")
    _, _, nonce, sealed = token.split(".")
    raw_nonce = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
    raw_sealed = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    aad = b"arrears-field/v1\x00b\x00debtor.name:9"
    assert AESGCM(KEY_B).decrypt(raw_nonce, raw_sealed, aad) == b"secret"


def test_nonces_are_fresh(ring: KeyRing) -> None:
    assert ring.encrypt("x", context="c") != ring.encrypt("x", context="c")


def test_wrong_context_or_altered_token_fails(ring: KeyRing) -> None:
    token = ring.encrypt("secret", context="debtor.phone:1")
    with pytest.raises(DecryptionError, match="another field"):
        ring.decrypt(token, context="debtor.phone:2")
    head, last = token.rsplit(".", 1)
    altered = head + "." + ("A" if last[0] != "A" else "B") + last[1:]
    with pytest.raises(DecryptionError):
        ring.decrypt(altered, context="debtor.phone:1")
    # Relabelling the key id is caught too: the id is part of the associated data.
    relabelled = token.replace("v1.b.", "v1.a.", 1)
    with pytest.raises(DecryptionError):
        ring.decrypt(relabelled, context="debtor.phone:1")


@pytest.mark.parametrize(
    "bad", ["", "plain text", "v2.b.AAAA.AAAA", "v1.b.!!.AAAA", "v1.b.AAAA.AAAA", "v1.b.c.d.e"]
)
def test_malformed_tokens(ring: KeyRing, bad: str) -> None:
    with pytest.raises(DecryptionError) as caught:
        ring.decrypt(bad, context="c")
    assert caught.value.code == "decryption_failed"


def test_rotation(ring: KeyRing) -> None:
    old_ring = KeyRing({"a": KEY_A}, active_key_id="a", index_key=INDEX_KEY)
    old_token = old_ring.encrypt("13800000001", context="debtor.phone:5")
    assert not old_ring.needs_rotation(old_token)
    assert ring.needs_rotation(old_token)
    rotated = ring.rotate(old_token, context="debtor.phone:5")
    assert ring.token_key_id(rotated) == "b"
    assert not ring.needs_rotation(rotated)
    assert ring.decrypt(rotated, context="debtor.phone:5") == "13800000001"
    assert ring.rotate(rotated, context="debtor.phone:5") == rotated
    # A value under a key that has been removed cannot be read: a configuration problem, not bad data.
    with pytest.raises(ConfigurationError, match="not in the key ring"):
        old_ring.decrypt(rotated, context="debtor.phone:5")


def test_new_active_key_keeps_old_keys() -> None:
    first = KeyRing.generate("2024")
    token = first.encrypt("x", context="c")
    second = first.with_new_active_key("2025")
    assert second.key_ids == ("2024", "2025")
    assert second.active_key_id == "2025"
    assert second.decrypt(token, context="c") == "x"
    assert second.blind_index("a@b.cn", kind="email") == first.blind_index("a@b.cn", kind="email")
    with pytest.raises(ConfigurationError, match="already"):
        second.with_new_active_key("2024")


def test_key_file_and_environment(tmp_path: Path, ring: KeyRing) -> None:
    path = tmp_path / "keys.json"
    path.write_text(ring.to_json())
    token = ring.encrypt("v", context="c")
    for loaded in (
        KeyRing.from_file(path),
        KeyRing.from_env(environ={"ARREARS_FIELD_KEYS": ring.to_json()}),
        KeyRing.from_env("OTHER", environ={"OTHER": f"@{path}"}),
    ):
        assert loaded.key_ids == ("a", "b")
        assert loaded.active_key_id == "b"
        assert loaded.decrypt(token, context="c") == "v"
    assert "KEY" not in repr(ring) and base64.b64encode(KEY_A).decode() not in repr(ring)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"active": "a", "keys": {}, "index_key": "x"}, "non-empty 'keys'"),
        ({"keys": {"a": base64.b64encode(KEY_A).decode()}, "index_key": "x"}, "needs 'active'"),
        (
            {
                "active": "z",
                "keys": {"a": base64.b64encode(KEY_A).decode()},
                "index_key": base64.b64encode(INDEX_KEY).decode(),
            },
            "active key 'z'",
        ),
        ({"active": "a", "keys": {"a": base64.b64encode(b"short").decode()}, "index_key": "x"}, "32 bytes"),
        (
            {
                "active": "a.b",
                "keys": {"a.b": base64.b64encode(KEY_A).decode()},
                "index_key": base64.b64encode(INDEX_KEY).decode(),
            },
            "may use only",
        ),
        ({"active": "a", "keys": {"a": base64.b64encode(KEY_A).decode()}}, "index_key must be"),
    ],
)
def test_bad_key_rings(document: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        KeyRing.from_json(json.dumps(document))


def test_missing_key_sources(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="set ARREARS_FIELD_KEYS"):
        KeyRing.from_env(environ={})
    with pytest.raises(ConfigurationError, match="cannot read"):
        KeyRing.from_file(tmp_path / "none.json")
    with pytest.raises(ConfigurationError, match="not JSON"):
        KeyRing.from_json("{")


def _expected_index(kind: str, normalised: str) -> str:
    subkey = hmac.new(INDEX_KEY, b"arrears-blind-index/v1\x00" + kind.encode(), hashlib.sha256).digest()
    return hmac.new(subkey, normalised.encode(), hashlib.sha256).hexdigest()


def test_blind_indexes_normalise_per_kind(ring: KeyRing) -> None:
    phone = _expected_index("phone", "+8613800000001")
    assert ring.blind_index("13800000001", kind=BlindIndexKind.PHONE) == phone
    assert ring.blind_index(" 138 0000 0001 ", kind="phone") == phone
    assert ring.blind_index("+86 138-0000-0001", kind="phone") == phone
    national_id = _expected_index("national_id", "11010519491231002X")
    assert ring.blind_index("11010519491231002x", kind="national_id") == national_id
    email = _expected_index("email", "zhang.wei@example.com")
    assert ring.blind_index(" Zhang.Wei@Example.COM", kind="email") == email
    # The same text indexed as two kinds gives unrelated values.
    assert ring.blind_index("a@b.cn", kind="email") != ring.blind_index("a@b.cn", kind="national_id")


def test_blind_index_refuses_what_it_cannot_normalise(ring: KeyRing) -> None:
    with pytest.raises(ValidationError, match="could not read"):
        ring.blind_index("not a phone", kind="phone")
    with pytest.raises(ValidationError, match="empty"):
        ring.blind_index("  ", kind="email")
    with pytest.raises(ValueError, match="'name' is not a valid BlindIndexKind"):
        ring.blind_index("x", kind="name")


def test_blind_index_depends_on_the_index_key() -> None:
    other = KeyRing({"a": KEY_A}, active_key_id="a", index_key=KEY_B)
    mine = KeyRing({"a": KEY_A}, active_key_id="a", index_key=INDEX_KEY)
    assert other.blind_index("13800000001", kind="phone") != mine.blind_index("13800000001", kind="phone")


def test_normalise_for_index() -> None:
    assert normalise_for_index("(202) 456-1111", BlindIndexKind.PHONE, region="US") == "+12024561111"
    assert normalise_for_index(" e1234 5678 ", BlindIndexKind.NATIONAL_ID) == "E12345678"


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200), st.text(max_size=40))
def test_any_text_round_trips(plaintext: str, context: str) -> None:
    ring = KeyRing({"k": KEY_A}, active_key_id="k", index_key=INDEX_KEY)
    assert ring.decrypt(ring.encrypt(plaintext, context=context), context=context) == plaintext
