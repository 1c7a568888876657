"""The built-in providers, and the signature scheme each one is verified with.

Every provider has a default source of its own name (docs/contract.md, "Configuration"); `sources.py` adds the
secrets, the topic and, for the generic `hmac` scheme and declared specs, the source's own conventions.
A provider is either code (`receiver/verify/<family>.py`) or a spec (`receiver/specs/<name>.toml`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from receiver import verify
from receiver.specs import load_specs
from receiver.verify import (
    AdyenScheme,
    ContentfulScheme,
    GitHubScheme,
    GitLabScheme,
    HmacScheme,
    HubSpotScheme,
    LinearScheme,
    MailgunScheme,
    Scheme,
    SlackScheme,
    SpecScheme,
    StandardWebhooksScheme,
    StripeScheme,
    TwilioScheme,
    TwitchScheme,
)
from receiver.verify.spec import Spec

# The providers whose scheme is code (receiver/verify/); the rest are specs (receiver/specs/*.toml).
CODED_PROVIDERS = (
    "hmac",
    "github",
    "stripe",
    "slack",
    "standardwebhooks",
    "svix",
    "clerk",
    "twilio",
    "discord",
    "twitch",
    "gitlab",
    "hubspot",
    "linear",
    "sendgrid",
    "mailgun",
    "openai",
    "anthropic",
    "telnyx",
    "sns",
    "paypal",
    "plaid",
    "pubsub",
    "resend",
    "replicate",
    "msgraph",
    "adyen",
    "brex",
    "contentful",
)
SPECS: dict[str, Spec] = load_specs()
# Every provider has a default source of its own name (docs/contract.md, "Configuration").
BUILT_IN_PROVIDERS: tuple[str, ...] = (*CODED_PROVIDERS, *sorted(SPECS))
# Schemes that sign the URL the provider calls, so they need the source's public URL.
URL_SIGNING_PROVIDERS = frozenset(
    {"twilio", "hubspot", "contentful", *(n for n, spec in SPECS.items() if spec.signs_url)}
)

# Providers that send Standard Webhooks (or Svix's, the same under `svix-*` names), by where the type is.
STANDARD_WEBHOOKS: dict[str, tuple[str, ...]] = {
    "standardwebhooks": ("type",),
    "svix": ("type",),
    "clerk": ("type",),
    # OpenAI: "Webhooks" guide and the openai SDK's `webhooks.verify_signature` (Standard Webhooks).
    "openai": ("type",),
    # Anthropic: the `type` of a webhook is always "event"; what happened is `data.type`.
    "anthropic": ("data", "type"),
    # Resend: Svix (svix-* headers), type in the body ("Webhooks: verify requests").
    "resend": ("type",),
    # Replicate: Standard Webhooks; the body is the prediction, whose `status` says what happened
    # ("Webhooks: verify webhooks").
    "replicate": ("status",),
    # Brex: Standard Webhooks under webhook-* names, the secret as Brex's API returns it (bare base64),
    # the type in `event_type` (Brex developer docs, "Webhooks": verifying webhooks).
    "brex": ("event_type",),
}

# Schemes whose only setting is the replay window (a name: a scheme `receiver.verify` imports when first named).
_TIMED: dict[str, Callable[..., Scheme] | str] = {
    "stripe": StripeScheme,
    "slack": SlackScheme,
    "discord": "DiscordScheme",
    "twitch": TwitchScheme,
    "linear": LinearScheme,
    "sendgrid": "SendGridScheme",
    "mailgun": MailgunScheme,
    "telnyx": "TelnyxScheme",
    "paypal": "PayPalScheme",
    "plaid": "PlaidScheme",
}
# Schemes of providers that sign no time.
_UNTIMED: dict[str, Callable[[], Scheme] | str] = {
    "msgraph": "MsGraphScheme",
    "adyen": AdyenScheme,
    "github": GitHubScheme,
    "gitlab": GitLabScheme,
    # Google's token carries its own expiry; SNS signs no delivery time.
    "pubsub": "PubSubScheme",
    "sns": "SnsScheme",
}


def _scheme_class(entry: Callable[..., Scheme] | str) -> Callable[..., Scheme]:
    return cast("Callable[..., Scheme]", getattr(verify, entry)) if isinstance(entry, str) else entry


def scheme_for(provider: str, *, tolerance_s: int, public_url: str = "") -> Scheme:
    """The scheme of a built-in provider with its default conventions (`hmac`: the seed article's)."""
    if provider == "hmac":
        return HmacScheme(tolerance_s=tolerance_s)
    if provider in STANDARD_WEBHOOKS:
        return StandardWebhooksScheme(tolerance_s=tolerance_s, provider=provider, type_path=STANDARD_WEBHOOKS[provider])
    if provider == "twilio":
        return TwilioScheme(public_url=public_url)
    if provider == "hubspot":
        return HubSpotScheme(public_url=public_url, tolerance_s=tolerance_s)
    if provider == "contentful":
        return ContentfulScheme(public_url=public_url, tolerance_s=tolerance_s)
    if provider in _UNTIMED:
        return _scheme_class(_UNTIMED[provider])()
    if provider in SPECS:
        return SpecScheme(SPECS[provider], tolerance_s=tolerance_s, public_url=public_url)
    return _scheme_class(_TIMED[provider])(tolerance_s=tolerance_s)
