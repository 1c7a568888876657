"""Which Pydantic model validates which provider's payload.

An unknown provider (a custom one) has no model: its payloads pass as plain JSON. The models name only
the fields the receiver reads and keep everything else (`extra="allow"`), so an event type or field the
models don't know is still accepted.
"""

from __future__ import annotations

from pydantic import BaseModel

from schemas.adyen import AdyenNotification
from schemas.airtable import AirtablePing
from schemas.anthropic import AnthropicEvent
from schemas.asana import AsanaEvents
from schemas.bitbucket import BitbucketEvent
from schemas.box import BoxEvent
from schemas.brex import BrexEvent
from schemas.buildkite import BuildkiteEvent
from schemas.calendly import CalendlyEvent
from schemas.circleci import CircleCIEvent
from schemas.cloudevents import CloudEvent
from schemas.coinbase import CoinbaseDelivery
from schemas.contentful import ContentfulEntity
from schemas.discord import DiscordPayload
from schemas.docusign import DocuSignEvent
from schemas.dropbox import DropboxNotification
from schemas.elevenlabs import ElevenLabsEvent
from schemas.frameio import FrameioEvent
from schemas.gitea import GiteaEvent
from schemas.github import GitHubEvent
from schemas.gitlab import GitLabEvent
from schemas.heroku import HerokuEvent
from schemas.hmac import HmacEvent
from schemas.hubspot import HubSpotBatch
from schemas.intercom import IntercomNotification
from schemas.jira import JiraEvent
from schemas.launchdarkly import LaunchDarklyEntry
from schemas.lemonsqueezy import LemonSqueezyEvent
from schemas.linear import LinearEvent
from schemas.mailgun import MailgunWebhook
from schemas.mandrill import MandrillDelivery
from schemas.meta import MetaNotification
from schemas.monday import MondayWebhook
from schemas.msgraph import MsGraphNotifications
from schemas.mux import MuxEvent
from schemas.notion import NotionEvent
from schemas.okta import OktaEventHook
from schemas.openai import OpenAIEvent
from schemas.paddle import PaddleNotification
from schemas.pagerduty import PagerDutyWebhook
from schemas.paypal import PayPalEvent
from schemas.persona import PersonaEvent
from schemas.plaid import PlaidWebhook
from schemas.postmark import PostmarkRecord
from schemas.pubsub import PubSubPush
from schemas.razorpay import RazorpayEvent
from schemas.replicate import ReplicatePrediction
from schemas.resend import ResendEvent
from schemas.retell import RetellEvent
from schemas.segment import SegmentMessage
from schemas.sendgrid import SendGridBatch
from schemas.sentry import SentryWebhook
from schemas.shopify import ShopifyResource
from schemas.slack import SlackEvent
from schemas.sns import SnsMessage
from schemas.square import SquareEvent
from schemas.standardwebhooks import StandardWebhookEvent
from schemas.stripe import StripeEvent
from schemas.teams import TeamsActivity
from schemas.telegram import TelegramUpdate
from schemas.telnyx import TelnyxEvent
from schemas.tiktok import TikTokEvent
from schemas.trello import TrelloWebhook
from schemas.twilio import TwilioCallback
from schemas.twitch import TwitchNotification
from schemas.twitter import TwitterActivity
from schemas.typeform import TypeformEvent
from schemas.vapi import VapiServerMessage
from schemas.vercel import VercelEvent
from schemas.vonage import VonageMessage
from schemas.webflow import WebflowEvent
from schemas.woocommerce import WooCommerceResource
from schemas.workos import WorkOSEvent
from schemas.xero import XeroWebhook
from schemas.zendesk import ZendeskEvent
from schemas.zoom import ZoomEvent

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
    "openai": OpenAIEvent,
    "anthropic": AnthropicEvent,
    "whatsapp": MetaNotification,
    "messenger": MetaNotification,
    "instagram": MetaNotification,
    "facebook": MetaNotification,
    "telegram": TelegramUpdate,
    "zoom": ZoomEvent,
    "teams": TeamsActivity,
    "twitter": TwitterActivity,
    "dropbox": DropboxNotification,
    "okta": OktaEventHook,
    "asana": AsanaEvents,
    "xero": XeroWebhook,
    "cloudevents": CloudEvent,
    "sentry": SentryWebhook,
    "vercel": VercelEvent,
    "bitbucket": BitbucketEvent,
    "gitea": GiteaEvent,
    "coinbase": CoinbaseDelivery,
    "razorpay": RazorpayEvent,
    "lemonsqueezy": LemonSqueezyEvent,
    "mux": MuxEvent,
    "notion": NotionEvent,
    "contentful": ContentfulEntity,
    "postmark": PostmarkRecord,
    "mandrill": MandrillDelivery,
    "segment": SegmentMessage,
    "tiktok": TikTokEvent,
    "frameio": FrameioEvent,
    "workos": WorkOSEvent,
    "persona": PersonaEvent,
    "elevenlabs": ElevenLabsEvent,
    "docusign": DocuSignEvent,
    "airtable": AirtablePing,
    "retell": RetellEvent,
    "telnyx": TelnyxEvent,
    "sns": SnsMessage,
    "paypal": PayPalEvent,
    "plaid": PlaidWebhook,
    "pubsub": PubSubPush,
    "zendesk": ZendeskEvent,
    "box": BoxEvent,
    "trello": TrelloWebhook,
    "vapi": VapiServerMessage,
    "resend": ResendEvent,
    "replicate": ReplicatePrediction,
    "woocommerce": WooCommerceResource,
    "circleci": CircleCIEvent,
    "launchdarkly": LaunchDarklyEntry,
    "heroku": HerokuEvent,
    "buildkite": BuildkiteEvent,
    "webflow": WebflowEvent,
    "msgraph": MsGraphNotifications,
    "adyen": AdyenNotification,
    "brex": BrexEvent,
    "vonage": VonageMessage,
    "monday": MondayWebhook,
}


def payload_model(provider: str) -> type[BaseModel] | None:
    """The payload model of a provider, or None where we don't know its shape."""
    return PAYLOAD_MODELS.get(provider)
