"""HubSpot (signature v3): `X-HubSpot-Signature-v3: <base64>` and `X-HubSpot-Request-Timestamp` (unix ms).

An HMAC-SHA256, keyed with the app's client secret, of `<method><URI><raw body><timestamp>`: the method is
`POST`, the URI is the source's configured `public_url` (the URL HubSpot calls, as set in the app, so it
works behind a proxy), with the characters HubSpot's docs list (`%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A
%2C %3B`) decoded. The timestamp must be within the tolerance both ways (HubSpot: refuse anything older
than 5 minutes). The older v1/v2 `X-HubSpot-Signature` carries no timestamp and is not accepted.
The body is a JSON array of up to 100 events. Event id: the `eventId` of a one-event batch; a batch's id is
a SHA-256 of source and body. Type: the `subscriptionType` the events share (`contact.creation`), else
`batch`. Occurred: the first event's `occurredAt` (ms).
Reference: HubSpot docs, "Validating requests from HubSpot" (v3), and hubspot-api-client's `Signature`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from receiver.verify.base import Headers, Verified
from receiver.verify.events import EventBatch
from receiver.verify.parsing import check_timestamp, hmac_digest, matching_secret, require_header, unix_header

_SIGNATURE = b"x-hubspot-signature-v3"
_TIMESTAMP = b"x-hubspot-request-timestamp"
# The percent-encodings HubSpot's docs say to decode in the request URI before signing.
_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip
_KEPT_HEADERS = (b"user-agent",)
_EVENTS = EventBatch(
    "HubSpot",
    id_key="eventId",
    type_key="subscriptionType",
    occurred_key="occurredAt",
    kept_headers=_KEPT_HEADERS,
    per_second=1000,
    lone_object=True,
)


def signed_uri(url: str) -> str:
    """The URI as HubSpot signs it: the listed percent-encodings decoded."""
    for encoded, plain in _DECODED.items():
        url = url.replace(encoded, plain).replace(encoded.lower(), plain)
    return url


@dataclass(frozen=True, slots=True)
class HubSpotScheme:
    public_url: str
    tolerance_s: int = 300
    provider: str = "hubspot"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        candidate = require_header(headers, _SIGNATURE).strip()
        timestamp = unix_header(headers, _TIMESTAMP, max_digits=14)
        signed = b"POST" + signed_uri(self.public_url).encode() + body + timestamp
        matched = matching_secret([base64.b64encode(hmac_digest("sha256", s, signed)) for s in secrets], [candidate])
        check_timestamp(int(timestamp) / 1000, now_s, self.tolerance_s)
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        return _EVENTS.describe(source, headers, body)
