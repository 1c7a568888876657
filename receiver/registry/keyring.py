"""Master keys: the registry's secrets sealed at rest with AES-256-GCM (`cryptography`).

`WEBHOOK_MASTER_KEYS` holds the keys, comma-separated, or `WEBHOOK_MASTER_KEYS_FILE` names a file of them, one
a line; each key is 32 random bytes in base64 (`openssl rand -base64 32`). The first key seals, every key
opens: to rotate, put a new key first, run `webhooks sources reencrypt`, then drop the old one.

A sealed secret reads `v1.<key id>.<nonce, ciphertext and tag in base64url>`. The key id (the first 8 hex
digits of the key's SHA-256) picks the key that opens it and says nothing about the key. The source's id is
the associated data: a sealed secret copied onto another source's record does not open there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from receiver.errors import ConfigError, SealError
from receiver.settings import ReceiverSettings

KEYS_ENV = "WEBHOOK_MASTER_KEYS"
KEYS_FILE_ENV = "WEBHOOK_MASTER_KEYS_FILE"
_VERSION = "v1"
_KEY_BYTES = 32
# AES-GCM's standard nonce, random per seal: safe for far more seals than a registry ever makes (2^32 per key).
_NONCE_BYTES = 12


def key_id(key: bytes) -> str:
    """The id a sealed secret names its key by: not the key, and no way back to it."""
    return hashlib.sha256(key).hexdigest()[:8]


class Keyring:
    """Seals and opens the registry's secrets.

    Args:
        keys: the master keys, the one that seals first; at least one, each 32 bytes.
    """

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ConfigError(f"{KEYS_ENV}: no master key")
        # Here rather than at the top: cryptography costs a receiver ~7 MiB, and only the registry needs it.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._sealing = key_id(keys[0])
        self._ciphers = {key_id(key): AESGCM(key) for key in keys}

    @property
    def sealing_key_id(self) -> str:
        return self._sealing

    def seal(self, secret: bytes, source: str) -> str:
        """The secret encrypted and authenticated under the first key, bound to `source`."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._sealing].encrypt(nonce, secret, source.encode())
        return f"{_VERSION}.{self._sealing}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, source: str) -> bytes:
        """The secret `seal` sealed for `source`; a `SealError` (never the secret) when it does not open."""
        version, _, rest = sealed.partition(".")
        kid, _, data = rest.partition(".")
        cipher = self._ciphers.get(kid)
        if version != _VERSION or cipher is None:
            raise SealError(f"sealed with master key {kid or '?'}, which is not configured")
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.urlsafe_b64decode(data.encode())
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], source.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise SealError(
                f"a secret sealed with master key {kid} does not open: altered, or another source's"
            ) from None

    def sealed_with_current(self, sealed: str) -> bool:
        """Whether a sealed secret is under the sealing key already (`reencrypt` leaves those alone)."""
        return sealed.split(".", 2)[1:2] == [self._sealing]


def load_keyring(settings: ReceiverSettings) -> Keyring | None:
    """The keyring `WEBHOOK_MASTER_KEYS` or `WEBHOOK_MASTER_KEYS_FILE` holds; None when neither is set (no
    registry). A bad key is a `ConfigError` naming the variable and the key's position, never the key."""
    if settings.master_keys is not None:
        return parse_keys(settings.master_keys.get_secret_value(), KEYS_ENV)
    path = settings.master_keys_file
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{KEYS_FILE_ENV} {path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{KEYS_FILE_ENV} {path}: not UTF-8") from None
    return parse_keys(text, f"{KEYS_FILE_ENV} {path}")


def parse_keys(text: str, where: str) -> Keyring:
    """Keys separated by commas or new lines, each 32 bytes in base64 (standard or URL-safe alphabet)."""
    parts = [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
    if not parts:
        raise ConfigError(f"{where}: holds no key")
    keys = []
    for position, part in enumerate(parts):
        try:
            key = base64.b64decode(part.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{where}: key {position} is not base64") from None
        if len(key) != _KEY_BYTES:
            raise ConfigError(f"{where}: key {position} is {len(key)} bytes, not {_KEY_BYTES}")
        keys.append(key)
    return Keyring(keys)
