"""Amazon SNS (HTTP/S subscriptions): an RSA signature of selected message fields, with AWS's certificate.

As the SNS developer guide, "Verifying the signatures of Amazon SNS messages", describes it:
- the body is a JSON document (sent as `text/plain`); `SignatureVersion` 1 signs with SHA1withRSA,
  2 with SHA256withRSA; `Signature` is base64;
- the string signed is `<name>\\n<value>\\n` for, in this order, `Message`, `MessageId`, `Subject` (when
  present), `Timestamp`, `TopicArn`, `Type` for a notification, and `Message`, `MessageId`, `SubscribeURL`,
  `Timestamp`, `Token`, `TopicArn`, `Type` for a (un)subscription confirmation;
- the certificate comes from `SigningCertURL`, which must be https on `sns.<region>.amazonaws.com` (or
  `.amazonaws.com.cn`), checked before it is fetched; certificates are cached by URL;
- a message from an unexpected `TopicArn` is refused: anyone can create a topic, so the signature alone
  proves only that AWS sent it. The "secret" of an SNS source is the topic ARN it accepts (several, comma
  separated); the position counted is the matching ARN's.

A `SubscriptionConfirmation` is answered as a handshake after the receiver has itself visited the
`SubscribeURL` (same host rules): only a message AWS signed for a configured topic gets that far, so the
endpoint confirms exactly the subscriptions its operator asked for, with no manual step, and a failed visit
is a 503 that makes SNS send the confirmation again. An `UnsubscribeConfirmation` is acknowledged and not
acted on (visiting its URL would subscribe again). Notifications are published: event id `MessageId` (kept
by SNS on a retry), type `Notification` unless a `type`/`eventType` message attribute says otherwise,
occurred `Timestamp`. SNS signs no delivery time (a retry keeps the original `Timestamp`), so there is no
window: a replay is a duplicate for the consumers. Raw message delivery is unsigned and refused.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from receiver.errors import BadRequest, MalformedHeader, MissingHeader, SignatureError
from receiver.verify.base import Handshake, Headers, Verified
from receiver.verify.events import dig, from_rfc3339, kept_headers, parse_json_object, required_event_id, text
from receiver.verify.keys import HostAllowlist, KeyCache, KeyFetcher, load_certificate_key
from receiver.verify.parsing import decode_base64

# SNS's regional endpoints, commercial and China partitions (AWS General Reference, "Amazon SNS endpoints").
SNS_HOSTS = HostAllowlist(re.compile(r"sns\.[a-z0-9-]{1,32}\.amazonaws\.com(\.cn)?"))
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_CONFIRMATIONS = ("SubscriptionConfirmation", "UnsubscribeConfirmation")
_DIGESTS = {"1": hashes.SHA1, "2": hashes.SHA256}
_TOPIC_ARN = re.compile(rb"arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}")
_KEPT_HEADERS = (b"x-amz-sns-subscription-arn", b"user-agent")


@dataclass(frozen=True, slots=True)
class SnsScheme:
    """Args:
    fetcher: fetches certificates and visits SubscribeURLs on SNS's hosts (tests inject a local server).
    """

    provider: str = "sns"
    fetcher: KeyFetcher = field(default_factory=lambda: KeyFetcher(SNS_HOSTS))
    keys: KeyCache[str, rsa.RSAPublicKey] = field(default_factory=KeyCache, repr=False, compare=False)

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` unless the secret is an SNS topic ARN."""
        if not _TOPIC_ARN.fullmatch(secret):
            raise ValueError("an SNS source's secret must be a topic ARN (arn:aws:sns:<region>:<account>:<topic>)")

    async def load_keys(self, headers: Headers, body: bytes, secrets: Sequence[bytes]) -> None:
        url = _string(_message(body), "SigningCertURL")
        await load_certificate_key(self.fetcher, self.keys, url, named_in="SigningCertURL", provider="SNS")

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        message = _message(body)
        kind = _string(message, "Type")
        digest = _DIGESTS.get(_string(message, "SignatureVersion"))
        if digest is None:
            raise MalformedHeader("SignatureVersion must be 1 or 2")
        signature = decode_base64(_string(message, "Signature").encode(), name="Signature")
        key = self.keys.peek(_string(message, "SigningCertURL"))
        if key is None:
            raise SignatureError("no certificate for SigningCertURL")
        names = _CONFIRMATION_FIELDS if kind in _CONFIRMATIONS else _NOTIFICATION_FIELDS
        missing = [name for name in names if name != "Subject" and not isinstance(message.get(name), str)]
        if missing:
            raise MissingHeader(f"the SNS message has no {', '.join(missing)}")
        # Subject is signed only when the message has one.
        signed = "".join(f"{name}\n{message[name]}\n" for name in names if isinstance(message.get(name), str))
        try:
            key.verify(signature, signed.encode(), padding.PKCS1v15(), digest())
        except InvalidSignature:
            raise SignatureError("signature does not match") from None
        topic = _string(message, "TopicArn").encode()
        matched = -1
        for position, secret in enumerate(secrets):
            if hmac.compare_digest(secret, topic) and matched < 0:
                matched = position
        if matched < 0:
            raise SignatureError("the message is from a topic this source does not accept")
        return matched

    def handshake(self, headers: Headers, body: bytes) -> Handshake | None:
        message = _message(body)
        kind = message.get("Type")
        if kind == "SubscriptionConfirmation":
            url = self.fetcher.allowlist.check(_string(message, "SubscribeURL"))
            return Handshake(b'{"status":"confirmed"}', follow_up=lambda: self._confirm(url))
        if kind == "UnsubscribeConfirmation":
            return Handshake(b'{"status":"unsubscribed"}')
        return None

    async def _confirm(self, url: str) -> None:
        await self.fetcher.get(url)

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        message = _message(body)
        found = required_event_id(message.get("MessageId"), "an SNS message must have a MessageId")
        kind = ""
        attributes = message.get("MessageAttributes")
        for name in ("eventType", "type"):
            kind = kind or text(dig(attributes, name, "Value"))
        return Verified(
            id=found,
            type=kind or text(message.get("Type")),
            payload_json=body,
            occurred_at=from_rfc3339(message.get("Timestamp")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )


def _message(body: bytes) -> dict[str, Any]:
    """The SNS JSON document (SNS sends it as `text/plain`, so the content type is not checked); the body is
    what is signed, so one that is no JSON object is a malformed signature, not a bad request."""
    try:
        return parse_json_object(body)
    except BadRequest:
        raise MalformedHeader("the SNS body is not a JSON message") from None


def _string(message: dict[str, Any], name: str) -> str:
    value = message.get(name)
    if not isinstance(value, str) or not value:
        raise MissingHeader(f"the SNS message has no {name}")
    return value
