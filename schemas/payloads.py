"""Which Pydantic model validates which provider's payload.

An unknown provider (a custom one) has no model: its payloads pass as plain JSON. The models name only
the fields the receiver reads and keep everything else (`extra="allow"`), so an event type or field the
models don't know is still accepted.
"""

from __future__ import annotations

from pydantic import BaseModel

from schemas.calendly import CalendlyEvent
from schemas.discord import DiscordPayload
from schemas.github import GitHubEvent
from schemas.gitlab import GitLabEvent
from schemas.hmac import HmacEvent
from schemas.hubspot import HubSpotBatch
from schemas.intercom import IntercomNotification
from schemas.jira import JiraEvent
from schemas.linear import LinearEvent
from schemas.mailgun import MailgunWebhook
from schemas.paddle import PaddleNotification
from schemas.pagerduty import PagerDutyWebhook
from schemas.sendgrid import SendGridBatch
from schemas.shopify import ShopifyResource
from schemas.slack import SlackEvent
from schemas.square import SquareEvent
from schemas.standardwebhooks import StandardWebhookEvent
from schemas.stripe import StripeEvent
from schemas.twilio import TwilioCallback
from schemas.twitch import TwitchNotification
from schemas.typeform import TypeformEvent

PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    "github": GitHubEvent,
    "hmac": HmacEvent,
    "stripe": StripeEvent,
    "slack": SlackEvent,
    "standardwebhooks": StandardWebhookEvent,
    "svix": StandardWebhookEvent,
    "clerk": StandardWebhookEvent,
    "shopify": ShopifyResource,
    "twilio": TwilioCallback,
    "paddle": PaddleNotification,
    "discord": DiscordPayload,
    "twitch": TwitchNotification,
    "gitlab": GitLabEvent,
    "hubspot": HubSpotBatch,
    "square": SquareEvent,
    "linear": LinearEvent,
    "pagerduty": PagerDutyWebhook,
    "sendgrid": SendGridBatch,
    "mailgun": MailgunWebhook,
    "typeform": TypeformEvent,
    "calendly": CalendlyEvent,
    "intercom": IntercomNotification,
    "jira": JiraEvent,
}


def payload_model(provider: str) -> type[BaseModel] | None:
    """The payload model of a provider, or None where we don't know its shape."""
    return PAYLOAD_MODELS.get(provider)
