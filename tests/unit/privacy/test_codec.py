"""The personal-data codecs: encryption round trip, blind indexes, refusal without keys, bootstrap rule."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from arrears import bootstrap
from arrears.config import Settings
from arrears.errors import ConfigurationError
from arrears.privacy.crypto import DecryptionError, KeyRing
from arrears.store import personal
from arrears.store.personal import EncryptingCodec, PersonalKind, PlainCodec, RefusingCodec


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate("k1")


def test_round_trip_single_and_column(ring: KeyRing) -> None:
    codec = EncryptingCodec(ring)
    token = codec.seal(PersonalKind.PHONE, "+8613800000001")
    assert token.startswith("v1.k1.") and "13800000001" not in token
    assert codec.unseal(PersonalKind.PHONE, token) == "+8613800000001"
    column = codec.seal_column(PersonalKind.NAME, pl.Series("n", ["张伟", None, "Zhang Wei"]))
    assert column[1] is None
    assert [codec.unseal(PersonalKind.NAME, t) for t in (column[0], column[2])] == ["张伟", "Zhang Wei"]


def test_a_token_does_not_open_as_another_kind(ring: KeyRing) -> None:
    codec = EncryptingCodec(ring)
    token = codec.seal(PersonalKind.PHONE, "+8613800000001")
    with pytest.raises(DecryptionError):
        codec.unseal(PersonalKind.EMAIL, token)


def test_blind_index_normalises_and_matches_the_column_form(ring: KeyRing) -> None:
    codec = EncryptingCodec(ring)
    one = codec.lookup_key(PersonalKind.PHONE, "138 0000 0001")
    assert one == ring.blind_index("+8613800000001", kind="phone")
    column = codec.lookup_key_column(
        PersonalKind.PHONE, pl.Series(["+8613800000001", "13800000001", "+44 20 7946 0958", None])
    )
    assert column.to_list()[:2] == [one, one]
    assert column[2] == ring.blind_index("+442079460958", kind="phone")
    assert column[3] is None
    assert codec.lookup_key(PersonalKind.NATIONAL_ID, "11010519491231002x") == ring.blind_index(
        "11010519491231002X", kind="national_id"
    )
    assert codec.lookup_key(PersonalKind.EMAIL, " Z@Example.com") == ring.blind_index(
        "z@example.com", kind="email"
    )
    # Another kind never shares an index with a phone of the same text.
    assert codec.lookup_key(PersonalKind.ADDRESS, "+8613800000001") != one


def test_plain_codec_uses_the_same_normalisation() -> None:
    assert PlainCodec().lookup_key(PersonalKind.PHONE, "138-0000-0001") == "+8613800000001"


def test_refusing_codec_refuses_and_lets_empty_columns_through() -> None:
    codec = RefusingCodec()
    with pytest.raises(ConfigurationError, match="arrears privacy keygen"):
        codec.seal(PersonalKind.NAME, "张伟")
    with pytest.raises(ConfigurationError):
        codec.unseal(PersonalKind.NAME, "x")
    empty = pl.Series([None, None], dtype=pl.String)
    assert codec.seal_column(PersonalKind.NAME, empty).to_list() == [None, None]


def test_bootstrap_rule(ring: KeyRing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings() reads the environment: a developer's exported plaintext switch must not change the rule.
    monkeypatch.delenv("ARREARS_ALLOW_PLAINTEXT_PERSONAL_DATA", raising=False)
    before = personal.codec()
    try:
        keys = tmp_path / "keys.json"
        keys.write_text(ring.to_json(), encoding="utf-8")
        assert isinstance(bootstrap.install_personal_codec(Settings(field_keys_file=keys)), EncryptingCodec)
        assert isinstance(
            bootstrap.install_personal_codec(Settings(field_keys=f"@{keys}")),
            EncryptingCodec,  # type: ignore[arg-type]
        )
        assert isinstance(
            bootstrap.install_personal_codec(Settings(allow_plaintext_personal_data=True)), PlainCodec
        )
        assert isinstance(bootstrap.install_personal_codec(Settings()), RefusingCodec)
        assert isinstance(personal.codec(), RefusingCodec)
    finally:
        personal.set_codec(before)


def test_open_engine_installs_the_codec_for_the_command_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("ARREARS_FIELD_KEYS", raising=False)
    monkeypatch.delenv("ARREARS_FIELD_KEYS_FILE", raising=False)
    monkeypatch.delenv("ARREARS_ALLOW_PLAINTEXT_PERSONAL_DATA", raising=False)
    before = personal.codec()
    with bootstrap.open_engine(check_schema=False):
        assert isinstance(personal.codec(), RefusingCodec)
    assert personal.codec() is before
    monkeypatch.setenv("ARREARS_FIELD_KEYS_FILE", str(tmp_path / "missing.json"))
    with (
        pytest.raises(ConfigurationError, match="cannot read the key file"),
        bootstrap.open_engine(check_schema=False),
    ):
        pass
    assert personal.codec() is before
