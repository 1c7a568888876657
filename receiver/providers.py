"""The built-in providers, and the signature scheme each one is verified with.

Every provider has a default source of its own name (docs/contract.md, "Configuration"); `sources.py` adds the
secrets, the topic and, for the generic `hmac` scheme, the source's own conventions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from receiver.verify import (
    CalendlyScheme,
    DiscordScheme,
    GitHubScheme,
    GitLabScheme,
    HmacScheme,
    HubSpotScheme,
    LinearScheme,
    MailgunScheme,
    PaddleScheme,
    PagerDutyScheme,
    Scheme,
    SendGridScheme,
    ShopifyScheme,
    SlackScheme,
    SquareScheme,
    StandardWebhooksScheme,
    StripeScheme,
    TwilioScheme,
    TwitchScheme,
    TypeformScheme,
    WebSubScheme,
)

Provider = Literal[
    "hmac",
    "github",
    "stripe",
    "slack",
    "standardwebhooks",
    "svix",
    "clerk",
    "shopify",
    "twilio",
    "paddle",
    "discord",
    "twitch",
    "gitlab",
    "hubspot",
    "square",
    "linear",
    "pagerduty",
    "sendgrid",
    "mailgun",
    "typeform",
    "calendly",
    "intercom",
    "jira",
]
# Every provider has a default source of its own name (docs/contract.md, "Configuration").
BUILT_IN_PROVIDERS: tuple[Provider, ...] = get_args(Provider)
# Schemes that sign the URL the provider calls, so they need the source's public URL.
URL_SIGNING_PROVIDERS = frozenset({"twilio", "square", "hubspot"})

# Schemes whose only setting is the replay window.
_TIMED: dict[str, Callable[..., Scheme]] = {
    "stripe": StripeScheme,
    "slack": SlackScheme,
    "paddle": PaddleScheme,
    "discord": DiscordScheme,
    "twitch": TwitchScheme,
    "linear": LinearScheme,
    "sendgrid": SendGridScheme,
    "mailgun": MailgunScheme,
    "calendly": CalendlyScheme,
}
# Schemes of providers that sign no time.
_UNTIMED: dict[str, Callable[[], Scheme]] = {
    "github": GitHubScheme,
    "shopify": ShopifyScheme,
    "gitlab": GitLabScheme,
    "pagerduty": PagerDutyScheme,
    "typeform": TypeformScheme,
}


def scheme_for(provider: Provider, *, tolerance_s: int, public_url: str = "") -> Scheme:
    """The scheme of a built-in provider with its default conventions (`hmac`: the seed article's)."""
    if provider == "hmac":
        return HmacScheme(tolerance_s=tolerance_s)
    if provider in ("standardwebhooks", "svix", "clerk"):
        return StandardWebhooksScheme(tolerance_s=tolerance_s, provider=provider)
    if provider in ("intercom", "jira"):
        return WebSubScheme(provider=provider)
    if provider == "twilio":
        return TwilioScheme(public_url=public_url)
    if provider == "square":
        return SquareScheme(public_url=public_url)
    if provider == "hubspot":
        return HubSpotScheme(public_url=public_url, tolerance_s=tolerance_s)
    if provider in _UNTIMED:
        return _UNTIMED[provider]()
    return _TIMED[provider](tolerance_s=tolerance_s)
