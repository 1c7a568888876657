"""PayPal (REST webhooks): an RSA signature with PayPal's certificate over the transmission and a CRC32.

As PayPal's "Integrate webhooks" guide (verifying messages locally) and its Python SDK
(`paypalrestsdk.notifications.WebhookEvent._get_expected_sig`) build it, the string signed is
`<PAYPAL-TRANSMISSION-ID>|<PAYPAL-TRANSMISSION-TIME>|<webhook id>|<CRC32 of the raw body, unsigned
decimal>`, signed SHA256withRSA (`PAYPAL-AUTH-ALGO`), base64 in `PAYPAL-TRANSMISSION-SIG`. The
certificate comes from `PAYPAL-CERT-URL`, which must be https on PayPal's API hosts (live or sandbox),
checked before it is fetched; certificates are cached by URL.

The "secret" of a PayPal source is the webhook id shown in the developer dashboard (it is in the signed
string, so a message for another webhook fails); several are accepted. The transmission time (RFC 3339)
must be within the tolerance both ways: each retry is a new transmission with its own time and signature.
Body: event id `id` (`WH-…`, kept across retries), type `event_type` (`PAYMENT.CAPTURE.COMPLETED`),
occurred `create_time`.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from receiver.errors import MalformedHeader, SignatureError
from receiver.verify.base import Headers, Verified
from receiver.verify.events import from_rfc3339, json_object, kept_headers, required_event_id, text
from receiver.verify.keys import HostAllowlist, KeyCache, KeyFetcher, load_certificate_key
from receiver.verify.parsing import check_timestamp, decode_base64, matching_key, parse_rfc3339, require_header

# PayPal's REST API hosts, live and sandbox, old and "-m" names (PayPal docs, "REST API: get started").
PAYPAL_HOSTS = HostAllowlist(re.compile(r"api(-m)?\.(sandbox\.)?paypal\.com"))
_TRANSMISSION_ID = b"paypal-transmission-id"
_TRANSMISSION_TIME = b"paypal-transmission-time"
_TRANSMISSION_SIG = b"paypal-transmission-sig"
_CERT_URL = b"paypal-cert-url"
_AUTH_ALGO = b"paypal-auth-algo"
_WEBHOOK_ID = re.compile(rb"[A-Za-z0-9]{1,50}")
_KEPT_HEADERS = (b"paypal-transmission-id", b"user-agent")


@dataclass(frozen=True, slots=True)
class PayPalScheme:
    """Args:
    tolerance_s: the window of `PAYPAL-TRANSMISSION-TIME`.
    fetcher: fetches certificates from PayPal's hosts (tests inject one for a local server).
    """

    tolerance_s: int = 300
    provider: str = "paypal"
    fetcher: KeyFetcher = field(default_factory=lambda: KeyFetcher(PAYPAL_HOSTS))
    keys: KeyCache[str, rsa.RSAPublicKey] = field(default_factory=KeyCache, repr=False, compare=False)

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` unless the secret looks like a PayPal webhook id."""
        if not _WEBHOOK_ID.fullmatch(secret):
            raise ValueError("a PayPal source's secret must be the webhook id (letters and digits)")

    async def load_keys(self, headers: Headers, body: bytes, secrets: Sequence[bytes]) -> None:
        await load_certificate_key(
            self.fetcher, self.keys, _cert_url(headers), named_in="PAYPAL-CERT-URL", provider="PayPal"
        )

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        transmission_id = require_header(headers, _TRANSMISSION_ID).strip()
        transmission_time = require_header(headers, _TRANSMISSION_TIME).strip()
        signature = decode_base64(require_header(headers, _TRANSMISSION_SIG).strip(), name="PAYPAL-TRANSMISSION-SIG")
        algorithm = require_header(headers, _AUTH_ALGO).strip()
        if algorithm.lower() != b"sha256withrsa":
            raise MalformedHeader("PAYPAL-AUTH-ALGO must be SHA256withRSA")
        sent_at = parse_rfc3339(transmission_time, name="PAYPAL-TRANSMISSION-TIME")
        key = self.keys.peek(_cert_url(headers))
        if key is None:
            raise SignatureError("no certificate for PAYPAL-CERT-URL")
        crc = str(zlib.crc32(body)).encode()

        def check(webhook_id: bytes) -> None:
            signed = b"|".join((transmission_id, transmission_time, webhook_id, crc))
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())

        matched = matching_key(secrets, check)
        check_timestamp(sent_at.timestamp(), now_s, self.tolerance_s)
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        found = required_event_id(payload.get("id"), "a PayPal event must have an id")
        return Verified(
            id=found,
            type=text(payload.get("event_type")),
            payload_json=body,
            occurred_at=from_rfc3339(payload.get("create_time")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )


def _cert_url(headers: Headers) -> str:
    value = require_header(headers, _CERT_URL).strip()
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedHeader("PAYPAL-CERT-URL is not ASCII") from None
