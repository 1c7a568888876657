"""Compact JWS (RFC 7515) as providers sign their webhooks with it: ES256 (Plaid) and RS256 (Google OIDC).

Only what verification needs: split a token, read its header and claims, turn a JWK (RFC 7517) into a
public key and check the signature with it. Every parse failure is a `MalformedHeader`; a token whose `alg`
isn't the one the scheme expects is refused before any key is looked at (no `none`, no HS256 keyed with a
public key).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from receiver.errors import MalformedHeader

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
# A JWT in a header: a few hundred bytes (ES256) to ~1.5 KiB (Google's RS256 id tokens).
MAX_TOKEN_BYTES = 8192
_ES256_SIGNATURE_BYTES = 64


@dataclass(frozen=True, slots=True)
class Token:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def kid(self) -> str:
        kid = self.header.get("kid")
        if not isinstance(kid, str) or not 0 < len(kid) <= 256 or not kid.isprintable():
            raise MalformedHeader("the token has no key id")
        return kid


def parse_token(value: bytes, *, alg: str, name: str) -> Token:
    """A compact JWS whose header says `alg`; anything else is a `MalformedHeader` naming `name`."""
    if len(value) > MAX_TOKEN_BYTES:
        raise MalformedHeader(f"{name} is too long")
    parts = value.split(b".")
    if len(parts) != 3:
        raise MalformedHeader(f"{name} is not a JWT")
    header, claims = _json_part(parts[0], name), _json_part(parts[1], name)
    if header.get("alg") != alg:
        raise MalformedHeader(f"{name} is not signed with {alg}")
    return Token(header, claims, parts[0] + b"." + parts[1], b64url(parts[2], name=name))


def verify_signature(token: Token, key: PublicKey) -> bool:
    """Whether `key` signed the token (ES256 with an EC key, RS256 with an RSA key)."""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if len(token.signature) != _ES256_SIGNATURE_BYTES:
                return False
            r = int.from_bytes(token.signature[:32], "big")
            s = int.from_bytes(token.signature[32:], "big")
            key.verify(encode_dss_signature(r, s), token.signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(token.signature, token.signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def public_key_from_jwk(jwk: object) -> PublicKey:
    """The public key of an EC P-256 or RSA JWK; `ValueError` for anything else."""
    if not isinstance(jwk, dict):
        raise ValueError("a JWK must be an object")
    try:
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            x = int.from_bytes(b64url(str(jwk["x"]).encode(), name="x"), "big")
            y = int.from_bytes(b64url(str(jwk["y"]).encode(), name="y"), "big")
            return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        if jwk.get("kty") == "RSA":
            n = int.from_bytes(b64url(str(jwk["n"]).encode(), name="n"), "big")
            e = int.from_bytes(b64url(str(jwk["e"]).encode(), name="e"), "big")
            if n.bit_length() < 2048:
                raise ValueError("an RSA JWK must have at least 2048 bits")
            return rsa.RSAPublicNumbers(e, n).public_key()
    except (KeyError, MalformedHeader) as exc:
        raise ValueError(f"malformed JWK: {exc}") from None
    raise ValueError("a JWK must be EC P-256 or RSA")


def b64url(value: bytes, *, name: str) -> bytes:
    """Unpadded base64url (RFC 7515 section 2), strictly."""
    if not value.replace(b"-", b"").replace(b"_", b"").isalnum() or not value.isascii():
        raise MalformedHeader(f"{name} is not base64url")
    try:
        return base64.urlsafe_b64decode(value + b"=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise MalformedHeader(f"{name} is not base64url") from None


def _json_part(value: bytes, name: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(b64url(value, name=name))
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise MalformedHeader(f"{name} is not a JWT")
    return parsed
