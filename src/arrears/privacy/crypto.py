"""Field encryption (AES-256-GCM under a key ring) and keyed blind indexes for exact-match search.

A personal field is stored as a self-describing token::

    v1.<key id>.<nonce, base64url>.<ciphertext and tag, base64url>

The key id says which key of the ring opens it, so keys can be rotated a batch at a time: new values are
written under the active key and :meth:`KeyRing.needs_rotation` finds the rest. The caller's
``context`` (for example ``"debtor.phone:1842"``: table, column and row) is bound as associated data,
so a token copied into another field or row does not decrypt.

Blind indexes are HMAC-SHA-256 of the normalised value under a separate index key (with one derived
sub-key per kind of value), so "find the debtor with this phone number" is an equality lookup that
reveals nothing to whoever reads the database.

Keys live in a JSON key file or an environment variable, never in the database::

    {"active": "2025-01", "keys": {"2024-07": "<base64 32 bytes>", "2025-01": "<base64 32 bytes>"},
     "index_key": "<base64 32 bytes>"}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import polars as pl
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from arrears.domain.identity import normalise_phone
from arrears.errors import ConfigurationError, ValidationError

__all__ = [
    "DEFAULT_KEYS_ENV",
    "BlindIndexKind",
    "DecryptionError",
    "KeyRing",
    "normalise_for_index",
]

DEFAULT_KEYS_ENV: Final = "ARREARS_FIELD_KEYS"
"""Environment variable holding the key ring JSON (or, with a leading ``@``, the path of a key file)."""

_TOKEN_VERSION: Final = "v1"  # noqa: S105 - a format tag, not a secret
_KEY_BYTES: Final = 32  # AES-256
_NONCE_BYTES: Final = 12  # the 96-bit nonce GCM is designed for (NIST SP 800-38D §8.2)
_KEY_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,40}")
_AAD_PREFIX: Final = b"arrears-field/v1\x00"
_INDEX_PREFIX: Final = b"arrears-blind-index/v1\x00"


class DecryptionError(ValidationError):
    """A token that is malformed, was altered, or belongs to another field or row."""

    code = "decryption_failed"


class BlindIndexKind(StrEnum):
    """What a blind index is over; each kind has its own normalisation and its own derived key."""

    PHONE = "phone"
    NATIONAL_ID = "national_id"
    EMAIL = "email"


def normalise_for_index(value: str, kind: BlindIndexKind, *, region: str = "CN") -> str:
    """The form a value is indexed in: phone → E.164, ID number → upper-case, email → lower-case.

    Whitespace around the value is ignored. A phone number that cannot be read raises
    :class:`ValidationError`, as does an empty value.
    """
    kind = BlindIndexKind(kind)
    text = value.strip()
    if not text:
        raise ValidationError(f"an empty {kind.value} cannot be indexed", field=kind.value)
    if kind is BlindIndexKind.PHONE:
        return normalise_phone(text, region)
    if kind is BlindIndexKind.NATIONAL_ID:
        return "".join(text.split()).upper()
    return text.lower()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _decode_key(text: object, where: str) -> bytes:
    if not isinstance(text, str):
        raise ConfigurationError(f"{where} must be a base64 string of {_KEY_BYTES} bytes", key=where)
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        try:
            key = _b64decode(text)
        except (binascii.Error, ValueError) as exc:
            raise ConfigurationError(f"{where} is not base64", key=where) from exc
    if len(key) != _KEY_BYTES:
        raise ConfigurationError(f"{where} must be {_KEY_BYTES} bytes, not {len(key)}", key=where)
    return key


class KeyRing:
    """Encryption keys by id, the active one, and the blind-index key.

    Build it with :meth:`from_file`, :meth:`from_env` or :meth:`from_mapping`; :meth:`generate` and
    :meth:`to_json` create a new key file and :meth:`with_new_active_key` adds a key for rotation.
    """

    __slots__ = ("_active_key_id", "_aead", "_index_key", "_index_subkeys", "_keys")

    def __init__(self, keys: Mapping[str, bytes], *, active_key_id: str, index_key: bytes) -> None:
        for key_id, key in keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise ConfigurationError(
                    f"key id {key_id!r} may use only letters, digits, '-' and '_' (at most 40)", key=key_id
                )
            if len(key) != _KEY_BYTES:
                raise ConfigurationError(f"key {key_id!r} must be {_KEY_BYTES} bytes", key=key_id)
        if active_key_id not in keys:
            raise ConfigurationError(
                f"the active key {active_key_id!r} is not in the key ring", key=active_key_id
            )
        if len(index_key) != _KEY_BYTES:
            raise ConfigurationError(f"the index key must be {_KEY_BYTES} bytes", key="index_key")
        self._keys = dict(keys)
        self._active_key_id = active_key_id
        self._index_key = index_key
        self._aead = {key_id: AESGCM(key) for key_id, key in self._keys.items()}
        # One sub-key per kind, so an index over phones can never be compared with one over IDs.
        self._index_subkeys = {
            kind: hmac.new(index_key, _INDEX_PREFIX + kind.value.encode(), hashlib.sha256).digest()
            for kind in BlindIndexKind
        }

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={sorted(self._keys)!r}, active_key_id={self._active_key_id!r})"

    # --- building ---

    @classmethod
    def generate(cls, key_id: str = "k1") -> KeyRing:
        """A new ring with one random encryption key and a random index key."""
        return cls(
            {key_id: secrets.token_bytes(_KEY_BYTES)},
            active_key_id=key_id,
            index_key=secrets.token_bytes(_KEY_BYTES),
        )

    def with_new_active_key(self, key_id: str) -> KeyRing:
        """This ring plus a new random key that becomes the active one (old keys stay to decrypt)."""
        if key_id in self._keys:
            raise ConfigurationError(f"key id {key_id!r} is already in the key ring", key=key_id)
        keys = {**self._keys, key_id: secrets.token_bytes(_KEY_BYTES)}
        return KeyRing(keys, active_key_id=key_id, index_key=self._index_key)

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any]) -> KeyRing:
        """A ring from the key file structure (see the module docstring)."""
        keys = document.get("keys")
        if not isinstance(keys, Mapping) or not keys:
            raise ConfigurationError("the key ring needs a non-empty 'keys' object", key="keys")
        active = document.get("active")
        if not isinstance(active, str):
            raise ConfigurationError(
                "the key ring needs 'active': the id of the key to encrypt with", key="active"
            )
        decoded = {str(key_id): _decode_key(value, f"keys.{key_id}") for key_id, value in keys.items()}
        index_key = _decode_key(document.get("index_key"), "index_key")
        return cls(decoded, active_key_id=active, index_key=index_key)

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "key ring") -> KeyRing:
        """A ring from key file JSON text."""
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ConfigurationError(f"the {source} is not JSON", source=source) from exc
        if not isinstance(document, Mapping):
            raise ConfigurationError(f"the {source} must be a JSON object", source=source)
        return cls.from_mapping(document)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KeyRing:
        """A ring from a key file (keep it readable by the service account only)."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the key file {file}: {exc.strerror}", source=str(file)
            ) from exc
        return cls.from_json(text, source=f"key file {file}")

    @classmethod
    def from_env(cls, name: str = DEFAULT_KEYS_ENV, *, environ: Mapping[str, str] | None = None) -> KeyRing:
        """A ring from an environment variable: the key ring JSON, or ``@/path/to/keys.json``."""
        env = os.environ if environ is None else environ
        value = env.get(name, "").strip()
        if not value:
            raise ConfigurationError(f"set {name} to the field-encryption key ring", variable=name)
        if value.startswith("@"):
            return cls.from_file(value[1:])
        return cls.from_json(value, source=f"${name}")

    def to_json(self) -> str:
        """The ring as key file JSON (secret: write it with mode 0600, never into the database)."""
        document = {
            "active": self._active_key_id,
            "keys": {
                key_id: base64.b64encode(key).decode("ascii") for key_id, key in sorted(self._keys.items())
            },
            "index_key": base64.b64encode(self._index_key).decode("ascii"),
        }
        return json.dumps(document, indent=2) + "\n"

    # --- reading ---

    @property
    def active_key_id(self) -> str:
        """The id of the key new values are encrypted with."""
        return self._active_key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id in the ring, sorted."""
        return tuple(sorted(self._keys))

    # --- encryption ---

    @staticmethod
    def _associated_data(key_id: str, context: str) -> bytes:
        return _AAD_PREFIX + key_id.encode("ascii") + b"\x00" + context.encode("utf-8")

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt ``plaintext`` under the active key, bound to ``context``; returns a token."""
        key_id = self._active_key_id
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead[key_id].encrypt(
            nonce, plaintext.encode("utf-8"), self._associated_data(key_id, context)
        )
        return f"{_TOKEN_VERSION}.{key_id}.{_b64encode(nonce)}.{_b64encode(sealed)}"

    @staticmethod
    def token_key_id(token: str) -> str:
        """The key id a token names; raises :class:`DecryptionError` for something that is not a token."""
        return _parse_token(token)[0]

    def decrypt(self, token: str, *, context: str) -> str:
        """The plaintext of a token written by :meth:`encrypt` with the same ``context``.

        Raises :class:`DecryptionError` when the token is malformed, altered, or bound to another
        context, and :class:`ConfigurationError` when its key is not in the ring.
        """
        key_id, nonce, sealed = _parse_token(token)
        aead = self._aead.get(key_id)
        if aead is None:
            raise ConfigurationError(
                f"key {key_id!r} is not in the key ring; load it to read this value", key=key_id
            )
        try:
            plaintext = aead.decrypt(nonce, sealed, self._associated_data(key_id, context))
        except InvalidTag as exc:
            raise DecryptionError(
                "the encrypted value was altered or belongs to another field", key=key_id
            ) from exc
        return plaintext.decode("utf-8")

    def encrypt_column(self, column: pl.Series, *, context: str) -> pl.Series:
        """:meth:`encrypt` over a whole column (nulls stay null), for bulk imports.

        One call to the operating system's random source gives every nonce, and the tokens are
        assembled by whole-column string operations, so only the cipher call runs per value.
        """
        key_id = self._active_key_id
        values = column.cast(pl.String)
        present = values.drop_nulls().to_list()
        count = len(present)
        if count == 0:
            return pl.Series(column.name, [None] * column.len(), dtype=pl.String)
        randomness = os.urandom(_NONCE_BYTES * count)
        nonces = [randomness[i * _NONCE_BYTES : (i + 1) * _NONCE_BYTES] for i in range(count)]
        encrypt = self._aead[key_id].encrypt
        aad = self._associated_data(key_id, context)
        sealed = [
            encrypt(nonce, text.encode("utf-8"), aad) for nonce, text in zip(nonces, present, strict=True)
        ]
        tokens = pl.select(
            pl.concat_str(
                pl.lit(f"{_TOKEN_VERSION}.{key_id}."),
                _b64_expr(pl.Series(nonces, dtype=pl.Binary)),
                pl.lit("."),
                _b64_expr(pl.Series(sealed, dtype=pl.Binary)),
            )
        ).to_series()
        if count == column.len():
            return tokens.alias(column.name)
        out: list[str | None] = [None] * column.len()
        for position, token in zip(values.is_not_null().arg_true().to_list(), tokens.to_list(), strict=True):
            out[position] = token
        return pl.Series(column.name, out, dtype=pl.String)

    def needs_rotation(self, token: str) -> bool:
        """Whether a token was written under a key other than the active one."""
        return self.token_key_id(token) != self._active_key_id

    def rotate(self, token: str, *, context: str) -> str:
        """The token re-encrypted under the active key (the same token if it already is)."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt(self.decrypt(token, context=context), context=context)

    # --- blind indexes ---

    def blind_index(self, value: str, *, kind: BlindIndexKind | str, region: str = "CN") -> str:
        """The hex HMAC-SHA-256 blind index of ``value`` after normalisation for ``kind``.

        Equal values give equal indexes (``"138 0000 0001"`` and ``"+8613800000001"`` alike); without
        the index key nothing can be learned from an index. Raises :class:`ValidationError` for a value
        that cannot be normalised (an unreadable phone number, an empty value).
        """
        index_kind = BlindIndexKind(kind)
        normalised = normalise_for_index(value, index_kind, region=region)
        return hmac.new(
            self._index_subkeys[index_kind], normalised.encode("utf-8"), hashlib.sha256
        ).hexdigest()

    def index_subkey(self, purpose: str) -> bytes:
        """The HMAC key of the blind index for ``purpose``.

        For a :class:`BlindIndexKind` value it is the key :meth:`blind_index` uses; other purposes (an
        address, a name) get their own key derived the same way, so indexes of different kinds never
        compare equal.
        """
        if purpose in self._index_subkeys:
            return self._index_subkeys[BlindIndexKind(purpose)]
        return hmac.new(self._index_key, _INDEX_PREFIX + purpose.encode(), hashlib.sha256).digest()

    def keyed_digest_column(self, normalised: pl.Series, *, purpose: str) -> pl.Series:
        """Hex HMAC-SHA-256 of already-normalised values under :meth:`index_subkey` (nulls stay null)."""
        key = self.index_subkey(purpose)
        # HMAC = H((K xor opad) || H((K xor ipad) || m)); the padded key states are hashed once here
        # and copied per value, which is what keeps a column of a million values fast.
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in key.ljust(64, b"\x00")))
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in key.ljust(64, b"\x00")))
        out: list[str | None] = []
        for value in normalised.cast(pl.String).to_list():
            if value is None:
                out.append(None)
                continue
            h = inner.copy()
            h.update(value.encode("utf-8"))
            o = outer.copy()
            o.update(h.digest())
            out.append(o.hexdigest())
        return pl.Series(normalised.name, out, dtype=pl.String)


def _b64_expr(series: pl.Series) -> pl.Expr:
    """Unpadded base64url of a binary column, as :func:`_b64encode` gives for one value."""
    return (
        pl.lit(series)
        .bin.encode("base64")
        .str.replace_all("+", "-", literal=True)
        .str.replace_all("/", "_", literal=True)
        .str.strip_chars_end("=")
    )


def _parse_token(token: object) -> tuple[str, bytes, bytes]:
    if not isinstance(token, str):
        raise DecryptionError("an encrypted value is text")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != _TOKEN_VERSION or not _KEY_ID.fullmatch(parts[1]):
        raise DecryptionError("not an encrypted value (expected v1.<key id>.<nonce>.<ciphertext>)")
    try:
        nonce, sealed = _b64decode(parts[2]), _b64decode(parts[3])
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("the encrypted value is not valid base64") from exc
    if len(nonce) != _NONCE_BYTES or len(sealed) < 16:
        raise DecryptionError("the encrypted value is truncated")
    return parts[1], nonce, sealed
