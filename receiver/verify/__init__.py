"""Signature schemes, one module per family, all behind `base.Scheme` (and, for handshakes, `HandshakeScheme`).

The schemes that verify with public keys (cryptography) or fetch them (httpx) are imported when first named:
a receiver serving none of them doesn't load either, about 16 MiB less per process (docs/performance.md).
"""

import importlib
from typing import TYPE_CHECKING, Any

from receiver.verify.adyen import AdyenScheme
from receiver.verify.base import (
    Delivery,
    Handshake,
    HandshakeScheme,
    Headers,
    Inbound,
    KeyedScheme,
    Sample,
    Scheme,
    Signing,
    Verified,
)
from receiver.verify.contentful import ContentfulScheme
from receiver.verify.github import GitHubScheme
from receiver.verify.gitlab import GitLabScheme
from receiver.verify.hmac import HmacScheme
from receiver.verify.hubspot import HubSpotScheme
from receiver.verify.linear import LinearScheme
from receiver.verify.mailgun import MailgunScheme
from receiver.verify.slack import SlackScheme
from receiver.verify.spec import Spec, SpecScheme
from receiver.verify.standard import StandardWebhooksScheme
from receiver.verify.stripe import StripeScheme
from receiver.verify.twilio import TwilioScheme
from receiver.verify.twitch import TwitchScheme

if TYPE_CHECKING:
    from receiver.verify.discord import DiscordScheme
    from receiver.verify.msgraph import MsGraphScheme
    from receiver.verify.paypal import PayPalScheme
    from receiver.verify.plaid import PlaidScheme
    from receiver.verify.pubsub import PubSubScheme
    from receiver.verify.sendgrid import SendGridScheme
    from receiver.verify.sns import SnsScheme
    from receiver.verify.telnyx import TelnyxScheme

_KEYED_MODULES = {
    "DiscordScheme": "receiver.verify.discord",
    "MsGraphScheme": "receiver.verify.msgraph",
    "PayPalScheme": "receiver.verify.paypal",
    "PlaidScheme": "receiver.verify.plaid",
    "PubSubScheme": "receiver.verify.pubsub",
    "SendGridScheme": "receiver.verify.sendgrid",
    "SnsScheme": "receiver.verify.sns",
    "TelnyxScheme": "receiver.verify.telnyx",
}


def __getattr__(name: str) -> Any:
    module = _KEYED_MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AdyenScheme",
    "ContentfulScheme",
    "Delivery",
    "DiscordScheme",
    "GitHubScheme",
    "GitLabScheme",
    "Handshake",
    "HandshakeScheme",
    "Headers",
    "HmacScheme",
    "HubSpotScheme",
    "Inbound",
    "KeyedScheme",
    "LinearScheme",
    "MailgunScheme",
    "MsGraphScheme",
    "PayPalScheme",
    "PlaidScheme",
    "PubSubScheme",
    "Sample",
    "Scheme",
    "SendGridScheme",
    "Signing",
    "SlackScheme",
    "SnsScheme",
    "Spec",
    "SpecScheme",
    "StandardWebhooksScheme",
    "StripeScheme",
    "TelnyxScheme",
    "TwilioScheme",
    "TwitchScheme",
    "Verified",
]
