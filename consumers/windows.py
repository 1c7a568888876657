"""How long each provider's handled events are remembered: its documented redelivery window, with its source.

A `done` mark has to outlive every redelivery of its event: the provider's automatic retries, the resends an
operator can start from the provider's dashboard, and our own (records handled but not committed yet when a
worker stopped, read again when it comes back). So a provider's default is the longest window its docs give,
and never under `MIN_REMEMBER_S`, which covers our own. A provider without a documented window keeps
`CONSUMER_DONE_TTL_S` (7 days). `CONSUMER_DONE_TTLS` overrides any of them (`stripe=604800,shopify=86400`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

HOUR_S = 3600
DAY_S = 24 * HOUR_S
# Our own redeliveries: a worker that handled events but was stopped (or lost Redis, or Kafka) before it
# committed them reads them again when it comes back; a day covers an outage someone is paged for.
MIN_REMEMBER_S = DAY_S


@dataclass(frozen=True, slots=True)
class Window:
    """A provider's documented redelivery window.

    Attributes:
        redelivery_s: the longest time after the first attempt that the provider may send the event again.
        what: what the provider does in that time, in a few words.
        source: where the provider documents it.
    """

    redelivery_s: int
    what: str
    source: str

    @property
    def remember_s(self) -> int:
        """The default time a handled event of this provider is remembered."""
        return max(self.redelivery_s, MIN_REMEMBER_S)


_SVIX = Window(
    27 * HOUR_S + 35 * 60 + 5,
    "automatic retries 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after each failure: 27 h 35 min in all",
    "https://docs.svix.com/retries",
)

# Providers whose docs give a redelivery window; the others keep CONSUMER_DONE_TTL_S.
WINDOWS: Mapping[str, Window] = {
    "stripe": Window(
        30 * DAY_S,
        "automatic retries for up to 3 days (live mode); events can be resent for 30 days",
        "https://docs.stripe.com/webhooks (automatic retries); https://docs.stripe.com/cli/events/resend",
    ),
    "github": Window(
        3 * DAY_S,
        "no automatic retries; deliveries of the past 3 days can be redelivered by hand",
        "https://docs.github.com/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks",
    ),
    "shopify": Window(
        4 * HOUR_S,
        "8 retries over 4 hours (since 2024-09-10)",
        "https://shopify.dev/changelog/updates-to-webhook-retry-mechanism",
    ),
    "slack": Window(
        5 * 60 + 60,
        "3 retries: at once, after 1 minute, after 5 minutes",
        "https://docs.slack.dev/apis/events-api/ (failure conditions and retries)",
    ),
    "svix": _SVIX,
    "clerk": _SVIX,  # Clerk sends its webhooks through Svix
}


@dataclass(frozen=True, slots=True)
class RememberWindows:
    """How long a handled event is remembered, per provider, in seconds.

    Attributes:
        default_s: the window of a provider with neither a documented window nor an override.
        by_provider: the windows of the other providers.
    """

    default_s: int
    by_provider: Mapping[str, int]

    @classmethod
    def build(cls, default_s: int, overrides: Mapping[str, int], *, documented: bool = True) -> RememberWindows:
        """The documented windows (unless `documented` is False), then the operator's `overrides` over them.

        `documented` is False when `CONSUMER_DONE_TTL_S` was set on purpose: it then applies to every provider
        without an override, as it did before windows per provider.
        """
        windows = {name: window.remember_s for name, window in WINDOWS.items()} if documented else {}
        return cls(default_s, windows | dict(overrides))

    def of(self, provider: str) -> int:
        """The window of a provider."""
        return self.by_provider.get(provider, self.default_s)
