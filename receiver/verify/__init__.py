"""Signature schemes, one module per family, all behind `base.Scheme` (and, for handshakes, `HandshakeScheme`)."""

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
from receiver.verify.discord import DiscordScheme
from receiver.verify.github import GitHubScheme
from receiver.verify.gitlab import GitLabScheme
from receiver.verify.hmac import HmacScheme
from receiver.verify.hubspot import HubSpotScheme
from receiver.verify.linear import LinearScheme
from receiver.verify.mailgun import MailgunScheme
from receiver.verify.msgraph import MsGraphScheme
from receiver.verify.paypal import PayPalScheme
from receiver.verify.plaid import PlaidScheme
from receiver.verify.pubsub import PubSubScheme
from receiver.verify.sendgrid import SendGridScheme
from receiver.verify.slack import SlackScheme
from receiver.verify.sns import SnsScheme
from receiver.verify.spec import Spec, SpecScheme
from receiver.verify.standard import StandardWebhooksScheme
from receiver.verify.stripe import StripeScheme
from receiver.verify.telnyx import TelnyxScheme
from receiver.verify.twilio import TwilioScheme
from receiver.verify.twitch import TwitchScheme

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
